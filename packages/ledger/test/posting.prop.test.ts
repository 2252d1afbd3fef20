/**
 * Random postings against a model, per dialect. Valid postings (random accounts of the kinds
 * user, customer_funds, earn_assets and settlement, in one or two currencies, balanced per
 * currency, on random and often back-dated days) keep every invariant, and balances and
 * end-of-day balances equal the model; a posting the model says would take a user account below
 * zero (now or at the end of any later day) is refused with `insufficient_balance`. Invalid
 * postings (unbalanced, unknown account, bad amount strings, mixed entities, over-withdrawals,
 * malformed shapes) throw a `LedgerError` and write nothing.
 *
 * One ledger serves each property (a PostgreSQL schema costs about half a second); keys are
 * unique per run, and every run starts its model from what the books hold.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerError, accountingDayOf, formatUnits, toUnits } from '../src/index.js';
import type { LedgerAccount, Ledger, PostingInput, TransactionKind } from '../src/index.js';
import { DIALECTS, freshLedger } from './dialects.js';

const ENTITIES = [
  { id: 'defi', timeZone: 'Europe/Berlin' },
  { id: 'lending', timeZone: 'UTC' },
] as const;
type EntityId = (typeof ENTITIES)[number]['id'];
const CURRENCIES = ['BTC', 'ETH'] as const;
type Currency = (typeof CURRENCIES)[number];
/** Per (entity, currency) book: two users, then customer_funds, earn_assets, settlement. */
const ROLES = ['user:a', 'user:b', 'customer_funds', 'earn_assets', 'settlement'] as const;
const USER_ROLES = 2;
const POSTING_KINDS: readonly TransactionKind[] = ['deposit', 'withdrawal', 'interest', 'partner_margin', 'fee', 'settlement', 'adjustment'];
const NUM_RUNS = Number(process.env['EARNBOOK_PROP_RUNS'] ?? 40);
const UNITS_PER_COIN = 10n ** 18n;

type Books = ReadonlyMap<string, readonly LedgerAccount[]>;
const bookKey = (entity: string, currency: string) => `${entity} ${currency}`;

async function openBooks(ledger: Ledger): Promise<Books> {
  const books = new Map<string, LedgerAccount[]>();
  for (const { id: entity } of ENTITIES) {
    for (const currency of CURRENCIES) {
      const accounts: LedgerAccount[] = [];
      for (const role of ROLES) {
        accounts.push(
          role.startsWith('user:')
            ? await ledger.openAccount({ entity, currency, code: role, kind: 'user' })
            : await ledger.systemAccount(entity, currency, role as 'customer_funds' | 'earn_assets' | 'settlement'),
        );
      }
      books.set(bookKey(entity, currency), accounts);
    }
  }
  return books;
}

function accountOf(books: Books, entity: string, currency: string, role: number): LedgerAccount {
  const account = books.get(bookKey(entity, currency))?.[role];
  if (account === undefined) throw new Error(`no account ${entity} ${currency} ${role}`);
  return account;
}

/** The model of one account: its balance and end-of-day balance rows (day → balance). */
interface AccountModel {
  readonly account: LedgerAccount;
  balance: bigint;
  days: Map<string, bigint>;
}

type Model = Map<number, AccountModel>;

/** Reads the model from the books: what the run starts from. */
async function loadModel(ledger: Ledger, books: Books): Promise<Model> {
  const model: Model = new Map();
  const balances = new Map((await ledger.db.selectFrom('ledger_accounts').select(['id', 'balance']).execute()).map((row) => [row.id, toUnits(String(row.balance))]));
  for (const accounts of books.values()) {
    for (const account of accounts) model.set(account.id, { account, balance: balances.get(account.id) ?? 0n, days: new Map() });
  }
  const rows = await ledger.db.selectFrom('account_day_balances').select(['account_id', 'accounting_day', 'balance']).execute();
  for (const row of rows) model.get(row.account_id)?.days.set(row.accounting_day, toUnits(String(row.balance)));
  return model;
}

function endOfDay(entry: AccountModel, day: string): bigint {
  let latest: string | undefined;
  for (const candidate of entry.days.keys()) if (candidate <= day && (latest === undefined || candidate > latest)) latest = candidate;
  return latest === undefined ? 0n : (entry.days.get(latest) ?? 0n);
}

/**
 * What the model expects of a posting: the normal-side change per account, or the refusal when a
 * user account would end below zero now or at the end of the posting's day or any later day.
 */
function expectOf(model: Model, input: PostingInput, day: string): { refused: boolean; deltas: Map<number, bigint> } {
  const deltas = new Map<number, bigint>();
  for (const entry of input.entries) {
    const account = model.get(entry.accountId)?.account;
    if (account === undefined) throw new Error(`model has no account ${entry.accountId}`);
    const signed = (entry.side === 'debit' ? 1n : -1n) * toUnits(entry.amount);
    deltas.set(account.id, (deltas.get(account.id) ?? 0n) + (account.normalSide === 'debit' ? signed : -signed));
  }
  for (const [id, delta] of deltas) {
    const entry = model.get(id);
    if (entry === undefined || entry.account.kind !== 'user' || delta >= 0n) continue;
    if (entry.balance + delta < 0n || endOfDay(entry, day) + delta < 0n) return { refused: true, deltas };
    for (const [later, balance] of entry.days) if (later > day && balance + delta < 0n) return { refused: true, deltas };
  }
  return { refused: false, deltas };
}

function apply(model: Model, deltas: ReadonlyMap<number, bigint>, day: string): void {
  for (const [id, delta] of deltas) {
    const entry = model.get(id);
    if (entry === undefined) continue;
    entry.balance += delta;
    const previous = endOfDay(entry, day);
    if (!entry.days.has(day)) entry.days.set(day, previous);
    for (const [other, balance] of entry.days) if (other >= day) entry.days.set(other, balance + delta);
  }
}

/** Everything a failed posting must leave untouched. */
async function snapshot(ledger: Ledger) {
  const [transactions, entries, accounts, days] = await Promise.all([
    ledger.db.selectFrom('journal_transactions').select(['id', 'idempotency_key']).orderBy('id').execute(),
    ledger.db.selectFrom('journal_entries').select(['id']).orderBy('id').execute(),
    ledger.db.selectFrom('ledger_accounts').select(['id', 'balance', 'last_day', 'entry_count']).orderBy('id').execute(),
    ledger.db.selectFrom('account_day_balances').select(['account_id', 'accounting_day', 'balance']).orderBy('account_id').orderBy('accounting_day').execute(),
  ]);
  const normalize = <T extends { balance: unknown }>(rows: T[]) => rows.map((row) => ({ ...row, balance: formatUnits(toUnits(String(row.balance))) }));
  return { transactions, entries: entries.length, accounts: normalize(accounts), days: normalize(days) };
}

/** Checks the books against the model: invariants, balances, day rows, and day rows against entries. */
async function expectBooksMatch(ledger: Ledger, model: Model): Promise<void> {
  await ledger.verify({ allEntities: true });
  const stored = await loadModel(ledger, new Map([['all', [...model.values()].map((entry) => entry.account)]]));
  for (const [id, entry] of model) {
    const actual = stored.get(id);
    expect(formatUnits(actual?.balance ?? 0n), `balance of ${entry.account.code} (${id})`).toBe(formatUnits(entry.balance));
    expect(actual?.days, `day rows of ${entry.account.code} (${id})`).toEqual(entry.days);
  }
  // Every end-of-day row equals the sum of the account's entries up to that day, read straight
  // from the entries; a user account never ends a day below zero.
  const rows = await ledger.db.selectFrom('journal_entries').select(['account_id', 'accounting_day', 'amount']).execute();
  for (const [id, entry] of model) {
    for (const [day, balance] of entry.days) {
      let total = 0n;
      for (const row of rows) if (row.account_id === id && row.accounting_day <= day) total += toUnits(String(row.amount));
      expect(formatUnits(entry.account.normalSide === 'debit' ? total : -total), `${entry.account.code} (${id}) at the end of ${day}`).toBe(formatUnits(balance));
      if (entry.account.kind === 'user') expect(balance >= 0n, `${entry.account.code} at the end of ${day}`).toBe(true);
    }
    // The public reader agrees on a day inside the range and before any posting.
    if (entry.account.kind === 'user') {
      expect(await ledger.balanceAtEndOfDay(id, '2025-03-12'), `${entry.account.code} at the end of 2025-03-12`).toBe(formatUnits(endOfDay(entry, '2025-03-12')));
      expect(await ledger.balanceAtEndOfDay(id, '2025-03-09')).toBe(formatUnits(0n));
    }
  }
}

// ---- Generators ----

/** Amounts in minor units: dust, everyday amounts and large ones. */
const unitsArbitrary = fc.oneof(
  fc.bigInt({ min: 1n, max: 1_000n }),
  fc.bigInt({ min: 1n, max: 10n * UNITS_PER_COIN }),
  fc.bigInt({ min: 1n, max: 10n ** 6n * UNITS_PER_COIN }),
);

/** The same amount spelled canonically, without trailing zeros, or with a leading zero. */
function spell(units: bigint, spelling: number): string {
  const canonical = formatUnits(units);
  if (spelling === 1) return canonical.replace(/\.?0+$/, '');
  if (spelling === 2) return `0${canonical}`;
  return canonical;
}

interface LegShape {
  readonly currency: Currency;
  readonly debit: number;
  readonly creditOffset: number;
  readonly units: bigint;
  readonly spelling: number;
}

interface PostingShape {
  readonly entity: EntityId;
  readonly kind: TransactionKind;
  readonly occurredAt: string;
  readonly legs: readonly LegShape[];
}

const legArbitrary: fc.Arbitrary<LegShape> = fc.record({
  currency: fc.constantFrom(...CURRENCIES),
  // Users are debited less often than system accounts, so that most postings are valid.
  debit: fc.oneof({ weight: 1, arbitrary: fc.integer({ min: 0, max: USER_ROLES - 1 }) }, { weight: 3, arbitrary: fc.integer({ min: USER_ROLES, max: ROLES.length - 1 }) }),
  creditOffset: fc.integer({ min: 1, max: ROLES.length - 1 }),
  units: unitsArbitrary,
  spelling: fc.integer({ min: 0, max: 2 }),
});

const postingArbitrary: fc.Arbitrary<PostingShape> = fc.record({
  entity: fc.constantFrom(...ENTITIES.map((entity) => entity.id)),
  kind: fc.constantFrom(...POSTING_KINDS),
  // Six days, any minute: Berlin's day starts at 23:00 UTC, and many postings are back-dated.
  occurredAt: fc
    .tuple(fc.integer({ min: 10, max: 15 }), fc.integer({ min: 0, max: 24 * 60 - 1 }))
    .map(([day, minute]) => `2025-03-${day}T${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}:00Z`),
  legs: fc.array(legArbitrary, { minLength: 1, maxLength: 3 }),
});

let keySequence = 0;
const nextKey = () => `p-${Date.now().toString(36)}-${keySequence++}`;

function toInput(books: Books, shape: PostingShape, key: string): PostingInput {
  return {
    entity: shape.entity,
    kind: shape.kind,
    idempotencyKey: key,
    occurredAt: shape.occurredAt,
    entries: shape.legs.flatMap((leg) => {
      const amount = spell(leg.units, leg.spelling);
      return [
        { accountId: accountOf(books, shape.entity, leg.currency, leg.debit).id, side: 'debit' as const, amount },
        { accountId: accountOf(books, shape.entity, leg.currency, (leg.debit + leg.creditOffset) % ROLES.length).id, side: 'credit' as const, amount },
      ];
    }),
  };
}

const dayOf = (shape: { entity: EntityId; occurredAt: string }) =>
  accountingDayOf(new Date(shape.occurredAt), ENTITIES.find((entity) => entity.id === shape.entity)?.timeZone ?? 'UTC');

async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error('expected the posting to be refused, but it was written'),
    (error: unknown) => error,
  );
}

/** Posts a valid-shaped posting and checks it against the model; answers whether it was created. */
async function postAndCheck(ledger: Ledger, books: Books, model: Model, shape: PostingShape): Promise<boolean> {
  const input = toInput(books, shape, nextKey());
  const day = dayOf(shape);
  const expected = expectOf(model, input, day);
  if (expected.refused) {
    const before = await snapshot(ledger);
    const error = await caught(ledger.post(input));
    expect(error, `expected insufficient_balance for ${JSON.stringify(input)}`).toBeInstanceOf(LedgerError);
    expect((error as LedgerError).code).toBe('insufficient_balance');
    expect(await snapshot(ledger)).toEqual(before);
    return false;
  }
  const result = await ledger.post(input);
  expect(result.status).toBe('created');
  expect(result.transaction.accountingDay).toBe(day);
  expect(result.transaction.entries.map((entry) => [entry.accountId, entry.side, entry.amount])).toEqual(
    input.entries.map((entry) => [entry.accountId, entry.side, formatUnits(toUnits(entry.amount))]),
  );
  apply(model, expected.deltas, day);
  // A replay of the same key answers the stored transaction and changes nothing.
  const replay = await ledger.post(input);
  expect(replay.status).toBe('exists');
  expect(replay.transaction).toEqual(result.transaction);
  return true;
}

// ---- Invalid postings ----

type Mutation =
  | { readonly kind: 'unbalanced'; readonly entry: number; readonly extraUnits: bigint }
  | { readonly kind: 'unknown_account'; readonly entry: number; readonly accountId: number }
  | { readonly kind: 'bad_amount'; readonly entry: number; readonly amount: unknown }
  | { readonly kind: 'mixed_entity'; readonly entry: number }
  | { readonly kind: 'cross_currency'; readonly leg: number }
  | { readonly kind: 'over_withdrawal'; readonly role: number; readonly currency: Currency; readonly extraUnits: bigint }
  | { readonly kind: 'unknown_entity'; readonly entity: string }
  | { readonly kind: 'bad_shape'; readonly shape: 'one_entry' | 'bad_side' | 'bad_account_id' | 'no_entries' }
  | { readonly kind: 'batch'; readonly entry: number; readonly extraUnits: bigint };

const BAD_AMOUNTS: readonly unknown[] = ['0', '-1', '-0.5', '1e3', '1E-3', ' 1', '1 ', '+1', '.5', '5.', '1,5', '0x10', 'NaN', 'Infinity', '', '١', '1.0000000000000000001', `1${'0'.repeat(24)}`, 1, 1.5, 10n, null, {}, ['1']];

const mutationArbitrary: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('unbalanced' as const), entry: fc.nat(), extraUnits: unitsArbitrary }),
  fc.record({ kind: fc.constant('unknown_account' as const), entry: fc.nat(), accountId: fc.integer({ min: 10_000_000, max: 2_000_000_000 }) }),
  fc.record({ kind: fc.constant('bad_amount' as const), entry: fc.nat(), amount: fc.constantFrom(...BAD_AMOUNTS) }),
  fc.record({ kind: fc.constant('mixed_entity' as const), entry: fc.nat() }),
  fc.record({ kind: fc.constant('cross_currency' as const), leg: fc.nat() }),
  fc.record({
    kind: fc.constant('over_withdrawal' as const),
    role: fc.integer({ min: 0, max: USER_ROLES - 1 }),
    currency: fc.constantFrom(...CURRENCIES),
    extraUnits: unitsArbitrary,
  }),
  fc.record({ kind: fc.constant('unknown_entity' as const), entity: fc.constantFrom('cefi', 'DEFI', 'defi ', '') }),
  fc.record({ kind: fc.constant('bad_shape' as const), shape: fc.constantFrom('one_entry' as const, 'bad_side' as const, 'bad_account_id' as const, 'no_entries' as const) }),
  fc.record({ kind: fc.constant('batch' as const), entry: fc.nat(), extraUnits: unitsArbitrary }),
);

/** Builds the invalid posting(s) of a mutation and the error they must raise. */
function mutate(books: Books, model: Model, shape: PostingShape, mutation: Mutation): { inputs: PostingInput[]; code: string; field?: string } {
  const base = toInput(books, shape, nextKey());
  const entries = base.entries.map((entry) => ({ ...entry }));
  const pick = (index: number) => index % entries.length;
  const other = shape.entity === 'defi' ? 'lending' : 'defi';
  switch (mutation.kind) {
    case 'unbalanced': {
      const entry = entries[pick(mutation.entry)]!;
      entry.amount = formatUnits(toUnits(entry.amount) + mutation.extraUnits);
      return { inputs: [{ ...base, entries }], code: 'unbalanced_transaction', field: 'entries' };
    }
    case 'unknown_account': {
      const index = pick(mutation.entry);
      entries[index]!.accountId = mutation.accountId;
      return { inputs: [{ ...base, entries }], code: 'unknown_account', field: `entries[${index}].accountId` };
    }
    case 'bad_amount': {
      const index = pick(mutation.entry);
      (entries[index] as { amount: unknown }).amount = mutation.amount;
      return { inputs: [{ ...base, entries }], code: 'invalid_amount', field: `entries[${index}].amount` };
    }
    case 'mixed_entity': {
      // The same role in the other entity's book: the first such entry is named.
      const index = pick(mutation.entry);
      const leg = shape.legs[Math.floor(index / 2)]!;
      const role = index % 2 === 0 ? leg.debit : (leg.debit + leg.creditOffset) % ROLES.length;
      entries[index]!.accountId = accountOf(books, other, leg.currency, role).id;
      return { inputs: [{ ...base, entries }], code: 'mixed_entities', field: `entries[${index}].accountId` };
    }
    case 'cross_currency': {
      // One leg debits a BTC account and credits an ETH account with the same amount.
      const legIndex = mutation.leg % shape.legs.length;
      const leg = shape.legs[legIndex]!;
      const otherCurrency: Currency = leg.currency === 'BTC' ? 'ETH' : 'BTC';
      entries[legIndex * 2 + 1]!.accountId = accountOf(books, shape.entity, otherCurrency, (leg.debit + leg.creditOffset) % ROLES.length).id;
      return { inputs: [{ ...base, entries }], code: 'unbalanced_transaction', field: 'entries' };
    }
    case 'over_withdrawal': {
      const user = accountOf(books, shape.entity, mutation.currency, mutation.role);
      const funds = accountOf(books, shape.entity, mutation.currency, 2);
      const amount = formatUnits((model.get(user.id)?.balance ?? 0n) + mutation.extraUnits);
      return {
        inputs: [{ ...base, kind: 'withdrawal', entries: [{ accountId: user.id, side: 'debit', amount }, { accountId: funds.id, side: 'credit', amount }] }],
        code: 'insufficient_balance',
      };
    }
    case 'unknown_entity':
      return { inputs: [{ ...base, entity: mutation.entity }], code: 'unknown_entity', field: 'entity' };
    case 'bad_shape': {
      if (mutation.shape === 'one_entry') return { inputs: [{ ...base, entries: entries.slice(0, 1) }], code: 'invalid_input', field: 'entries' };
      if (mutation.shape === 'no_entries') return { inputs: [{ ...base, entries: [] }], code: 'invalid_input', field: 'entries' };
      if (mutation.shape === 'bad_side') {
        (entries[0] as { side: unknown }).side = 'both';
        return { inputs: [{ ...base, entries }], code: 'invalid_input', field: 'entries[0].side' };
      }
      (entries[0] as { accountId: unknown }).accountId = '1';
      return { inputs: [{ ...base, entries }], code: 'invalid_input', field: 'entries[0].accountId' };
    }
    case 'batch': {
      // A valid posting and an unbalanced one in one postMany: neither is written. (Should the
      // first one take a user below zero, that is what the batch fails on.)
      const entry = entries[pick(mutation.entry)]!;
      entry.amount = formatUnits(toUnits(entry.amount) + mutation.extraUnits);
      const first = expectOf(model, base, dayOf(shape)).refused;
      return { inputs: [base, { ...base, idempotencyKey: nextKey(), entries }], code: first ? 'insufficient_balance' : 'unbalanced_transaction', ...(first ? {} : { field: 'entries' }) };
    }
  }
}

describe.each(DIALECTS)('random postings on %s', (dialect) => {
  let ledger: Ledger;
  let books: Books;
  let close: () => Promise<void>;

  beforeAll(async () => {
    const opened = await freshLedger(dialect, { entities: ENTITIES });
    ledger = opened.ledger;
    close = opened.close;
    books = await openBooks(ledger);
  });
  afterAll(async () => close());

  it('valid postings keep the invariants and the balances of the model; over-withdrawals are refused', async () => {
    let created = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(postingArbitrary, { minLength: 1, maxLength: 6 }), async (shapes) => {
        const model = await loadModel(ledger, books);
        for (const shape of shapes) {
          if (await postAndCheck(ledger, books, model, shape)) created++;
          else refused++;
        }
        await expectBooksMatch(ledger, model);
      }),
      { numRuns: NUM_RUNS },
    );
    // The generators must reach both outcomes, or the property proves little.
    expect(created).toBeGreaterThan(NUM_RUNS);
    expect(refused).toBeGreaterThan(0);
  });

  it('invalid postings throw a LedgerError and write nothing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(postingArbitrary, { maxLength: 2 }), postingArbitrary, mutationArbitrary, async (setup, shape, mutation) => {
        const model = await loadModel(ledger, books);
        for (const valid of setup) await postAndCheck(ledger, books, model, valid);
        const { inputs, code, field } = mutate(books, model, shape, mutation);
        const before = await snapshot(ledger);
        const error = await caught(inputs.length === 1 ? ledger.post(inputs[0]!) : ledger.postMany(inputs));
        expect(error, JSON.stringify(mutation, (_, value: unknown) => (typeof value === 'bigint' ? `${value}n` : value))).toBeInstanceOf(LedgerError);
        expect((error as LedgerError).code).toBe(code);
        if (field !== undefined) expect((error as LedgerError).field).toBe(field);
        expect(await snapshot(ledger)).toEqual(before);
        for (const input of inputs) {
          if (typeof input.entity === 'string' && ledger.entities.has(input.entity)) expect(await ledger.transactionByKey(input.entity, input.idempotencyKey)).toBeUndefined();
        }
        await expectBooksMatch(ledger, model);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('refuses an amount with more decimals than its currency allows, writing nothing', async () => {
    // currencyScales promises: an input with a non-zero digit past the scale is refused. A posting is an input.
    const scaled = await freshLedger(dialect, { currencyScales: { BTC: 8 } });
    try {
      const user = await scaled.ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'user:a', kind: 'user' });
      const funds = await scaled.ledger.systemAccount('defi', 'BTC', 'customer_funds');
      const amount = '0.000000001';
      const error = await caught(
        scaled.ledger.post({
          entity: 'defi',
          kind: 'deposit',
          idempotencyKey: 'too-fine',
          occurredAt: '2025-03-10T10:00:00Z',
          entries: [
            { accountId: funds.id, side: 'debit', amount },
            { accountId: user.id, side: 'credit', amount },
          ],
        }),
      );
      expect(error).toBeInstanceOf(LedgerError);
      expect((error as LedgerError).code).toBe('invalid_amount');
      expect((error as LedgerError).field).toBe('entries[0].amount');
      expect(await scaled.ledger.transactionByKey('defi', 'too-fine')).toBeUndefined();
    } finally {
      await scaled.close();
    }
  });
});
