import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { EarnApiError, describeValue, redact } from '../errors.js';
import { ASSUMPTION_KEYWORD, OPAQUE_ID_PATTERN, earnApiContract } from './openapi.js';
import { findTextDefect } from './well-formed.js';
import { checkJsonKeys } from './json-keys.js';
import { isInstantText } from './instant.js';
import type { ContractSchemaName } from './openapi.js';
import type { ContractTypes, DailyReport } from './types.js';

/**
 * One ajv instance for the whole contract. Strict mode stays on so that a typo in a schema
 * keyword fails at compile time instead of silently validating nothing.
 */
const ajv = new Ajv2020({ strict: true, allErrors: false, allowUnionTypes: true });
addFormats.default(ajv, ['date', 'uri']);
// `uuid` names what an id is; its `pattern` (the canonical lowercase spelling, CANONICAL_UUID_PATTERN)
// checks it. ajv-formats' `uuid` took upper case and `urn:uuid:` too: a second regular expression
// per id that would refuse nothing more.
ajv.addFormat('uuid', true);
// `date-time` is the rule the ledger parses instants with, not ajv-formats' looser one (which took
// any white space as the separator and leap seconds the ledger cannot hold): one rule, two sides.
ajv.addFormat('date-time', { type: 'string', validate: isInstantText });
ajv.addKeyword(ASSUMPTION_KEYWORD);

const validators = new Map<ContractSchemaName, ValidateFunction>();

function validatorFor(name: ContractSchemaName): ValidateFunction {
  let validate = validators.get(name);
  if (validate === undefined) {
    validate = ajv.compile(earnApiContract.components.schemas[name]);
    validators.set(name, validate);
  }
  return validate;
}

/** Options of {@link validateContract}. */
export interface ValidateContractOptions {
  /** The operation the value came from, for the error message (e.g. `GET /v1/products`). */
  readonly operation?: string;
  /** Strings that must never appear in an error message (client secret, access token). */
  readonly secrets?: readonly string[];
  /** Whether the offending value is quoted in the message; off for token responses. */
  readonly quoteValue?: boolean;
  /**
   * What is validated: a provider `response` (code `invalid_response`, the default) or the
   * caller's `input` (code `invalid_input`).
   */
  readonly kind?: 'response' | 'input';
  /** HTTP status and request id to attach to the error. */
  readonly status?: number;
  /** The provider's request id. */
  readonly requestId?: string;
  /**
   * The JSON text `value` was parsed from, if any: without a `\u` escape in it, the check that
   * every string is well-formed is skipped (no string can then hold a lone surrogate or NUL).
   */
  readonly sourceText?: string;
}

/**
 * Validates `value` against the component schema `name` of {@link earnApiContract} and returns it
 * typed. Unknown extra fields are kept; a missing required field or a wrong type throws an
 * {@link EarnApiError} with code `invalid_response` whose `path` is the JSON path of the offending
 * value (e.g. `transactions[3].amount`) and whose `field` is its name (`amount`).
 *
 * @example
 * ```ts
 * const booking = validateContract('Booking', await response.json());
 * ```
 */
export function validateContract<N extends ContractSchemaName>(name: N, value: unknown, options: ValidateContractOptions = {}): ContractTypes[N] {
  const validate = validatorFor(name);
  if (!validate(value)) throw contractError(name, value, validate.errors?.[0], options);
  const defect = findTextDefect(value, options.sourceText);
  if (defect !== undefined) {
    const segments = [...defect.segments];
    throw contractErrorAt(name, { segments, problem: `must be well-formed text, not hold ${defect.defect}`, offending: valueAt(value, segments), missing: false }, options);
  }
  return value as ContractTypes[N];
}

/**
 * Validates a parsed daily report (e.g. read from a file) against the contract, without the HTTP
 * client. Throws {@link EarnApiError} `invalid_response` naming the JSON path and field.
 *
 * @example
 * ```ts
 * const report = validateDailyReport(JSON.parse(await readFile(path, 'utf8')));
 * const interest = report.transactions.filter((entry) => entry.type === 'Interest');
 * ```
 */
export function validateDailyReport(json: unknown): DailyReport {
  return validateContract('DailyReport', json, { operation: 'daily report' });
}

/**
 * Parses and validates the text of a daily report. Invalid JSON is an `invalid_response` too, and
 * so is a key written twice in one object (`JSON.parse` would keep the last value silently:
 * `"amount":"0.1","amount":"5"` read as 5) or a `__proto__` key, naming the path and the key.
 * Prefer it to {@link validateDailyReport} on text: a parsed value no longer shows a repeated key.
 *
 * @example
 * ```ts
 * const report = parseDailyReport(await readFile(path, 'utf8'));
 * ```
 */
export function parseDailyReport(text: string): DailyReport {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new EarnApiError('invalid_response', 'daily report: the text is not valid JSON', { path: '(root)', cause: error });
  }
  checkJsonKeys(text, json, { operation: 'daily report' });
  return validateContract('DailyReport', json, { operation: 'daily report', sourceText: text });
}

/**
 * What an opaque id failing {@link OPAQUE_ID_PATTERN} does wrong (ajv's own message would quote
 * the whole pattern).
 */
const OTHER_UUID_SPELLING_PROBLEM = 'spells a UUID otherwise than lowercase xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (upper case, urn:uuid: or braces: the same id written two ways would be two ids)';

function isOpaqueIdFailure(error: ErrorObject | undefined): boolean {
  return error?.keyword === 'pattern' && (error.params as { pattern?: unknown }).pattern === OPAQUE_ID_PATTERN;
}

function contractError(name: ContractSchemaName, value: unknown, error: ErrorObject | undefined, options: ValidateContractOptions): EarnApiError {
  const segments = pointerSegments(error?.instancePath ?? '');
  const problem = isOpaqueIdFailure(error) ? OTHER_UUID_SPELLING_PROBLEM : (error?.message ?? 'does not match');
  if (error?.keyword === 'required') {
    const property = (error.params as { missingProperty?: unknown }).missingProperty;
    if (typeof property === 'string') return contractErrorAt(name, { segments: [...segments, property], problem: 'is required but missing', offending: undefined, missing: true }, options);
  }
  return contractErrorAt(name, { segments, problem, offending: valueAt(value, segments), missing: false }, options);
}

function contractErrorAt(name: ContractSchemaName, at: { segments: readonly string[]; problem: string; offending: unknown; missing: boolean }, options: ValidateContractOptions): EarnApiError {
  const { segments, problem, offending, missing } = at;
  const path = renderPath(segments);
  const field = lastFieldName(segments);
  const quoted = options.quoteValue === false || missing ? '' : `, got ${describeValue(offending, options.secrets ?? [])}`;
  const where = options.operation ?? name;
  const subject = options.kind === 'input' ? 'input' : 'response';
  const message = redact(`${where}: ${subject} does not match the contract schema ${name} at ${path}${field === undefined ? '' : ` (field "${field}")`}: ${problem}${quoted}`, options.secrets ?? []);
  return new EarnApiError(options.kind === 'input' ? 'invalid_input' : 'invalid_response', message, {
    path,
    ...(field === undefined ? {} : { field }),
    ...(options.operation === undefined ? {} : { operation: options.operation }),
    ...(options.status === undefined ? {} : { status: options.status }),
    ...(options.requestId === undefined ? {} : { requestId: options.requestId }),
  });
}

function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'));
}

function isIndex(segment: string): boolean {
  return /^(0|[1-9]\d*)$/.test(segment);
}

/** Renders JSON-pointer segments as `transactions[3].amount`; the root is `(root)`. */
function renderPath(segments: readonly string[]): string {
  if (segments.length === 0) return '(root)';
  let path = '';
  for (const segment of segments) {
    if (isIndex(segment)) path += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(segment)) path += path === '' ? segment : `.${segment}`;
    else path += `[${JSON.stringify(segment)}]`;
  }
  return path;
}

function lastFieldName(segments: readonly string[]): string | undefined {
  for (let index = segments.length - 1; index >= 0; index -= 1) {
    const segment = segments[index];
    if (segment !== undefined && !isIndex(segment)) return segment;
  }
  return undefined;
}

function valueAt(root: unknown, segments: readonly string[]): unknown {
  let current = root;
  for (const segment of segments) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}
