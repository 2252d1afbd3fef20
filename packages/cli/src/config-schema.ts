/**
 * The JSON Schema of the CLI's configuration file, published as `earnbook.schema.json` so that an
 * editor completes and checks a file that names it (`"$schema": "./node_modules/@earnbook/cli/earnbook.schema.json"`).
 * The CLI validates every file against it with ajv first (errors name the field), then checks
 * what a schema cannot say (IANA zones, currency codes the ledger accepts, amounts at its scale).
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { ENTITY_ID_PATTERN } from './text-flags.js';

const ENTITY_PATTERN = ENTITY_ID_PATTERN.source;
const CURRENCY_PATTERN = '^[A-Z0-9]{2,12}$';

const perCurrency = (description: string, value: Record<string, unknown>) => ({
  type: 'object',
  description,
  propertyNames: { pattern: CURRENCY_PATTERN },
  maxProperties: 1000,
  additionalProperties: value,
});

const perEntity = (description: string, value: Record<string, unknown>) => ({
  type: 'object',
  description,
  propertyNames: { pattern: ENTITY_PATTERN },
  maxProperties: 16,
  additionalProperties: value,
});

/** The schema (JSON Schema 2020-12). `earnbook.schema.json` is this object, written out. */
export const CONFIG_JSON_SCHEMA = Object.freeze({
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'urn:earnbook:cli-config',
  title: 'earnbook CLI configuration',
  description: 'Configuration of the earnbook batch CLI (--config or EARNBOOK_CONFIG). Secrets never go here: name the environment variable that holds each one.',
  type: 'object',
  additionalProperties: false,
  properties: {
    $schema: { type: 'string', description: 'Where editors find this schema, e.g. ./node_modules/@earnbook/cli/earnbook.schema.json' },
    $comment: { type: 'string', description: 'Free text, ignored.' },
    entities: {
      type: 'array',
      description: 'The legal entities and the IANA zone of their accounting days (fixed once the books exist).',
      minItems: 1,
      maxItems: 16,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'timeZone'],
        properties: {
          id: { type: 'string', pattern: ENTITY_PATTERN, description: 'Entity id, e.g. defi or lending.' },
          timeZone: { type: 'string', minLength: 1, maxLength: 64, description: 'IANA time zone, e.g. Europe/Berlin or UTC.', examples: ['Europe/Berlin', 'UTC'] },
        },
      },
    },
    toleranceUnits: perCurrency('Per currency: reconciliation tolerance of recomputed figures, in units of the 18th decimal (an integer string).', { type: 'string', pattern: '^[0-9]{1,13}$' }),
    settlementThresholds: perEntity(
      'Per entity, per currency: the minimum settlement; a smaller outstanding balance is carried to the next day.',
      perCurrency('Per currency: minimum settlement amount (a decimal string).', { type: 'string', pattern: '^[0-9]{1,24}(\\.[0-9]{1,18})?$' }),
    ),
    wallets: perEntity('Per entity, per currency: the partner wallet for settlement transfers.', perCurrency('Per currency: wallet address.', { type: 'string', minLength: 1, maxLength: 200 })),
    earnApi: perEntity('Per entity: the Earn API connection used by reconcile --fetch.', { $ref: '#/$defs/earnApiEntity' }),
    database: { type: 'string', minLength: 1, maxLength: 4000, description: 'Default books: a SQLite file path or a postgres:// URL (its password is never printed).' },
  },
  $defs: {
    earnApiEntity: {
      type: 'object',
      additionalProperties: false,
      required: ['baseUrl', 'tokenUrl', 'clientId', 'clientSecretEnv'],
      properties: {
        baseUrl: { type: 'string', minLength: 1, maxLength: 2000, pattern: '^https?://', description: 'The Earn API base URL (HTTPS; plain HTTP only on loopback).' },
        tokenUrl: { type: 'string', minLength: 1, maxLength: 2000, pattern: '^https?://', description: 'The OAuth2 token endpoint.' },
        clientId: { type: 'string', minLength: 1, maxLength: 500, description: "The entity's OAuth2 client id." },
        clientSecretEnv: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]{0,127}$', description: 'Name of the environment variable that holds the client secret.' },
        clientAuthMethod: { enum: ['client_secret_basic', 'client_secret_post'], description: 'How the client authenticates at the token endpoint (default client_secret_basic).' },
        scope: { type: 'string', minLength: 1, maxLength: 1000 },
        timeoutMs: { type: 'integer', minimum: 1, description: 'Time limit of one API attempt, in milliseconds (not of report downloads).' },
        attemptsMax: { type: 'integer', minimum: 1, description: 'Attempts per call.' },
        retryTotalMsMax: { type: 'integer', minimum: 1, description: 'Time budget of one API call over all its attempts, in milliseconds (not of report downloads).' },
        // The maxima are earn-client's: a value beyond them is refused here, naming the field.
        downloadTimeoutMs: { type: 'integer', minimum: 1, maximum: 3_600_000, description: 'Time limit of one report download attempt, whole body included, in milliseconds (default 600000).' },
        downloadIdleTimeoutMs: { type: 'integer', minimum: 1, maximum: 3_600_000, description: 'A report download attempt fails when nothing arrives for this long, in milliseconds (default 60000).' },
        downloadRetryTotalMsMax: { type: 'integer', minimum: 1, maximum: 14_400_000, description: 'Time budget of one report download over all its attempts, in milliseconds (default 1800000).' },
      },
    },
  },
});

/** The file name under which the schema is published in the package. */
export const CONFIG_SCHEMA_FILE_NAME = 'earnbook.schema.json';

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  // Compiled on first use: commands that read no configuration never pay for it.
  compiled ??= new Ajv2020({ strict: true, allErrors: false }).compile(CONFIG_JSON_SCHEMA);
  return compiled;
}

/** One schema violation: the field as a dotted path with indexes (`entities[0].timeZone`). */
export interface ConfigSchemaError {
  readonly field: string;
  /** `unknown` for a field the schema does not know; `invalid` otherwise. */
  readonly kind: 'unknown' | 'invalid';
  readonly reason: string;
}

/**
 * A configuration key as a field name: as it is when it is a plain name, else quoted as JSON, so
 * that an empty key, one with spaces or punctuation, or one that is not well-formed text (a lone
 * surrogate, escaped) is still named readably.
 */
export function configKeyName(key: string): string {
  return /^[A-Za-z0-9_$-]+$/.test(key) ? key : JSON.stringify(key);
}

function fieldOf(instancePath: string): string {
  let field = '';
  for (const part of instancePath.split('/').slice(1)) {
    const name = configKeyName(part.replaceAll('~1', '/').replaceAll('~0', '~'));
    field += /^\d+$/.test(name) ? `[${name}]` : field === '' ? name : `.${name}`;
  }
  return field;
}

function describeError(error: ErrorObject): ConfigSchemaError {
  const base = fieldOf(error.instancePath);
  const join = (name: string) => (base === '' ? configKeyName(name) : `${base}.${configKeyName(name)}`);
  if (error.keyword === 'additionalProperties') return { field: join(String(error.params['additionalProperty'])), kind: 'unknown', reason: 'is not a known field' };
  if (error.keyword === 'required') return { field: join(String(error.params['missingProperty'])), kind: 'invalid', reason: 'is required' };
  // A bad key is reported first by the check on its name, which carries the key.
  if (error.propertyName !== undefined) return { field: join(error.propertyName), kind: 'invalid', reason: 'is not a valid key here (an entity id or a currency code)' };
  if (error.keyword === 'propertyNames') return { field: join(String(error.params['propertyName'])), kind: 'invalid', reason: 'is not a valid key here (an entity id or a currency code)' };
  return { field: base === '' ? '(root)' : base, kind: 'invalid', reason: error.message ?? 'is invalid' };
}

/** Validates a parsed configuration against {@link CONFIG_JSON_SCHEMA}: the first violation, or undefined. */
export function configSchemaError(json: unknown): ConfigSchemaError | undefined {
  const validate = validator();
  if (validate(json)) return undefined;
  const errors = validate.errors ?? [];
  // A bad key is reported by propertyNames and again by the pattern of its name: keep the first.
  const first = errors[0];
  return first === undefined ? { field: '(root)', kind: 'invalid', reason: 'is invalid' } : describeError(first);
}
