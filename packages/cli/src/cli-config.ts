/**
 * The CLI's configuration file (JSON): the legal entities and their zones, per-currency
 * tolerances, settlement thresholds and wallets, and per entity where to fetch reports from.
 * Secrets never go in the file: it names the environment variable that holds each client secret.
 * Every field is checked when the file is read, and a bad one is a `CliError` naming it; the
 * result is frozen.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { LedgerError, assertTimeZone, describeValue, parseAmount, parseCurrency, textDefect } from '@earnbook/ledger';
import type { LedgerEntity } from '@earnbook/ledger';
import { TOLERANCE_UNITS_MAX } from '@earnbook/reconcile';
import { EarnApiError, resolveEntityConfig } from '@earnbook/earn-client';
import type { EntityConfigInput } from '@earnbook/earn-client';
import { readFileAtMost } from './bounded-read.js';
import { CliError } from './cli-error.js';
import { jsonSyntaxErrorPosition } from './json-syntax-position.js';
import { ENTITY_ID_PATTERN } from './text-flags.js';
import { CONFIG_SCHEMA_FILE_NAME, configKeyName, configSchemaError } from './config-schema.js';

/** Bytes of a configuration file read at most. */
export const CONFIG_BYTES_MAX = 1024 * 1024;
/** Entities one configuration may list (the ledger keeps at most 16). */
export const CONFIG_ENTITIES_MAX = 16;
/** Currencies one per-currency table may list. */
export const CONFIG_CURRENCIES_MAX = 1_000;

/** Where and how the CLI fetches one entity's reports (`earnbook reconcile --fetch`). */
export interface EarnApiEntityConfig {
  /** The Earn API base URL (HTTPS; plain HTTP only on loopback). */
  readonly baseUrl: string;
  /** The OAuth2 token endpoint. */
  readonly tokenUrl: string;
  /** The entity's OAuth2 client id. */
  readonly clientId: string;
  /** Name of the environment variable holding the client secret, e.g. `EARNBOOK_DEFI_CLIENT_SECRET`. */
  readonly clientSecretEnv: string;
  /** `client_secret_basic` (default) or `client_secret_post`. */
  readonly clientAuthMethod?: 'client_secret_basic' | 'client_secret_post';
  /** The token request's `scope`, if the provider needs one. */
  readonly scope?: string;
  /** Time limit of one API attempt (default the client's, 10 000). */
  readonly timeoutMs?: number;
  /** Attempts per call (default the client's, 5). */
  readonly attemptsMax?: number;
  /** Time budget of one call over all its attempts (default the client's, 30 000). */
  readonly retryTotalMsMax?: number;
  /** Time limit of one report download attempt, whole body included (default the client's, 600 000). */
  readonly downloadTimeoutMs?: number;
  /** A report download fails when nothing arrives for this long (default the client's, 60 000). */
  readonly downloadIdleTimeoutMs?: number;
  /** Time budget of one report download over all its attempts (default the client's, 1 800 000). */
  readonly downloadRetryTotalMsMax?: number;
}

/** A checked, frozen configuration. */
export interface CliConfig {
  /** The entities; `undefined` when the file gives none (they are then read from the database). */
  readonly entities: readonly LedgerEntity[] | undefined;
  /** Per currency: reconciliation tolerance in units of the 18th decimal (integer string). */
  readonly toleranceUnits: Readonly<Record<string, string>>;
  /** Per entity, per currency: minimum settlement amount (decimal string). */
  readonly settlementThresholds: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Per entity, per currency: the partner's wallet address for settlement transfers. */
  readonly wallets: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Per entity: the Earn API connection used by `--fetch`. */
  readonly earnApi: Readonly<Record<string, EarnApiEntityConfig>>;
  /** Default database (a SQLite path or a `postgres://` URL) when `--database` is not given. */
  readonly database: string | undefined;
}

/** The configuration used when no file is given: everything empty, entities from the database. */
export const EMPTY_CONFIG: CliConfig = Object.freeze({
  entities: undefined,
  toleranceUnits: Object.freeze({}),
  settlementThresholds: Object.freeze({}),
  wallets: Object.freeze({}),
  earnApi: Object.freeze({}),
  database: undefined,
});

const TOP_LEVEL_KEYS = new Set(['$schema', '$comment', 'entities', 'toleranceUnits', 'settlementThresholds', 'wallets', 'earnApi', 'database']);
const EARN_API_KEYS = new Set(['baseUrl', 'tokenUrl', 'clientId', 'clientSecretEnv', 'clientAuthMethod', 'scope', 'timeoutMs', 'attemptsMax', 'retryTotalMsMax', 'downloadTimeoutMs', 'downloadIdleTimeoutMs', 'downloadRetryTotalMsMax']);
const SECRET_KEYS = new Set(['clientSecret', 'secret', 'password', 'token', 'accessToken']);
const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

function invalid(field: string, reason: string, value?: unknown): never {
  const shown = value === undefined ? '' : `, got ${describeValue(value)}`;
  throw new CliError('invalid_config', `config field ${field} ${reason}${shown}`, { field, ...(value === undefined ? {} : { value: describeValue(value) }) });
}

function record(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) invalid(field, 'must be an object', value);
  return value as Record<string, unknown>;
}

function text(value: unknown, field: string, lengthMax = 500): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > lengthMax) invalid(field, `must be a non-empty string of at most ${lengthMax} characters`, value);
  return value;
}

function currencyKey(currency: string, field: string): string {
  // The ledger's own rule, so a key it could never match is refused here.
  try {
    return parseCurrency(currency, field);
  } catch (cause) {
    if (!(cause instanceof LedgerError)) throw cause;
    return invalid(field, 'must be a currency code of 2 to 12 upper-case letters or digits');
  }
}

function perCurrency<T>(value: unknown, field: string, check: (item: unknown, itemField: string) => T): Readonly<Record<string, T>> {
  const table = record(value, field);
  const entries = Object.entries(table);
  if (entries.length > CONFIG_CURRENCIES_MAX) invalid(field, `must list at most ${CONFIG_CURRENCIES_MAX} currencies`);
  return Object.freeze(Object.fromEntries(entries.map(([currency, item]) => [currencyKey(currency, `${field}.${currency}`), check(item, `${field}.${currency}`)])));
}

function perEntity<T>(value: unknown, field: string, entityIds: ReadonlySet<string> | undefined, check: (item: unknown, itemField: string) => T): Readonly<Record<string, T>> {
  const table = record(value, field);
  return Object.freeze(
    Object.fromEntries(
      Object.entries(table).map(([entity, item]) => {
        if (!ENTITY_ID_PATTERN.test(entity)) invalid(`${field}.${entity}`, 'must be keyed by an entity id');
        if (entityIds !== undefined && !entityIds.has(entity)) invalid(`${field}.${entity}`, `names an entity that is not in entities (${[...entityIds].join(', ')})`);
        return [entity, check(item, `${field}.${entity}`)];
      }),
    ),
  );
}

function positiveInteger(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) invalid(field, 'must be a positive integer', value);
  return value;
}

function checkEntities(value: unknown): readonly LedgerEntity[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > CONFIG_ENTITIES_MAX) invalid('entities', `must list 1 to ${CONFIG_ENTITIES_MAX} entities`, value);
  const seen = new Set<string>();
  return Object.freeze(
    value.map((item: unknown, index) => {
      const field = `entities[${index}]`;
      const entity = record(item, field);
      for (const key of Object.keys(entity)) if (key !== 'id' && key !== 'timeZone') invalid(`${field}.${configKeyName(key)}`, 'is not a known field (id, timeZone)');
      const id = text(entity['id'], `${field}.id`, 64);
      if (!ENTITY_ID_PATTERN.test(id)) invalid(`${field}.id`, 'must be lower-case letters, digits, "_" or "-"', id);
      if (seen.has(id)) invalid(`${field}.id`, 'is listed twice', id);
      seen.add(id);
      let timeZone: string;
      try {
        timeZone = assertTimeZone(entity['timeZone'], `${field}.timeZone`);
      } catch (cause) {
        if (!(cause instanceof LedgerError)) throw cause;
        invalid(`${field}.timeZone`, 'must be an IANA time zone such as Europe/Berlin or UTC', entity['timeZone']);
      }
      return Object.freeze({ id, timeZone });
    }),
  );
}

function checkTolerance(value: unknown, field: string): string {
  if (typeof value !== 'string' || !/^\d{1,13}$/.test(value) || BigInt(value) > TOLERANCE_UNITS_MAX) {
    invalid(field, `must be an integer string from "0" to "${TOLERANCE_UNITS_MAX}" (units of the 18th decimal)`, value);
  }
  return value;
}

function checkThreshold(value: unknown, field: string): string {
  try {
    return parseAmount(value, { field, allowZero: true });
  } catch (cause) {
    if (!(cause instanceof LedgerError)) throw cause;
    return invalid(field, 'must be a non-negative decimal string such as "0.001"', value);
  }
}

function checkEarnApi(value: unknown, field: string): EarnApiEntityConfig {
  const api = record(value, field);
  for (const key of Object.keys(api)) {
    // The value of a secret key is never echoed, not even in the error.
    if (SECRET_KEYS.has(key)) invalid(`${field}.${key}`, 'must not be in the configuration file: put the secret in an environment variable and name it in clientSecretEnv');
    if (!EARN_API_KEYS.has(key)) invalid(`${field}.${configKeyName(key)}`, `is not a known field (${[...EARN_API_KEYS].join(', ')})`);
  }
  const url = (key: 'baseUrl' | 'tokenUrl'): string => {
    const raw = text(api[key], `${field}.${key}`, 2000);
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      return invalid(`${field}.${key}`, 'must be an absolute http(s) URL', raw);
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') invalid(`${field}.${key}`, 'must be an absolute http(s) URL', raw);
    if (parsed.username !== '' || parsed.password !== '') invalid(`${field}.${key}`, 'must not hold credentials');
    return raw;
  };
  const clientSecretEnv = text(api['clientSecretEnv'], `${field}.clientSecretEnv`, 128);
  if (!ENV_NAME_PATTERN.test(clientSecretEnv)) invalid(`${field}.clientSecretEnv`, 'must be an environment variable name (letters, digits, "_")', clientSecretEnv);
  const method = api['clientAuthMethod'];
  if (method !== undefined && method !== 'client_secret_basic' && method !== 'client_secret_post') invalid(`${field}.clientAuthMethod`, 'must be client_secret_basic or client_secret_post', method);
  const checked = Object.freeze({
    baseUrl: url('baseUrl'),
    tokenUrl: url('tokenUrl'),
    clientId: text(api['clientId'], `${field}.clientId`, 500),
    clientSecretEnv,
    ...(method === undefined ? {} : { clientAuthMethod: method }),
    ...(api['scope'] === undefined ? {} : { scope: text(api['scope'], `${field}.scope`, 1000) }),
    ...(api['timeoutMs'] === undefined ? {} : { timeoutMs: positiveInteger(api['timeoutMs'], `${field}.timeoutMs`) }),
    ...(api['attemptsMax'] === undefined ? {} : { attemptsMax: positiveInteger(api['attemptsMax'], `${field}.attemptsMax`) }),
    ...(api['retryTotalMsMax'] === undefined ? {} : { retryTotalMsMax: positiveInteger(api['retryTotalMsMax'], `${field}.retryTotalMsMax`) }),
    ...(api['downloadTimeoutMs'] === undefined ? {} : { downloadTimeoutMs: positiveInteger(api['downloadTimeoutMs'], `${field}.downloadTimeoutMs`) }),
    ...(api['downloadIdleTimeoutMs'] === undefined ? {} : { downloadIdleTimeoutMs: positiveInteger(api['downloadIdleTimeoutMs'], `${field}.downloadIdleTimeoutMs`) }),
    ...(api['downloadRetryTotalMsMax'] === undefined ? {} : { downloadRetryTotalMsMax: positiveInteger(api['downloadRetryTotalMsMax'], `${field}.downloadRetryTotalMsMax`) }),
  });
  checkWithClient(checked, field);
  return checked;
}

/**
 * What the Earn client is given for an entity of the configuration: its settings and the secret
 * read from `clientSecretEnv`. One mapping for the client `--fetch` builds and the check below.
 */
export function earnClientSettings(entity: string, api: EarnApiEntityConfig, clientSecret: string): EntityConfigInput {
  return {
    entityId: entity,
    baseUrl: api.baseUrl,
    tokenUrl: api.tokenUrl,
    clientId: api.clientId,
    clientSecret,
    ...(api.clientAuthMethod === undefined ? {} : { clientAuthMethod: api.clientAuthMethod }),
    ...(api.scope === undefined ? {} : { scope: api.scope }),
    ...(api.timeoutMs === undefined ? {} : { timeoutMs: api.timeoutMs }),
    ...(api.attemptsMax === undefined ? {} : { attemptsMax: api.attemptsMax }),
    ...(api.retryTotalMsMax === undefined ? {} : { retryTotalMsMax: api.retryTotalMsMax }),
    ...(api.downloadTimeoutMs === undefined ? {} : { downloadTimeoutMs: api.downloadTimeoutMs }),
    ...(api.downloadIdleTimeoutMs === undefined ? {} : { downloadIdleTimeoutMs: api.downloadIdleTimeoutMs }),
    ...(api.downloadRetryTotalMsMax === undefined ? {} : { downloadRetryTotalMsMax: api.downloadRetryTotalMsMax }),
  };
}

/**
 * The Earn client's own check of an entity's settings (its limits, plain HTTP on loopback only, no
 * query in `baseUrl`), made when the file is read: an `attemptsMax` of 100 or a `baseUrl` over
 * plain HTTP passed here and failed only at `reconcile --fetch`, under the client's name for the
 * field (a review, session 44). The secret is not known yet: a stand-in is checked.
 */
function checkWithClient(api: EarnApiEntityConfig, field: string): void {
  try {
    resolveEntityConfig(earnClientSettings(field.slice(field.lastIndexOf('.') + 1), api, 'stand-in'));
  } catch (error) {
    if (!(error instanceof EarnApiError)) throw error;
    const key = error.field ?? error.path;
    invalid(key === undefined ? field : `${field}.${key}`, error.message.startsWith(`${key} `) ? error.message.slice(`${key} `.length) : error.message);
  }
}

/**
 * Validates against the published JSON Schema ({@link CONFIG_JSON_SCHEMA}) and reports the first
 * violation as a `CliError` naming the field. A secret put in the file is named, never echoed.
 */
function checkAgainstSchema(json: unknown): void {
  const error = configSchemaError(json);
  if (error === undefined) return;
  const key = error.field.slice(error.field.lastIndexOf('.') + 1);
  if (error.kind === 'unknown' && SECRET_KEYS.has(key)) invalid(error.field, 'must not be in the configuration file: put the secret in an environment variable and name it in clientSecretEnv');
  if (error.kind === 'unknown') invalid(error.field, `is not a known field (see ${CONFIG_SCHEMA_FILE_NAME})`);
  invalid(error.field, `${error.reason} (see ${CONFIG_SCHEMA_FILE_NAME})`);
}

/**
 * Levels of nesting a configuration may hold (the top object is level 1; the deepest field the
 * schema names is at level 4). A `$comment` 3,000 levels deep overflowed the recursive checks
 * below and ended the CLI with a stack trace (a review, session 44).
 */
export const CONFIG_DEPTH_MAX = 32;

/**
 * Refuses text that is not well-formed (a lone surrogate, NUL) in any key or value, comments
 * included, naming where: a lone surrogate would reach a file name or an HTTP header as U+FFFD.
 * Refuses a value nested deeper than {@link CONFIG_DEPTH_MAX} levels.
 */
function checkText(value: unknown, field: string, secret = false, depth = 1): void {
  const at = (key: string | number) => (typeof key === 'number' ? `${field}[${key}]` : field === '' ? configKeyName(key) : `${field}.${configKeyName(key)}`);
  if (depth > CONFIG_DEPTH_MAX && typeof value === 'object' && value !== null) invalid(field || '(root)', `nests deeper than ${CONFIG_DEPTH_MAX} levels`);
  if (typeof value === 'string') {
    const defect = textDefect(value);
    // Under a secret key the value is never echoed, not even in this error.
    if (defect !== undefined) invalid(field || '(root)', `must be well-formed text, not hold ${defect}`, ...(secret ? [] : [value]));
  } else if (Array.isArray(value)) {
    value.forEach((item: unknown, index) => checkText(item, at(index), secret, depth + 1));
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      const defect = textDefect(key);
      if (defect !== undefined) invalid(at(key), `is a key that is not well-formed text (it holds ${defect})`);
      checkText(item, at(key), secret || SECRET_KEYS.has(key), depth + 1);
    }
  }
}

/**
 * Checks a parsed configuration object and returns it frozen.
 *
 * @example
 * const config = parseConfig({ entities: [{ id: 'defi', timeZone: 'Europe/Berlin' }], wallets: { defi: { BTC: 'bc1q…' } } });
 */
export function parseConfig(json: unknown): CliConfig {
  const top = record(json, '(root)');
  checkText(json, '');
  checkAgainstSchema(json);
  for (const key of Object.keys(top)) if (!TOP_LEVEL_KEYS.has(key)) invalid(configKeyName(key), `is not a known field (${[...TOP_LEVEL_KEYS].filter((name) => !name.startsWith('$')).join(', ')})`);
  const entities = top['entities'] === undefined ? undefined : checkEntities(top['entities']);
  const entityIds = entities === undefined ? undefined : new Set(entities.map((entity) => entity.id));
  return Object.freeze({
    entities,
    toleranceUnits: top['toleranceUnits'] === undefined ? EMPTY_CONFIG.toleranceUnits : perCurrency(top['toleranceUnits'], 'toleranceUnits', checkTolerance),
    settlementThresholds:
      top['settlementThresholds'] === undefined
        ? EMPTY_CONFIG.settlementThresholds
        : perEntity(top['settlementThresholds'], 'settlementThresholds', entityIds, (item, field) => perCurrency(item, field, checkThreshold)),
    wallets:
      top['wallets'] === undefined
        ? EMPTY_CONFIG.wallets
        : perEntity(top['wallets'], 'wallets', entityIds, (item, field) => perCurrency(item, field, (address, addressField) => text(address, addressField, 200))),
    earnApi: top['earnApi'] === undefined ? EMPTY_CONFIG.earnApi : perEntity(top['earnApi'], 'earnApi', entityIds, checkEarnApi),
    database: top['database'] === undefined ? undefined : text(top['database'], 'database', 4000),
  });
}

/** Reads and checks a configuration file (relative paths against `cwd`), of at most {@link CONFIG_BYTES_MAX} bytes. */
export async function loadConfig(path: string, cwd: string): Promise<CliConfig> {
  const file = resolve(cwd, path);
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (cause) {
    throw new CliError('invalid_config', `no configuration file at ${file}`, { field: '--config', value: path, cause });
  }
  const tooLarge = (bytes: string) => new CliError('invalid_config', `configuration file ${file} has ${bytes} bytes`, { field: '--config', value: path });
  if (size > CONFIG_BYTES_MAX) throw tooLarge(`${size}, more than ${CONFIG_BYTES_MAX}`);
  let text: string;
  try {
    const bytes = await readFileAtMost(file, CONFIG_BYTES_MAX);
    if (bytes === undefined) throw tooLarge(`more than ${CONFIG_BYTES_MAX}`);
    // Fatal decoding: bytes that are not UTF-8 would otherwise become U+FFFD without a word.
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (cause) {
    if (cause instanceof CliError) throw cause;
    throw new CliError('invalid_config', `configuration file ${file} cannot be read as UTF-8 text: ${(cause as Error).message}`, { field: '--config', value: path, cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    if (!(cause instanceof SyntaxError)) throw cause;
    // Only the position: the parser's message quotes the text around the error, and a file that
    // fails to parse may hold a secret pasted by mistake. For the same reason its SyntaxError is
    // not kept as the cause.
    const position = jsonSyntaxErrorPosition(text);
    const where = position === undefined ? '' : `: ${position.offset === text.length ? 'it ends too early, ' : 'syntax error '}at line ${position.line}, column ${position.column}`;
    throw new CliError('invalid_config', `configuration file ${file} is not JSON${where}`, { field: '--config', value: path });
  }
  return parseConfig(json);
}
