/**
 * Sync: booking the report's interest, margin and fee entries that the books lack, inside the
 * day's transaction. Interest needs a known Earn account of the entry's currency; an entry that
 * cannot be booked is left to the diff (it reports it). An entry the ledger refuses rejects the
 * whole report (the transaction rolls back).
 *
 * Entries are booked as compound postings (`postLines`): one journal transaction per batch of
 * entries of one kind, currency and `createdAt` instant, each line carrying its entry's provider
 * id (interest: Dr earn_assets once, Cr each user; margin: Dr settlement per entry, Cr
 * partner_margin_income once; fees: Dr fee_expense once, Cr settlement per entry). The ledger
 * keeps them idempotent per provider id, whether a line was booked this way or, before, as a
 * whole transaction of the same kind (`postMany`, the older sync): a re-run books nothing twice.
 *
 * The instant is part of the batch so that each entry keeps its own `occurredAt` (a report's
 * interest shares one instant, so a day's interest is a few transactions of up to
 * {@link LINES_PER_TRANSACTION_MAX} lines). An entry whose provider id the books hold already
 * under another kind cannot be a compound line (an entry's provider id is unique in the entity):
 * it is booked on its own, as a whole transaction, as the older sync did.
 */
import { LINES_PER_TRANSACTION_MAX, LedgerError, PROVIDER_LOOKUP_IDS_MAX, lineOfRefusal, earnAccountsByIds, formatInstant, nextAccountingDay, parseAccountingDay, parseInstant, postingRuleEntries, startOfAccountingDay } from '@earnbook/ledger';
import type { AccountKind, LineInput, Ledger, LinesInput, PostingInput, PostingRuleKind, PostingScope } from '@earnbook/ledger';
import { ReconcileError } from './errors.js';
import { ExternalSorter } from './external-sort.js';
import { kindOfType } from './diff.js';
import type { ReportEntry } from './report-entry.js';
import { systemAccountsFor } from './instructions.js';
import type { EarnAccountRef, EarnLookupAnswer, EarnLookups } from './earn-lookups.js';

/** Counts of entries booked, per kind. */
export interface SyncCounts {
  readonly interest: number;
  readonly partnerMargin: number;
  readonly fee: number;
}

/** What booking reads of a report entry. */
export type BookableEntry = Pick<ReportEntry, 'id' | 'type' | 'currency' | 'amount' | 'createdAt' | 'accountId'>;

/**
 * A report entry to book; `alone` when its provider id is in the books under another kind.
 * `account`: interest's Earn account (its ledger account and currency), when it was looked up
 * before the entry was queued.
 */
export interface SyncEntry {
  readonly entry: BookableEntry;
  readonly alone: boolean;
  readonly account?: EarnAccountRef;
}

/**
 * A queued entry as the sorter stores it: a flat tuple of what booking reads (type, id, currency,
 * amount, createdAt, Earn account, alone, ledger account, its currency), not the report entry
 * nested in an object. Sorting the night's 1M interest entries writes and reads each back once.
 */
type QueuedTuple = [string, string, string, string, string, string | null, boolean, number | null, string | null];

function toQueued({ entry, alone }: SyncEntry, account: SyncEntry['account']): QueuedTuple {
  return [entry.type, entry.id, entry.currency, entry.amount, entry.createdAt, entry.accountId ?? null, alone, account?.ledgerAccountId ?? null, account?.currency ?? null];
}

function fromQueued(tuple: QueuedTuple): SyncEntry {
  const [type, id, currency, amount, createdAt, accountId, alone, ledgerAccountId, accountCurrency] = tuple;
  const entry: BookableEntry = accountId === null ? { id, type, currency, amount, createdAt } : { id, type, currency, amount, createdAt, accountId };
  return ledgerAccountId === null || accountCurrency === null ? { entry, alone } : { entry, alone, account: { ledgerAccountId, currency: accountCurrency } };
}

/** The answer of a lookup that asked for nothing. */
const NO_LOOKUP: EarnLookupAnswer = Object.freeze({ accountAt: () => undefined, final: true });

/**
 * Gathered batches whose Earn account lookup may be under way at once: the gather goes on while
 * a worker answers (`earn-lookups.ts`). Each holds up to `PROVIDER_LOOKUP_IDS_MAX` entries.
 */
const LOOKUPS_IN_FLIGHT_MAX = 4;

/** Digits of a ledger account id in the sync's sort key: a safe integer has at most 16. */
const ACCOUNT_KEY_DIGITS = 16;

/**
 * The entries a day's sync books, gathered while the report is merged with the books (in provider
 * id order, before any write) and booked afterwards in ledger account order: kind, then ledger
 * account id, then provider id. Provider ids are hashes, so in their order every line lands on a
 * random account row, day-balance row and journal index page; at 1M accounts that working set is
 * far larger than the page cache, and the sync ran 20 times slower than at 100k. In ledger account
 * order consecutive lines touch neighbouring rows. The Earn account of each interest entry is
 * looked up while gathering (in batches), so that the order is the ledger's whatever the
 * provider's Earn account ids look like: ordered by Earn account id, as this queue did before,
 * opaque ids (UUIDs) scatter the accounts just as provider ids do (1M accounts with such ids:
 * the nightly job took 156.4 s in that order and 109.6 s in this one, `bench/nightly-accounts.ts`,
 * same machine and load). The lookups go on while the queue gathers, up to
 * {@link LOOKUPS_IN_FLIGHT_MAX} batches at once, on a worker thread where the run has one
 * (`earn-lookups.ts`). An interest entry whose Earn account is unknown, or of another currency,
 * is not queued: the diff reports it; one whose account a worker did not find is queued without
 * it, and looked up again in the transaction when it is booked (the account may be newer than
 * what the worker read). Memory is bounded by the sorter's runs and the lookup batches in flight.
 */
export class SyncQueue {
  readonly #sorter: ExternalSorter<QueuedTuple>;
  readonly #lookups: EarnLookups;
  readonly #ledger: Ledger;
  readonly #entity: string;
  readonly #scope: PostingScope;
  #gathered: SyncEntry[] = [];
  #gatherEnded = false;
  /** Gathered batches whose lookup is under way, oldest first (see {@link LOOKUPS_IN_FLIGHT_MAX}). */
  readonly #asked: { readonly gathered: readonly SyncEntry[]; readonly answer: Promise<EarnLookupAnswer> }[] = [];

  /** `lookups`: where the Earn accounts are looked up (`earn-lookups.ts`); the queue closes them once it has gathered. */
  constructor(ledger: Ledger, input: { entity: string; scope: PostingScope; lookups: EarnLookups; directory?: string }) {
    this.#ledger = ledger;
    this.#entity = input.entity;
    this.#scope = input.scope;
    this.#lookups = input.lookups;
    const key = ([type, id, , , , , , ledgerAccountId]: QueuedTuple) => `${type}\u0000${ledgerAccountId === null ? '' : String(ledgerAccountId).padStart(ACCOUNT_KEY_DIGITS, '0')}\u0000${id}`;
    this.#sorter = new ExternalSorter<QueuedTuple>({ key, ...(input.directory === undefined ? {} : { directory: input.directory }) });
  }

  /** Gathers entries, looking up their Earn accounts a batch at a time. */
  async addAll(entries: Iterable<SyncEntry>): Promise<void> {
    for (const entry of entries) {
      this.#gathered.push(entry);
      if (this.#gathered.length >= PROVIDER_LOOKUP_IDS_MAX) await this.#ask();
    }
  }

  /** Starts the lookup of the gathered interest entries' Earn accounts; queues the oldest batches past those allowed in flight. */
  async #ask(): Promise<void> {
    const gathered = this.#gathered;
    this.#gathered = [];
    const ids: string[] = [];
    for (const { entry } of gathered) if (entry.type === 'Interest' && entry.accountId !== undefined) ids.push(entry.accountId);
    const answer = ids.length === 0 ? Promise.resolve(NO_LOOKUP) : this.#lookups.lookup(ids);
    // Awaited in turn by #queueOldest; until then its failure must not go unhandled.
    answer.catch(() => undefined);
    this.#asked.push({ gathered, answer });
    while (this.#asked.length > LOOKUPS_IN_FLIGHT_MAX) await this.#queueOldest();
  }

  /** Queues what the oldest batch asked for can book, with the Earn accounts its lookup found. */
  async #queueOldest(): Promise<void> {
    const asked = this.#asked.shift();
    if (asked === undefined) return;
    const accounts = await asked.answer;
    const queued: QueuedTuple[] = [];
    let at = 0;
    for (const item of asked.gathered) {
      if (item.entry.type !== 'Interest') {
        queued.push(toQueued(item, item.account));
        continue;
      }
      if (item.entry.accountId === undefined) continue;
      const account = accounts.accountAt(at++);
      // An account the lookup did not find for sure is looked up again when the entry is booked.
      if (account === undefined && !accounts.final) queued.push(toQueued(item, undefined));
      // Interest to an unknown account or in another currency cannot be booked: the diff reports it.
      if (account === undefined || account.currency !== item.entry.currency) continue;
      queued.push(toQueued(item, account));
    }
    await this.#sorter.addAll(queued);
  }

  /**
   * Ends the gather: asks for the last gathered batch and queues every batch asked for; then the
   * lookups are closed. Nothing is written before {@link book}, which ends the gather if this was
   * not called.
   */
  async endGather(): Promise<void> {
    if (this.#gatherEnded) return;
    this.#gatherEnded = true;
    await this.#ask();
    while (this.#asked.length > 0) await this.#queueOldest();
    await this.#lookups.close();
  }

  /** Books every entry gathered, `batchSize` at a time, in ledger account order; returns the counts. */
  async book(input: { day: string; batchSize: number }): Promise<SyncCounts> {
    await this.endGather();
    const counts = { interest: 0, partnerMargin: 0, fee: 0 };
    let pending: SyncEntry[] = [];
    const flush = async () => {
      const booked = await bookEntries(this.#ledger, { entity: this.#entity, day: input.day, entries: pending, scope: this.#scope });
      counts.interest += booked.interest;
      counts.partnerMargin += booked.partnerMargin;
      counts.fee += booked.fee;
      pending = [];
    };
    for await (const item of this.#sorter.sorted()) {
      pending.push(fromQueued(item));
      if (pending.length >= input.batchSize) await flush();
    }
    if (pending.length > 0) await flush();
    return counts;
  }

  async close(): Promise<void> {
    this.#gathered = [];
    this.#asked.length = 0;
    try {
      await this.#lookups.close();
    } finally {
      await this.#sorter.close();
    }
  }
}

type SyncKind = Extract<PostingRuleKind, 'interest' | 'partner_margin' | 'fee'>;

/** How each kind books as a compound posting: the side of its lines and the account kinds of line and contra. */
const COMPOUND_RULES: Readonly<Record<SyncKind, { side: 'debit' | 'credit'; line: AccountKind; contra: AccountKind }>> = Object.freeze({
  interest: { side: 'credit', line: 'user', contra: 'earn_assets' },
  partner_margin: { side: 'debit', line: 'settlement', contra: 'partner_margin_income' },
  fee: { side: 'credit', line: 'settlement', contra: 'fee_expense' },
});

/** The entry's amount, canonical; a digit past its currency's scale rejects the report (zeros past it are no precision). */
function amountOf(ledger: Ledger, entry: BookableEntry): string {
  try {
    return ledger.parseAmount(entry.amount, { field: 'amount', currency: entry.currency });
  } catch (cause) {
    throw new ReconcileError('invalid_report', `report entry ${entry.id} cannot be booked: ${(cause as Error).message}`, { field: 'amount', value: entry.amount, cause });
  }
}

function refused(cause: unknown, entry: BookableEntry | undefined): never {
  if (!(cause instanceof LedgerError)) throw cause;
  const subject = entry === undefined ? "the report's entries" : `report entry ${entry.id}`;
  throw new ReconcileError('invalid_report', `${subject} cannot be booked: ${cause.message}`, {
    ...(cause.field === undefined ? {} : { field: cause.field }),
    ...(cause.value === undefined ? {} : { value: cause.value }),
    ...refusalContext(cause, entry),
    cause,
  });
}

/**
 * The ledger's context of a refusal, as the reconciler tells it: the index of a compound
 * posting's line (`line`) is the sync's own batching, so the report entry's id stands in its
 * place (`reportEntryId`) where the entry is known.
 */
function refusalContext(cause: LedgerError, entry: BookableEntry | undefined): { context?: Readonly<Record<string, string>> } {
  const { line: _line, ...rest } = cause.context ?? {};
  const context: Record<string, string> = entry === undefined ? rest : { ...rest, reportEntryId: entry.id };
  return Object.keys(context).length === 0 ? {} : { context };
}

/** One compound posting being gathered: its lines and the entries they book, in the same order. */
interface Batch {
  readonly posting: Omit<LinesInput, 'lines'>;
  readonly lines: LineInput[];
  readonly entries: BookableEntry[];
}

/** A decided booking: a compound batch, or one entry on its own. */
type Booking = { readonly batch: Batch } | { readonly alone: PostingInput; readonly entry: BookableEntry };

/**
 * Books entries in the scope's transaction (any number: batches are cut at
 * {@link LINES_PER_TRANSACTION_MAX} lines); returns how many were created per kind.
 */
export async function bookEntries(ledger: Ledger, input: { entity: string; day: string; entries: readonly SyncEntry[]; scope: PostingScope }): Promise<SyncCounts> {
  const counts = { interest: 0, partnerMargin: 0, fee: 0 };
  const count = (kind: SyncKind) => {
    if (kind === 'interest') counts.interest++;
    else if (kind === 'partner_margin') counts.partnerMargin++;
    else counts.fee++;
  };
  for (const booking of await decideBookings(ledger, input)) {
    if ('alone' in booking) {
      let results;
      try {
        results = await input.scope.postMany([booking.alone]);
      } catch (cause) {
        refused(cause, booking.entry);
      }
      if (results[0]?.status === 'created') count(booking.alone.kind as SyncKind);
      continue;
    }
    const { batch } = booking;
    let result;
    try {
      // A batch holds only entries whose provider id the day's lookup found nowhere in the books
      // (earlier in this transaction), one entry per id: the ledger need not look them up again.
      result = await input.scope.postLines({ ...batch.posting, lines: batch.lines }, { providerIdsAbsent: true });
    } catch (cause) {
      const index = cause instanceof LedgerError ? lineOfRefusal(cause) : undefined;
      refused(cause, index === undefined ? undefined : batch.entries[index]);
    }
    for (const line of result.lines) if (line.status === 'created') count(batch.posting.kind as SyncKind);
  }
  return counts;
}

/** Reads the accounts the entries need and decides their bookings: compound batches, and entries booked alone. */
async function decideBookings(ledger: Ledger, input: { entity: string; day: string; entries: readonly SyncEntry[]; scope: PostingScope }): Promise<Booking[]> {
  const { entity, scope } = input;
  const accountIds = [...new Set(input.entries.flatMap(({ entry, account }) => (entry.type === 'Interest' && account === undefined && entry.accountId !== undefined ? [entry.accountId] : [])))];
  const accounts = new Map<string, EarnAccountRef>();
  for (let start = 0; start < accountIds.length; start += LINES_PER_TRANSACTION_MAX) {
    for (const [id, account] of await earnAccountsByIds(ledger, { entity, earnAccountIds: accountIds.slice(start, start + LINES_PER_TRANSACTION_MAX) }, scope.db)) accounts.set(id, account);
  }
  const credited = creditedInstant(ledger, entity, input.day);
  const systems = new Map<string, Partial<Record<AccountKind, number>>>();
  const batches = new Map<string, Batch>();
  const bookings: Booking[] = [];
  for (const { entry, alone, account: known } of input.entries) {
    const kind = kindOfType(entry.type) as SyncKind;
    const account = known ?? (entry.accountId === undefined ? undefined : accounts.get(entry.accountId));
    // Interest to an unknown account or in another currency cannot be booked: the diff reports it.
    if (kind === 'interest' && (account === undefined || account.currency !== entry.currency)) continue;
    // Checked before any account is opened: a bad amount opens nothing (the ledger remembers accounts opened in a transaction only once it commits).
    const amount = amountOf(ledger, entry);
    const systemKey = `${kind} ${entry.currency}`;
    let system = systems.get(systemKey);
    if (system === undefined) {
      system = await systemAccountsFor(ledger, { entity, currency: entry.currency, kind }, scope.db);
      systems.set(systemKey, system);
    }
    const userAccountId = account !== undefined && kind === 'interest' ? account.ledgerAccountId : undefined;
    const occurredAt = kind === 'interest' ? credited(entry.createdAt) : entry.createdAt;
    if (alone) {
      const accountsOfRule: Partial<Record<AccountKind, number>> = userAccountId === undefined ? system : { ...system, user: userAccountId };
      bookings.push({ alone: wholePosting({ entity, day: input.day, entry, kind, amount, occurredAt, accounts: accountsOfRule }), entry });
      continue;
    }
    const rule = COMPOUND_RULES[kind];
    // Kind, currency and instant joined by NUL (no object or JSON text per entry): a kind and a
    // currency hold no NUL, so the key is unambiguous.
    const batchKey = `${kind}\u0000${entry.currency}\u0000${occurredAt}`;
    let batch = batches.get(batchKey);
    if (batch === undefined || batch.lines.length >= LINES_PER_TRANSACTION_MAX) {
      const contraAccountId = system[rule.contra] ?? 0;
      batch = { posting: { entity, kind, occurredAt, side: rule.side, contraAccountId, metadata: { interestDay: input.day } }, lines: [], entries: [] };
      batches.set(batchKey, batch);
      bookings.push({ batch });
    }
    batch.lines.push({ accountId: (rule.line === 'user' ? userAccountId : system[rule.line]) ?? 0, amount, providerId: entry.id });
    batch.entries.push(entry);
  }
  return bookings;
}

/**
 * When interest of `day` is booked: at the instant the report gives it, but not before the start of
 * the next day. Interest is computed on the day's closing balance, so booked into the day itself
 * (a provider may date it 23:59) it would change that balance: run again, the day's recomputed
 * interest would no longer match the report (the ledger's own cycle books at the next day's start).
 * Margin and fees go to system accounts, whose balances the recomputation does not read: they keep
 * the report's instant.
 */
function creditedInstant(ledger: Ledger, entity: string, day: string): (createdAt: string) => string {
  const start = startOfAccountingDay(parseAccountingDay(nextAccountingDay(day), 'day'), ledger.entity(entity).timeZone);
  const startText = formatInstant(start);
  // A report's interest shares a few instants: the last one's answer is kept.
  let last: { createdAt: string; credited: string } | undefined;
  return (createdAt) => {
    if (last?.createdAt !== createdAt) last = { createdAt, credited: parseInstant(createdAt, 'createdAt').getTime() < start.getTime() ? startText : createdAt };
    return last.credited;
  };
}

/** An entry booked as a whole transaction (the older sync's posting, same idempotency key). */
function wholePosting(input: { entity: string; day: string; entry: BookableEntry; kind: SyncKind; amount: string; occurredAt: string; accounts: Partial<Record<AccountKind, number>> }): PostingInput {
  const { entry, kind, amount } = input;
  return {
    entity: input.entity,
    kind,
    idempotencyKey: `report:${entry.type}:${entry.id}`,
    occurredAt: input.occurredAt,
    providerId: entry.id,
    metadata: kind === 'interest' ? { interestDay: input.day, earnAccountId: entry.accountId ?? '' } : { interestDay: input.day },
    entries: postingRuleEntries(kind, input.accounts, amount),
  };
}
