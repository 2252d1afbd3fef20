/**
 * Compound postings of many lines, pure (no database here): one journal transaction in which
 * every line moves one account on the same side and carries the provider's id of that line,
 * and one contra entry on the other side takes their sum. The accounting cycle books a night's
 * interest this way (Dr earn_assets once, Cr each user), a batch of accounts per transaction.
 *
 * Idempotency is per line: a line whose provider id is already in the journal (on an entry of
 * a compound transaction, or as the provider id of a whole transaction of the same kind) is
 * `exists` when it moved the same account by the same amount, and an `idempotency_conflict`
 * naming the differing field otherwise.
 */
import { createHash } from 'node:crypto';
import { LedgerError, assertInvariant, describeValue, isArrayInput } from './errors.js';
import { assertCurrencyScale, formatUnits, isStorableUnits, parseUnits, storageLimitExceeded, toUnits } from './money.js';
import { accountingDayOf, formatInstant, parseInstant } from './calendar.js';
import { ACCOUNT_KIND_RULES, isAccountKind } from './chart.js';
import { DESCRIPTION_LENGTH_MAX, LINES_PER_TRANSACTION_MAX, RESERVED_KEY_PREFIX, TRANSACTION_KINDS, normalDelta, parseKey, parseMetadata, parseOptionalText } from './posting.js';
import type { TransactionKind } from './posting.js';
import type { BulkAccountRow, BulkDayRow, BulkEntryRow, StoredProviderEntry } from './db/journal-bulk.js';
import { readArray, readFields } from './input-fields.js';

export { LINES_PER_TRANSACTION_MAX } from './posting.js';

/** One line: an amount on one account, idempotent on the provider's id of the line. */
export interface LineInput {
  readonly accountId: number;
  /** Positive decimal string. */
  readonly amount: string;
  readonly providerId: string;
}

/** A compound posting: every line on `side`, the contra account on the other side. */
export interface LinesInput {
  readonly entity: string;
  readonly kind: Exclude<TransactionKind, 'reversal'>;
  readonly occurredAt: string | Date;
  /** The side of every line (`credit` for interest to users). */
  readonly side: 'debit' | 'credit';
  /** The account on the other side, which takes the lines' sum (one currency with them). */
  readonly contraAccountId: number;
  readonly description?: string;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly lines: readonly LineInput[];
}

/** What happened to one line. */
export interface LineResult {
  readonly status: 'created' | 'exists';
  /** The transaction that holds the line (the new one, or where it was booked before). */
  readonly transactionId: number;
}

/** The answer to a compound posting, one result per line in input order. */
export interface LinesResult {
  /** The new transaction, or null when every line existed. */
  readonly transactionId: number | null;
  readonly lines: readonly LineResult[];
}

/** A compound posting after validation; line units are signed (debit positive). */
export interface NormalizedLines {
  readonly entity: string;
  readonly kind: Exclude<TransactionKind, 'reversal'>;
  readonly occurredAt: string;
  readonly accountingDay: string;
  readonly side: 'debit' | 'credit';
  readonly contraAccountId: number;
  readonly description: string | null;
  readonly metadata: string | null;
  readonly lines: readonly { readonly accountId: number; readonly units: bigint; readonly providerId: string }[];
}

function invalid(field: string, value: unknown, reason: string): never {
  throw new LedgerError('invalid_input', `${field} ${reason}, got ${describeValue(value)}`, { field, value: describeValue(value) });
}

function parseAccountId(value: unknown, field: string): number {
  if (!Number.isSafeInteger(value) || (value as number) <= 0) return invalid(field, value, 'must be a positive integer account id');
  return value as number;
}

/**
 * The index of the line a refusal of {@link Ledger.postLines} is about, if one: named in the
 * field (`lines[3].amount`), or in `context.line` where the field is the posting's (`side`, or
 * `lines` for a balance beyond what the books store). `undefined` for a refusal of the whole
 * posting (the contra entry's sum, the entity, …).
 */
export function lineOfRefusal(error: LedgerError): number | undefined {
  const index = /^lines\[(\d+)\]/.exec(error.field ?? '')?.[1] ?? error.context?.['line'];
  return index === undefined ? undefined : Number(index);
}

/** The fields of a compound posting the ledger reads (each once, see `input-fields.ts`); others are ignored. */
const LINES_FIELDS = ['entity', 'kind', 'occurredAt', 'side', 'contraAccountId', 'description', 'metadata', 'lines'] as const;
/** The fields of a line the ledger reads. */
const LINE_FIELDS = ['accountId', 'amount', 'providerId'] as const;

/** The fields of a compound posting object, each read once into a plain object (see {@link readPosting}). */
export function readLines(input: LinesInput): LinesInput {
  return readFields(input, LINES_FIELDS, { field: 'posting' });
}

/** Validates a compound posting's shape and canonicalises it; `timeZone` is the entity's. */
export function normalizeLines(input: LinesInput, timeZone: string): NormalizedLines {
  if (typeof input !== 'object' || input === null) return invalid('posting', input, 'must be an object');
  // Each field is read once: a getter answering differently later cannot change what is written.
  const { entity: entityInput, kind, side, occurredAt, contraAccountId: contraInput, description, metadata, lines: linesInput } = readLines(input);
  const entity = parseKey(entityInput, 'entity');
  if (!(TRANSACTION_KINDS as readonly unknown[]).includes(kind) || (kind as TransactionKind) === 'reversal') return invalid('kind', kind, 'must be a transaction kind other than reversal');
  if (side !== 'debit' && side !== 'credit') return invalid('side', side, 'must be "debit" or "credit"');
  const occurred = parseInstant(occurredAt, 'occurredAt');
  const contraAccountId = parseAccountId(contraInput, 'contraAccountId');
  const given = isArrayInput(linesInput, 'lines') ? readArray(linesInput, 'lines', LINES_PER_TRANSACTION_MAX) : undefined;
  if (given === undefined || given.length === 0 || given.length > LINES_PER_TRANSACTION_MAX) {
    return invalid('lines', given === undefined ? linesInput : `${given.length} lines`, `must hold 1 to ${LINES_PER_TRANSACTION_MAX} lines`);
  }
  const seen = new Set<string>();
  const lines = given.items.map((line: LineInput, index) => {
    const field = `lines[${index}]`;
    if (typeof line !== 'object' || line === null) return invalid(field, line, 'must be an object');
    const fields = readFields(line, LINE_FIELDS, { field, nested: true });
    const accountId = parseAccountId(fields.accountId, `${field}.accountId`);
    if (accountId === contraAccountId) return invalid(`${field}.accountId`, accountId, 'must differ from contraAccountId');
    const magnitude = parseUnits(fields.amount, { field: `${field}.amount`, allowZero: false });
    const providerId = parseKey(fields.providerId, `${field}.providerId`);
    if (seen.has(providerId)) return invalid(`${field}.providerId`, providerId, 'is listed twice');
    seen.add(providerId);
    return { accountId, units: side === 'debit' ? magnitude : -magnitude, providerId };
  });
  return Object.freeze({
    entity,
    kind,
    occurredAt: formatInstant(occurred),
    accountingDay: accountingDayOf(occurred, timeZone),
    side,
    contraAccountId,
    description: parseOptionalText(description, 'description', DESCRIPTION_LENGTH_MAX),
    metadata: parseMetadata(metadata),
    lines: Object.freeze(lines),
  });
}

/** Stored end-of-day rows of an account posted to before its latest day (read before deciding). */
export interface BackdatedDays {
  readonly before: string | undefined;
  readonly rows: readonly { readonly accounting_day: string; readonly balance: string }[];
}

/** What {@link planLines} needs: the accounts, what the journal holds for the provider ids, day rows of back-dated accounts. */
export interface LinesContext {
  readonly accounts: ReadonlyMap<number, BulkAccountRow>;
  readonly stored: ReadonlyMap<string, readonly StoredProviderEntry[]>;
  readonly backdated: ReadonlyMap<number, BackdatedDays>;
  readonly currencyScale: (currency: string) => number;
}

/** The decided effect of a compound posting. */
export interface LinesPlan {
  /** Per line: the transaction it already is in, or undefined when it is written now. */
  readonly existing: readonly (number | undefined)[];
  readonly currency: string;
  /** Contra entry first, then each created line in input order; empty when nothing is new. */
  readonly entries: readonly BulkEntryRow[];
  readonly accounts: readonly { readonly id: number; readonly balance: string; readonly last_day: string; readonly entry_count: number }[];
  readonly dayBalances: readonly BulkDayRow[];
}

function accountOf(context: LinesContext, id: number, field: string, entity: string): BulkAccountRow {
  const account = context.accounts.get(id);
  if (account === undefined) throw new LedgerError('unknown_account', `${field} ${id} is not an account`, { field, value: String(id) });
  if (account.entity !== entity) throw new LedgerError('mixed_entities', `${field} ${id} belongs to entity ${account.entity}, not ${entity}`, { field, value: String(id) });
  assertInvariant(isAccountKind(account.kind), `account ${account.id} has unknown kind ${account.kind}`);
  return account;
}

/**
 * Whether a line was booked before: its transaction, or undefined; a different booking is a
 * conflict naming the field that differs: the line's account, the posting's `side` (before the
 * amount: a replay on the other side is not an amount conflict), or the line's amount.
 */
function storedLine(context: LinesContext, line: NormalizedLines['lines'][number], index: number): number | undefined {
  const stored = context.stored.get(line.providerId);
  if (stored === undefined || stored.length === 0) return undefined;
  const same = stored.find((entry) => entry.account_id === line.accountId);
  if (same === undefined) {
    const field = `lines[${index}].accountId`;
    throw new LedgerError('idempotency_conflict', `providerId ${line.providerId} is booked in transaction ${stored[0]?.transaction_id} on another account than ${line.accountId}`, {
      field,
      value: String(line.accountId),
      context: { providerId: line.providerId, transactionId: String(stored[0]?.transaction_id) },
    });
  }
  const storedUnits = toUnits(same.amount);
  if (storedUnits < 0n !== line.units < 0n) {
    const side = line.units < 0n ? 'credit' : 'debit';
    throw new LedgerError('idempotency_conflict', `providerId ${line.providerId} is booked in transaction ${same.transaction_id} on the ${side === 'debit' ? 'credit' : 'debit'} side, not ${side}`, {
      field: 'side',
      value: side,
      context: { providerId: line.providerId, transactionId: String(same.transaction_id), line: String(index) },
    });
  }
  if (storedUnits !== line.units) {
    const field = `lines[${index}].amount`;
    const value = formatUnits(line.units < 0n ? -line.units : line.units);
    throw new LedgerError('idempotency_conflict', `providerId ${line.providerId} is booked in transaction ${same.transaction_id} with amount ${formatUnits(storedUnits < 0n ? -storedUnits : storedUnits)}, not ${value}`, {
      field,
      value,
      context: { providerId: line.providerId, transactionId: String(same.transaction_id) },
    });
  }
  return same.transaction_id;
}

/**
 * Decides a compound posting: which lines exist, the entries with running balances, the new
 * account balances and end-of-day rows. Checks entity, currency, scale, the account rules on
 * every day a back-dated posting moves, and asserts the entries balance. Pure; throws
 * {@link LedgerError} naming the field.
 */
export function planLines(posting: NormalizedLines, context: LinesContext): LinesPlan {
  const contra = accountOf(context, posting.contraAccountId, 'contraAccountId', posting.entity);
  // Each account's running balance, and as text, formatted once: the entry's balance_after, the account row and the day row share it.
  const running = new Map<number, { readonly units: bigint; readonly text: string }>();
  const counts = new Map<number, number>();
  const balanceOf = (account: BulkAccountRow): bigint => running.get(account.id)?.units ?? toUnits(account.balance);
  const existing: (number | undefined)[] = [];
  const lineEntries: BulkEntryRow[] = [];
  let contraUnits = 0n;
  posting.lines.forEach((line, index) => {
    const account = accountOf(context, line.accountId, `lines[${index}].accountId`, posting.entity);
    if (account.currency !== contra.currency) {
      invalid(`lines[${index}].accountId`, line.accountId, `is in ${account.currency}, the contra account in ${contra.currency}`);
    }
    assertCurrencyScale(line.units, { scale: context.currencyScale(account.currency), currency: account.currency, field: `lines[${index}].amount` });
    const stored = storedLine(context, line, index);
    existing.push(stored);
    if (stored !== undefined) return;
    const after = balanceOf(account) + normalDelta(line.units, account.normal_side);
    if (!isStorableUnits(after)) throw storageLimitExceeded(after, { field: 'lines', what: `the balance of account ${account.id} (${account.kind}, ${account.currency})`, context: { accountId: String(account.id), currency: account.currency, line: String(index) } });
    const afterText = formatUnits(after);
    running.set(account.id, { units: after, text: afterText });
    counts.set(account.id, (counts.get(account.id) ?? 0) + 1);
    contraUnits -= line.units;
    lineEntries.push({ account_id: account.id, amount: formatUnits(line.units), balance_after: afterText, provider_id: line.providerId });
  });
  if (lineEntries.length === 0) return { existing, currency: contra.currency, entries: [], accounts: [], dayBalances: [] };
  const contraContext = { accountId: String(contra.id), currency: contra.currency };
  if (!isStorableUnits(contraUnits)) throw storageLimitExceeded(contraUnits, { field: 'lines', what: `the contra entry (the sum of the lines) on account ${contra.id}`, context: contraContext });
  const contraAfter = balanceOf(contra) + normalDelta(contraUnits, contra.normal_side);
  if (!isStorableUnits(contraAfter)) throw storageLimitExceeded(contraAfter, { field: 'lines', what: `the balance of contra account ${contra.id} (${contra.kind}, ${contra.currency})`, context: contraContext });
  const contraAfterText = formatUnits(contraAfter);
  running.set(contra.id, { units: contraAfter, text: contraAfterText });
  counts.set(contra.id, 1);
  const entries = [{ account_id: contra.id, amount: formatUnits(contraUnits), balance_after: contraAfterText, provider_id: null }, ...lineEntries];
  // Invariant before writing: the entries balance, and each balance moved by exactly its entries.
  assertInvariant(entries.reduce((sum, entry) => sum + toUnits(entry.amount), 0n) === 0n, 'compound posting does not balance');
  return { existing, currency: contra.currency, entries, ...accountChanges(posting, context, running, counts) };
}

function accountChanges(
  posting: NormalizedLines,
  context: LinesContext,
  running: ReadonlyMap<number, { readonly units: bigint; readonly text: string }>,
  counts: ReadonlyMap<number, number>,
): Pick<LinesPlan, 'accounts' | 'dayBalances'> {
  const accounts: { id: number; balance: string; last_day: string; entry_count: number }[] = [];
  const dayBalances: BulkDayRow[] = [];
  const day = posting.accountingDay;
  for (const [id, { units: after, text: afterText }] of running) {
    const account = context.accounts.get(id);
    assertInvariant(account !== undefined, `planned account ${id} vanished`);
    const rule = ACCOUNT_KIND_RULES[account.kind as keyof typeof ACCOUNT_KIND_RULES];
    const before = toUnits(account.balance);
    if (after < 0n && !rule.negativeAllowed) {
      throw new LedgerError('insufficient_balance', `account ${id} (${account.kind}, ${account.currency}) has ${formatUnits(before)}; the posting would leave ${formatUnits(after)}`, {
        field: 'lines',
        value: formatUnits(before),
        context: { accountId: String(id), currency: account.currency },
      });
    }
    accounts.push({ id, balance: afterText, last_day: account.last_day !== null && account.last_day > day ? account.last_day : day, entry_count: account.entry_count + (counts.get(id) ?? 0) });
    if (account.last_day === null || account.last_day <= day) {
      dayBalances.push({ account_id: id, accounting_day: day, balance: afterText, fresh: account.last_day === null || account.last_day < day });
      continue;
    }
    const backdated = context.backdated.get(id);
    assertInvariant(backdated !== undefined, `back-dated account ${id} has no day rows read`);
    dayBalances.push(...movedDays(account, day, after - before, backdated, rule.negativeAllowed));
  }
  return { accounts, dayBalances };
}

/** A posting before an account's latest day moves that day's and every later day's closing balance. */
function movedDays(account: BulkAccountRow, day: string, deltaUnits: bigint, backdated: BackdatedDays, negativeAllowed: boolean) {
  const days = new Map(backdated.rows.map((row) => [row.accounting_day, toUnits(row.balance)]));
  if (!days.has(day)) days.set(day, backdated.before === undefined ? 0n : toUnits(backdated.before));
  return [...days].map(([accountingDay, units]) => {
    const moved = units + deltaUnits;
    if (moved < 0n && !negativeAllowed) {
      throw new LedgerError('insufficient_balance', `account ${account.id} would be negative at the end of ${accountingDay} (${formatUnits(moved)})`, {
        field: 'occurredAt',
        value: day,
        context: { accountId: String(account.id), accountingDay },
      });
    }
    if (!isStorableUnits(moved)) throw storageLimitExceeded(moved, { field: 'lines', what: `the balance of account ${account.id} at the end of ${accountingDay}`, context: { accountId: String(account.id), currency: account.currency, accountingDay } });
    return { account_id: account.id, accounting_day: accountingDay, balance: formatUnits(moved), fresh: false };
  });
}

/** The idempotency key and content hash of the transaction a plan writes. */
export function linesTransactionKey(posting: NormalizedLines, plan: LinesPlan): { idempotencyKey: string; requestHash: string } {
  const first = plan.entries[1]?.provider_id;
  assertInvariant(first !== undefined && first !== null, 'a compound transaction has no new line');
  // The first new line's provider id is unique in the entity, so the key is too.
  const requestHash = createHash('sha256')
    .update(JSON.stringify([posting.entity, posting.kind, posting.occurredAt, posting.description, posting.metadata, plan.entries.map((e) => [e.account_id, e.amount, e.provider_id])]))
    .digest('hex');
  return { idempotencyKey: `${RESERVED_KEY_PREFIX}${posting.kind}:${first}`, requestHash };
}
