/**
 * The sandbox's options, their defaults and their validation. {@link resolveSandboxOptions}
 * returns a frozen configuration and never mutates the caller's object.
 */
import { randomBytes } from 'node:crypto';
import { LedgerError, assertTimeZone, formatInstant, parseAmount, parseCurrency, parseInstant, parseInterestTerms } from '@earnbook/ledger';
import type { Amount, InterestTerms, InterestTermsInput } from '@earnbook/ledger';
import { invalidOption } from './errors.js';

/** One legal entity of the sandbox: its id, its OAuth2 client and the zone of its accounting day. */
export interface SandboxEntityInput {
  /** The entity id, e.g. `defi`. */
  readonly id: string;
  /** The OAuth2 client id; default `sandbox-<id>`. */
  readonly clientId?: string;
  /** The OAuth2 client secret; default 32 random bytes, base64url. */
  readonly clientSecret?: string;
  /** The IANA zone of the entity's accounting day; default the sandbox's `timeZone`. */
  readonly timeZone?: string;
}

/** A product the sandbox offers: one currency, terms as the ledger's interest engine reads them. */
export interface SandboxProductInput {
  /** The product id, e.g. `btc-flex`. */
  readonly id: string;
  /** The entity that offers it. */
  readonly entity: string;
  /** Display name. */
  readonly name: string;
  /** Currency code, e.g. `BTC`. */
  readonly currency: string;
  /** Tiers, tier mode and partner margin (see `InterestTermsInput` of `@earnbook/ledger`). */
  readonly terms: InterestTermsInput;
}

/** Options of `startSandbox`. Every field is optional. */
export interface SandboxOptions {
  /** The legal entities; default `defi` and `lending` (see {@link DEFAULT_SANDBOX_ENTITIES}). */
  readonly entities?: readonly SandboxEntityInput[];
  /** The partner's agreed IANA zone of the accounting day; default `UTC`. */
  readonly timeZone?: string;
  /** The products; default {@link DEFAULT_SANDBOX_PRODUCTS}. */
  readonly products?: readonly SandboxProductInput[];
  /**
   * The minimum settlement per entity and currency (`{ lending: { XRP: '1000' } }`); an
   * outstanding balance of smaller magnitude is carried to the next day. Default 0: always settle.
   */
  readonly settlementThresholds?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** The `expires_in` of an access token, on the wall clock; default 3 600 000 (one hour). */
  readonly tokenLifetimeMs?: number;
  /** How long a report download URL stays valid, on the sandbox clock; default 300 000. */
  readonly reportUrlLifetimeMs?: number;
  /** The seed of ids and fault draws; default 1. */
  readonly seed?: number;
  /** The SQLite file of the sandbox's books; default `:memory:`. */
  readonly databaseFilename?: string;
  /** The sandbox clock's first instant; default {@link SANDBOX_START_DEFAULT}. */
  readonly startAt?: string | Date;
  /** The interface to listen on; only loopback addresses are accepted. Default `127.0.0.1`. */
  readonly host?: string;
  /** The port; default 0 (any free port). */
  readonly port?: number;
  /** The page size when a list request gives no `limit`; default 100. */
  readonly pageSizeDefault?: number;
  /** The largest request body in bytes; default 65 536. */
  readonly bodyBytesMax?: number;
}

/** A resolved entity. */
export interface SandboxEntity {
  readonly id: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly timeZone: string;
}

/** A resolved product, with its terms parsed by the interest engine. */
export interface SandboxProduct {
  readonly id: string;
  readonly entity: string;
  readonly name: string;
  readonly currency: string;
  readonly terms: InterestTerms;
}

/** The frozen configuration of a running sandbox. */
export interface SandboxConfig {
  readonly entities: readonly SandboxEntity[];
  readonly timeZone: string;
  readonly products: readonly SandboxProduct[];
  /** `entity → currency → threshold`. */
  readonly settlementThresholds: ReadonlyMap<string, ReadonlyMap<string, Amount>>;
  readonly tokenLifetimeMs: number;
  readonly reportUrlLifetimeMs: number;
  readonly seed: number;
  readonly databaseFilename: string;
  readonly startAt: string;
  readonly host: string;
  readonly port: number;
  readonly pageSizeDefault: number;
  readonly bodyBytesMax: number;
}

/** The default start of the sandbox clock: the day of the provider's public interest example. */
export const SANDBOX_START_DEFAULT = '2025-03-18T09:00:00.000Z';

/** The default entities: the provider's two legal entities. */
export const DEFAULT_SANDBOX_ENTITIES: readonly SandboxEntityInput[] = Object.freeze([Object.freeze({ id: 'defi' }), Object.freeze({ id: 'lending' })]);

/**
 * The default products: two per entity, covering a flat rate (the public 1 BTC at 3.5 % example),
 * marginal and whole-balance tiers, both margin modes and a product without margin.
 */
export const DEFAULT_SANDBOX_PRODUCTS: readonly SandboxProductInput[] = Object.freeze([
  {
    id: 'btc-flex',
    entity: 'defi',
    name: 'BTC flexible interest',
    currency: 'BTC',
    terms: { tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: { mode: 'own-apy', apy: '0.005' } },
  },
  {
    id: 'eth-tiered',
    entity: 'defi',
    name: 'ETH tiered interest',
    currency: 'ETH',
    terms: {
      tiers: [
        { fromAmount: '0', toAmount: '10', apy: '0.03' },
        { fromAmount: '10', toAmount: null, apy: '0.02' },
      ],
      tierMode: 'marginal',
      partnerMargin: { mode: 'rate-difference', productApy: '0.035' },
    },
  },
  {
    id: 'usdc-lending',
    entity: 'lending',
    name: 'USDC lending',
    currency: 'USDC',
    terms: {
      tiers: [
        { fromAmount: '0', toAmount: '10000', apy: '0.05' },
        { fromAmount: '10000', toAmount: null, apy: '0.04' },
      ],
      tierMode: 'whole-balance',
      partnerMargin: { mode: 'own-apy', apy: '0.01' },
    },
  },
  {
    id: 'xrp-staking',
    entity: 'lending',
    name: 'XRP staking',
    currency: 'XRP',
    terms: { tiers: [{ fromAmount: '0', toAmount: null, apy: '0.02' }], partnerMargin: null },
  },
] satisfies SandboxProductInput[]);

/** Products a sandbox may offer. */
export const PRODUCTS_MAX = 256;
/** Entities a sandbox may have (the ledger's own limit is higher). */
export const SANDBOX_ENTITIES_MAX = 8;

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function integerOption(value: unknown, field: string, fallback: number, minimum: number, maximum: number): number {
  const resolved = value ?? fallback;
  if (typeof resolved !== 'number' || !Number.isSafeInteger(resolved) || resolved < minimum || resolved > maximum) {
    return invalidOption(field, resolved, `must be an integer from ${minimum} to ${maximum}`);
  }
  return resolved;
}

function idOption(value: unknown, field: string): string {
  if (typeof value !== 'string' || !ID_PATTERN.test(value)) return invalidOption(field, value, 'must be 1 to 64 letters, digits, ".", "_" or "-"');
  return value;
}

function secretOption(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length < 8 || value.length > 256 || !/^[\x21-\x7e]+$/.test(value)) {
    // The value is a secret: it is never rendered.
    return invalidOption(field, '(hidden)', 'must be 8 to 256 printable ASCII characters without spaces');
  }
  return value;
}

/** Wraps a ledger validation so that its message names the option path. */
function viaLedger<T>(field: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof LedgerError) return invalidOption(error.field === undefined ? field : error.field.startsWith(field) ? error.field : `${field}.${error.field}`, error.value, error.message);
    throw error;
  }
}

/**
 * Validates `options`, fills in every default and returns a frozen configuration. Throws
 * `SandboxError` `invalid_option` naming the option.
 *
 * @example
 * const config = resolveSandboxOptions({ timeZone: 'Europe/Helsinki', seed: 7 });
 * config.entities.map((entity) => entity.id); // ['defi', 'lending']
 */
export function resolveSandboxOptions(options: SandboxOptions = {}): SandboxConfig {
  if (options === null || typeof options !== 'object') return invalidOption('options', options, 'must be an object');
  const timeZone = viaLedger('timeZone', () => assertTimeZone(options.timeZone ?? 'UTC', 'timeZone'));
  const entityInputs = options.entities ?? DEFAULT_SANDBOX_ENTITIES;
  if (!Array.isArray(entityInputs) || entityInputs.length === 0 || entityInputs.length > SANDBOX_ENTITIES_MAX) {
    return invalidOption('entities', entityInputs, `must list 1 to ${SANDBOX_ENTITIES_MAX} entities`);
  }
  const entities: SandboxEntity[] = [];
  const clientIds = new Set<string>();
  entityInputs.forEach((input: SandboxEntityInput, index) => {
    const id = idOption(input.id, `entities[${index}].id`);
    if (entities.some((entity) => entity.id === id)) invalidOption(`entities[${index}].id`, id, 'is listed twice');
    const clientId = idOption(input.clientId ?? `sandbox-${id}`, `entities[${index}].clientId`);
    if (clientIds.has(clientId)) invalidOption(`entities[${index}].clientId`, clientId, 'is used by another entity');
    clientIds.add(clientId);
    const clientSecret = secretOption(input.clientSecret ?? randomBytes(32).toString('base64url'), `entities[${index}].clientSecret`);
    const zone = viaLedger(`entities[${index}].timeZone`, () => assertTimeZone(input.timeZone ?? timeZone, `entities[${index}].timeZone`));
    entities.push(Object.freeze({ id, clientId, clientSecret, timeZone: zone }));
  });
  const entityIds = new Set(entities.map((entity) => entity.id));

  const productInputs = options.products ?? DEFAULT_SANDBOX_PRODUCTS.filter((product) => entityIds.has(product.entity));
  if (!Array.isArray(productInputs) || productInputs.length > PRODUCTS_MAX) return invalidOption('products', productInputs, `must list at most ${PRODUCTS_MAX} products`);
  const products: SandboxProduct[] = [];
  productInputs.forEach((input: SandboxProductInput, index) => {
    const field = `products[${index}]`;
    const id = idOption(input.id, `${field}.id`);
    if (products.some((product) => product.id === id)) invalidOption(`${field}.id`, id, 'is listed twice (product ids are unique across entities)');
    if (typeof input.entity !== 'string' || !entityIds.has(input.entity)) invalidOption(`${field}.entity`, input.entity, `must be one of ${[...entityIds].join(', ')}`);
    if (typeof input.name !== 'string' || input.name.length === 0 || input.name.length > 128) invalidOption(`${field}.name`, input.name, 'must be a string of 1 to 128 characters');
    const currency = viaLedger(`${field}.currency`, () => parseCurrency(input.currency, `${field}.currency`));
    const terms = viaLedger(`${field}.terms`, () => parseInterestTerms(input.terms, `${field}.terms`));
    products.push(Object.freeze({ id, entity: input.entity, name: input.name, currency, terms }));
  });

  const thresholds = new Map<string, ReadonlyMap<string, Amount>>();
  for (const [entity, perCurrency] of Object.entries(options.settlementThresholds ?? {})) {
    if (!entityIds.has(entity)) invalidOption(`settlementThresholds.${entity}`, entity, `must be one of ${[...entityIds].join(', ')}`);
    const byCurrency = new Map<string, Amount>();
    for (const [currency, amount] of Object.entries(perCurrency ?? {})) {
      const field = `settlementThresholds.${entity}.${currency}`;
      viaLedger(field, () => parseCurrency(currency, field));
      byCurrency.set(currency, viaLedger(field, () => parseAmount(amount, { field })));
    }
    thresholds.set(entity, byCurrency);
  }

  const startAt = viaLedger('startAt', () => formatInstant(parseInstant(options.startAt ?? SANDBOX_START_DEFAULT, 'startAt')));
  const host = options.host ?? '127.0.0.1';
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '::1') invalidOption('host', host, 'must be a loopback address (127.0.0.1, ::1 or localhost): the sandbox has no real security');
  const databaseFilename = options.databaseFilename ?? ':memory:';
  if (typeof databaseFilename !== 'string' || databaseFilename.length === 0) invalidOption('databaseFilename', databaseFilename, 'must be a file path or ":memory:"');

  return Object.freeze({
    entities: Object.freeze(entities),
    timeZone,
    products: Object.freeze(products),
    settlementThresholds: thresholds,
    tokenLifetimeMs: integerOption(options.tokenLifetimeMs, 'tokenLifetimeMs', 3_600_000, 1_000, 86_400_000),
    reportUrlLifetimeMs: integerOption(options.reportUrlLifetimeMs, 'reportUrlLifetimeMs', 300_000, 1, 7 * 86_400_000),
    seed: integerOption(options.seed, 'seed', 1, 0, 2 ** 32 - 1),
    databaseFilename,
    startAt,
    host,
    port: integerOption(options.port, 'port', 0, 0, 65_535),
    pageSizeDefault: integerOption(options.pageSizeDefault, 'pageSizeDefault', 100, 1, 1000),
    bodyBytesMax: integerOption(options.bodyBytesMax, 'bodyBytesMax', 65_536, 1024, 10 * 1024 * 1024),
  });
}
