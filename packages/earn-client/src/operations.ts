import { earnApiContract } from './contract/openapi.js';
import type { ContractSchemaName } from './contract/openapi.js';

type Paths = typeof earnApiContract.paths;
type ApiPath = Exclude<keyof Paths, '/oauth/token'>;
type MethodOf<P extends ApiPath> = Extract<keyof Paths[P], 'get' | 'post'>;

/** Every API operation of the contract, as `METHOD /path/template`. */
export type ApiOperation = { [P in ApiPath]: `${Uppercase<MethodOf<P>>} ${P}` }[ApiPath];

type SchemaOfRef<R> = R extends { readonly $ref: `#/components/schemas/${infer N}` } ? (N extends ContractSchemaName ? N : never) : never;
type SuccessSchema<Responses> = Responses extends { readonly '200': { readonly content: { readonly 'application/json': { readonly schema: infer S } } } }
  ? SchemaOfRef<S>
  : Responses extends { readonly '201': { readonly content: { readonly 'application/json': { readonly schema: infer S } } } }
    ? SchemaOfRef<S>
    : never;

type OperationParts<O extends ApiOperation> = O extends `${infer M} ${infer P}` ? [Lowercase<M>, P] : never;

/** The component schema name of the success response of `O`, read from the contract's type. */
export type ResponseSchemaOf<O extends ApiOperation> =
  OperationParts<O> extends [infer M, infer P]
    ? P extends ApiPath
      ? M extends keyof Paths[P]
        ? Paths[P][M] extends { readonly responses: infer R }
          ? SuccessSchema<R>
          : never
        : never
      : never
    : never;

/** Where an operation's success response is described in the contract, read at runtime. */
export interface OperationSpec {
  /** `GET`, `POST`. */
  readonly method: 'GET' | 'POST';
  /** The path template, e.g. `/v1/accounts/{accountId}`. */
  readonly pathTemplate: string;
  /** The success status the contract names (200 or 201). */
  readonly successStatus: number;
  /** The component schema of the success body. */
  readonly schemaName: ContractSchemaName;
}

function buildOperationTable(): ReadonlyMap<string, OperationSpec> {
  const table = new Map<string, OperationSpec>();
  for (const [pathTemplate, item] of Object.entries(earnApiContract.paths)) {
    if (pathTemplate === '/oauth/token') continue;
    for (const method of ['get', 'post'] as const) {
      const operation = (item as Record<string, unknown>)[method] as { responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }> } | undefined;
      if (operation === undefined) continue;
      for (const status of ['200', '201']) {
        const ref = operation.responses[status]?.content?.['application/json']?.schema?.$ref;
        if (ref === undefined) continue;
        const schemaName = ref.replace('#/components/schemas/', '') as ContractSchemaName;
        if (!(schemaName in earnApiContract.components.schemas)) throw new Error(`contract: ${ref} does not exist`);
        const upper = method === 'get' ? 'GET' : 'POST';
        table.set(`${upper} ${pathTemplate}`, { method: upper, pathTemplate, successStatus: Number(status), schemaName });
      }
    }
  }
  return table;
}

/** The success response schema of every API operation, derived from {@link earnApiContract}. */
export const OPERATIONS: ReadonlyMap<string, OperationSpec> = buildOperationTable();

/** The {@link OperationSpec} of `operation`; throws if the contract does not define it. */
export function operationSpec(operation: ApiOperation): OperationSpec {
  const spec = OPERATIONS.get(operation);
  if (spec === undefined) throw new Error(`contract: no success response for ${operation}`);
  return spec;
}
