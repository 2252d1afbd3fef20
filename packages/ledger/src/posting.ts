/**
 * Pure validation of journal postings: no database here. A posting that passes
 * {@link normalizePosting} is well-formed; whether it balances per currency and respects the
 * account rules is decided by {@link planPosting} once the accounts are known.
 */
import { createHash } from 'node:crypto';
import { LedgerError, assertInvariant, describeValue, isArrayInput, isPlainObjectInput } from './errors.js';
import { formatUnits, isStorableUnits, parseUnits, storageLimitExceeded } from './money.js';
import { accountingDayOf, formatInstant, parseInstant } from './calendar.js';
import type { AccountKind, NormalSide } from './chart.js';
import { ACCOUNT_KIND_RULES } from './chart.js';
import { requireWellFormed } from './text.js';
import type { EntryInput } from './entry-input.js';
import { readArray, readFields, unreadable } from './input-fields.js';

/** What a journal transaction records. */
export type TransactionKind =
  | 'deposit'
  | 'withdrawal'
  | 'interest'
  | 'partner_margin'
  | 'fee'
  | 'settlement'
  | 'reversal'
  | 'adjustment';

/** Every transaction kind. */
export const TRANSACTION_KINDS: readonly TransactionKind[] = Object.freeze([
  'deposit',
  'withdrawal',
  'interest',
  'partner_margin',
  'fee',
  'settlement',
  'reversal',
  'adjustment',
]);

/** Entries one transaction posted with `post`/`postMany` may hold. */
export const ENTRIES_PER_TRANSACTION_MAX = 64;
/** Lines one compound transaction (`postLines`) may hold; it has one more entry, its contra account's. */
export const LINES_PER_TRANSACTION_MAX = 1_000;
/**
 * Entries one reversal may hold: those of the largest transaction it may reverse, a compound one
 * ({@link LINES_PER_TRANSACTION_MAX} lines and the contra entry). Only `reverse()` builds
 * reversals, from a stored transaction, so the larger bound is never a caller's.
 */
export const REVERSAL_ENTRIES_MAX = LINES_PER_TRANSACTION_MAX + 1;
/** Length of an id: a provider id, an Earn id, a product, an entity (and of any other key but those below). */
export const KEY_LENGTH_MAX = 200;
/**
 * Length of an idempotency key and of an account code, which are composed from an id of
 * {@link KEY_LENGTH_MAX} and a prefix (`user:<earnAccountId>`, `interest:<providerEntryId>`,
 * `partner_margin:<id>`, the reconciler's `report:Interest:<id>` and
 * `settlement:<entity>:<currency>:<day>`, the cycle's `cycle:margin:<entity>:<day>:<currency>`),
 * or taken from the Earn API (an `Idempotency-Key` has up to 255 characters) with a prefix of up
 * to 64 characters (the Earn sandbox keeps a booking under `http:<Idempotency-Key>`). With the
 * id limit for both, an id of 196 to 200 characters was refused under the composed field
 * (`code`, `idempotencyKey`), which the caller never gave (a review, session 44). On PostgreSQL
 * an index row of an entity and a key stays within the btree's limit (at most 4 × 520 bytes of
 * text, against ~2,700).
 */
export const COMPOSED_KEY_LENGTH_MAX = 320;
/**
 * The prefix of the idempotency keys the ledger gives its compound postings
 * (`lines:<kind>:<first provider id>`, see `postLines`): a caller's key may not start with it, or
 * it could take the key of a compound posting still to come.
 */
export const RESERVED_KEY_PREFIX = 'lines:';
/** Length of a description. */
export const DESCRIPTION_LENGTH_MAX = 1_000;
/** Metadata pairs one transaction may carry. */
export const METADATA_PAIRS_MAX = 32;

/** A journal transaction to post. */
export interface PostingInput {
  /** Legal entity whose books this is (e.g. `defi`, `lending`). */
  readonly entity: string;
  readonly kind: TransactionKind;
  /** The caller's key: the same key with the same content returns the first result. */
  readonly idempotencyKey: string;
  /** When it happened: an ISO-8601 instant with `Z` or an offset, or a `Date`. */
  readonly occurredAt: string | Date;
  /** The provider's id (booking id or report entry id) where there is one. */
  readonly providerId?: string;
  readonly description?: string;
  /** Free string pairs, e.g. `{ interestDay: '2025-03-18' }`. */
  readonly metadata?: Readonly<Record<string, string>>;
  readonly entries: readonly EntryInput[];
}

/** A posting after validation: canonical values, signed units (debit positive). */
export interface NormalizedPosting {
  readonly entity: string;
  readonly kind: TransactionKind;
  readonly idempotencyKey: string;
  readonly occurredAt: string;
  readonly accountingDay: string;
  readonly providerId: string | null;
  readonly reversesTransactionId: number | null;
  readonly description: string | null;
  readonly metadata: string | null;
  readonly entries: readonly { readonly accountId: number; readonly units: bigint }[];
  /** SHA-256 of the canonical content: what idempotency compares. */
  readonly requestHash: string;
}

function invalid(field: string, value: unknown, reason: string): never {
  throw new LedgerError('invalid_input', `${field} ${reason}, got ${describeValue(value)}`, { field, value: describeValue(value) });
}

/** A transaction kind ({@link TRANSACTION_KINDS}), else `invalid_input` naming `field`. */
export function parseTransactionKind(value: unknown, field = 'kind'): TransactionKind {
  if (!(TRANSACTION_KINDS as readonly unknown[]).includes(value)) return invalid(field, value, `must be one of ${TRANSACTION_KINDS.join(', ')}`);
  return value as TransactionKind;
}

/** Checks a key-like string: 1..`lengthMax` (default {@link KEY_LENGTH_MAX}) printable characters, no surrounding spaces. */
export function parseKey(value: unknown, field: string, lengthMax: number = KEY_LENGTH_MAX): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > lengthMax) {
    return invalid(field, value, `must be a string of 1 to ${lengthMax} characters`);
  }
  // eslint-disable-next-line no-control-regex
  if (value.trim() !== value || /[\u0000-\u001f\u007f]/.test(value)) return invalid(field, value, 'must not have surrounding white space or control characters');
  return requireWellFormed(value, field);
}

/** Checks optional text of at most `lengthMax` characters (null when absent). */
export function parseOptionalText(value: unknown, field: string, lengthMax: number): string | null {
  if (value === undefined) return null;
  if (typeof value !== 'string' || value.length > lengthMax) return invalid(field, value, `must be a string of at most ${lengthMax} characters`);
  return requireWellFormed(value, field);
}

/** The pairs of a metadata object, each value read once; a getter that throws is `invalid_input`. */
function readPairs(value: object): [string, unknown][] {
  try {
    return Object.entries(value);
  } catch (cause) {
    throw unreadable('metadata', cause);
  }
}

/** Checks metadata (string pairs) and returns its canonical JSON, keys sorted (null when absent). */
export function parseMetadata(value: unknown): string | null {
  if (value === undefined) return null;
  if (typeof value !== 'object' || value === null || isArrayInput(value, 'metadata')) return invalid('metadata', value, 'must be an object of strings');
  // A Map, a Date or a class instance (its fields getters) was stored as {} (a review, session 44).
  if (!isPlainObjectInput(value, 'metadata')) return invalid('metadata', value, 'must be a plain object of strings, not a Map, a Date or a class instance');
  const pairs = readPairs(value);
  if (pairs.length > METADATA_PAIRS_MAX) return invalid('metadata', value, `must have at most ${METADATA_PAIRS_MAX} pairs`);
  // No prototype: a key `__proto__` would otherwise call the prototype's setter and vanish from
  // the stored metadata and the request hash.
  const canonical: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [key, text] of pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    parseKey(key, 'metadata key');
    if (typeof text !== 'string' || text.length > DESCRIPTION_LENGTH_MAX) return invalid(`metadata.${key}`, text, 'must be a string');
    canonical[key] = requireWellFormed(text, `metadata.${key}`);
  }
  return JSON.stringify(canonical);
}

/** The fields of a posting the ledger reads (each once, see `input-fields.ts`); others are ignored. */
const POSTING_FIELDS = ['entity', 'kind', 'idempotencyKey', 'occurredAt', 'providerId', 'description', 'metadata', 'entries'] as const;
/** The fields of an entry the ledger reads. */
const ENTRY_FIELDS = ['accountId', 'side', 'amount'] as const;

/**
 * The fields of a posting object, each read once into a plain object: what the ledger looks up
 * (the entity's zone) and what it validates and writes are then one value.
 */
export function readPosting(input: PostingInput): PostingInput {
  return readFields(input, POSTING_FIELDS, { field: 'posting' });
}

/** Options of {@link normalizePosting}. */
export interface NormalizeOptions {
  /** The entity's IANA time zone, for the accounting day. */
  readonly timeZone: string;
  /** Set only by the ledger when it builds a reversal (which may hold up to {@link REVERSAL_ENTRIES_MAX} entries). */
  readonly reversesTransactionId?: number;
}

/**
 * Validates a posting's shape and canonicalises it. Throws {@link LedgerError} naming the field
 * and value of the first problem. Does not check balance per currency (needs the accounts).
 */
export function normalizePosting(input: PostingInput, options: NormalizeOptions): NormalizedPosting {
  if (typeof input !== 'object' || input === null) return invalid('posting', input, 'must be an object');
  // Each field is read once: a getter answering differently later cannot change what is written.
  const fields = readPosting(input);
  const entity = parseKey(fields.entity, 'entity');
  const kind = parseTransactionKind(fields.kind);
  if (kind === 'reversal' && options.reversesTransactionId === undefined) {
    return invalid('kind', kind, 'is reserved for reverse(); post a correction through reverse()');
  }
  const idempotencyKey = parseKey(fields.idempotencyKey, 'idempotencyKey', COMPOSED_KEY_LENGTH_MAX);
  if (idempotencyKey.startsWith(RESERVED_KEY_PREFIX)) return invalid('idempotencyKey', idempotencyKey, `must not start with ${RESERVED_KEY_PREFIX}: the ledger keys its compound postings (postLines) so`);
  const occurred = parseInstant(fields.occurredAt, 'occurredAt');
  const providerId = fields.providerId === undefined ? null : parseKey(fields.providerId, 'providerId');
  const description = parseOptionalText(fields.description, 'description', DESCRIPTION_LENGTH_MAX);
  const metadata = parseMetadata(fields.metadata);
  if (!isArrayInput(fields.entries, 'entries')) return invalid('entries', fields.entries, 'must be an array');
  const entriesMax = options.reversesTransactionId === undefined ? ENTRIES_PER_TRANSACTION_MAX : REVERSAL_ENTRIES_MAX;
  const given = readArray(fields.entries, 'entries', entriesMax);
  if (given.length < 2 || given.length > entriesMax) {
    return invalid('entries', `${given.length} entries`, `must hold 2 to ${entriesMax} entries`);
  }
  const entries = given.items.map((entry: EntryInput, index) => {
    const field = `entries[${index}]`;
    if (typeof entry !== 'object' || entry === null) return invalid(field, entry, 'must be an object');
    const { accountId, side, amount } = readFields(entry, ENTRY_FIELDS, { field, nested: true });
    if (!Number.isSafeInteger(accountId) || accountId <= 0) return invalid(`${field}.accountId`, accountId, 'must be a positive integer account id');
    if (side !== 'debit' && side !== 'credit') return invalid(`${field}.side`, side, 'must be "debit" or "credit"');
    const magnitude = parseUnits(amount, { field: `${field}.amount`, allowZero: false });
    return { accountId, units: side === 'debit' ? magnitude : -magnitude };
  });
  const occurredAt = formatInstant(occurred);
  const accountingDay = accountingDayOf(occurred, options.timeZone);
  const reversesTransactionId = options.reversesTransactionId ?? null;
  const requestHash = createHash('sha256')
    .update(
      JSON.stringify([
        entity,
        kind,
        occurredAt,
        providerId,
        reversesTransactionId,
        description,
        metadata,
        entries.map((entry) => [entry.accountId, entry.units.toString()]),
      ]),
    )
    .digest('hex');
  return Object.freeze({
    entity,
    kind,
    idempotencyKey,
    occurredAt,
    accountingDay,
    providerId,
    reversesTransactionId,
    description,
    metadata,
    entries: Object.freeze(entries),
    requestHash,
  });
}

/** An account as the posting plan needs it. */
export interface PlanAccount {
  readonly id: number;
  readonly entity: string;
  readonly currency: string;
  readonly kind: AccountKind;
  readonly normalSide: NormalSide;
  /** Current normal-side balance in units. */
  readonly balanceUnits: bigint;
}

/** What posting does to one account. */
export interface AccountChange {
  readonly account: PlanAccount;
  /** Normal-side change in units. */
  readonly deltaUnits: bigint;
  readonly balanceAfterUnits: bigint;
}

/** The decided effect of a posting. */
export interface PostingPlan {
  /** Per entry: the account's normal-side balance after it, in posting order. */
  readonly entryBalancesAfter: readonly bigint[];
  readonly changes: readonly AccountChange[];
}

/** Converts a signed (debit-positive) amount into a change of a normal-side balance. */
export function normalDelta(units: bigint, normalSide: NormalSide): bigint {
  return normalSide === 'debit' ? units : -units;
}

/**
 * Decides the effect of a normalized posting on its accounts: checks entity, currency balance
 * and the account rules, and computes the new balances. Pure; throws {@link LedgerError}.
 */
export function planPosting(posting: NormalizedPosting, accounts: ReadonlyMap<number, PlanAccount>): PostingPlan {
  const perCurrency = new Map<string, bigint>();
  const running = new Map<number, bigint>();
  const entryBalancesAfter: bigint[] = [];
  posting.entries.forEach((entry, index) => {
    const account = accounts.get(entry.accountId);
    if (account === undefined) {
      throw new LedgerError('unknown_account', `entries[${index}].accountId ${entry.accountId} is not an account`, {
        field: `entries[${index}].accountId`,
        value: String(entry.accountId),
      });
    }
    if (account.entity !== posting.entity) {
      throw new LedgerError('mixed_entities', `entries[${index}].accountId ${entry.accountId} belongs to entity ${account.entity}, not ${posting.entity}`, {
        field: `entries[${index}].accountId`,
        value: String(entry.accountId),
      });
    }
    perCurrency.set(account.currency, (perCurrency.get(account.currency) ?? 0n) + entry.units);
    const after = (running.get(account.id) ?? account.balanceUnits) + normalDelta(entry.units, account.normalSide);
    // Every running balance is stored (the entry's balance_after), so each must read back.
    if (!isStorableUnits(after)) throw storageLimitExceeded(after, { field: 'entries', what: `the balance of account ${account.id} (${account.kind}, ${account.currency})`, context: { accountId: String(account.id), currency: account.currency } });
    running.set(account.id, after);
    entryBalancesAfter.push(after);
  });
  for (const [currency, total] of perCurrency) {
    if (total !== 0n) {
      throw new LedgerError('unbalanced_transaction', `entries do not balance in ${currency}: debits − credits = ${formatUnits(total)}`, {
        field: 'entries',
        value: formatUnits(total),
        context: { currency },
      });
    }
  }
  const changes: AccountChange[] = [];
  for (const [accountId, balanceAfterUnits] of running) {
    const account = accounts.get(accountId);
    assertInvariant(account !== undefined, `planned account ${accountId} vanished`);
    if (balanceAfterUnits < 0n && !ACCOUNT_KIND_RULES[account.kind].negativeAllowed) {
      throw new LedgerError(
        'insufficient_balance',
        `account ${accountId} (${account.kind}, ${account.currency}) has ${formatUnits(account.balanceUnits)}; the posting would leave ${formatUnits(balanceAfterUnits)}`,
        { field: 'entries', value: formatUnits(account.balanceUnits), context: { accountId: String(accountId), currency: account.currency } },
      );
    }
    changes.push({ account, deltaUnits: balanceAfterUnits - account.balanceUnits, balanceAfterUnits });
  }
  // Invariant before writing: the new balances are exactly the old ones plus the entries.
  const sumOfDeltas = changes.reduce((sum, change) => sum + change.deltaUnits, 0n);
  const sumOfEntries = posting.entries.reduce((sum, entry) => {
    const account = accounts.get(entry.accountId);
    return account === undefined ? sum : sum + normalDelta(entry.units, account.normalSide);
  }, 0n);
  assertInvariant(sumOfDeltas === sumOfEntries, 'planned balance changes differ from the entries');
  return { entryBalancesAfter, changes };
}

/** The stored row of a normalized posting (without its id), stamped `createdAt`. */
export function transactionRow(posting: NormalizedPosting, createdAt: string) {
  return {
    entity: posting.entity,
    kind: posting.kind,
    idempotency_key: posting.idempotencyKey,
    request_hash: posting.requestHash,
    occurred_at: posting.occurredAt,
    accounting_day: posting.accountingDay,
    provider_id: posting.providerId,
    reverses_transaction_id: posting.reversesTransactionId,
    description: posting.description,
    metadata: posting.metadata,
    created_at: createdAt,
  };
}
