import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LINES_PER_TRANSACTION_MAX, LedgerError, LedgerInvariantError } from '../src/index.js';
import type { Ledger, LedgerAccount, LinesInput } from '../src/index.js';
import { DIALECTS, freshLedger } from './dialects.js';
import { interestLines } from './support/compound.js';

async function expectLedgerError(promise: Promise<unknown>, code: string, field?: string): Promise<LedgerError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(LedgerError);
  expect((error as LedgerError).code).toBe(code);
  if (field !== undefined) expect((error as LedgerError).field).toBe(field);
  return error as LedgerError;
}

/** Everything the journal stores, to prove a refused write wrote nothing. */
async function snapshot(ledger: Ledger): Promise<string> {
  const tables = ['journal_transactions', 'journal_entries', 'ledger_accounts', 'account_day_balances'] as const;
  const parts: unknown[] = [];
  for (const table of tables) parts.push(await ledger.db.selectFrom(table).selectAll().execute());
  return JSON.stringify(parts, (_, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
}

describe.each(DIALECTS)('compound postings (postLines) on %s', (dialect) => {
  let ledger: Ledger;
  let close: () => Promise<void>;
  let earnAssets: LedgerAccount;
  let users: LedgerAccount[];

  beforeEach(async () => {
    const opened = await freshLedger(dialect, { currencyScales: { USDC: 6 } });
    ledger = opened.ledger;
    close = opened.close;
    earnAssets = await ledger.systemAccount('defi', 'BTC', 'earn_assets');
    users = [];
    for (let i = 0; i < 4; i++) users.push(await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: `user:u${i}`, kind: 'user' }));
  });
  afterEach(async () => close());

  const user = (index: number): LedgerAccount => {
    const account = users[index];
    if (account === undefined) throw new Error(`no user ${index}`);
    return account;
  };
  const interest = (lines: LinesInput['lines'], occurredAt?: string): LinesInput => interestLines(earnAssets.id, lines, occurredAt);

  it('providerIdsAbsent in a scope: the caller\'s word skips the lookup; a wrong word books nothing twice, the transaction rolls back', async () => {
    const first = await ledger.transact((scope) => scope.postLines(interest([{ accountId: user(0).id, amount: '0.1', providerId: 'p-0' }]), { providerIdsAbsent: true }));
    expect(first.lines.map((line) => line.status)).toEqual(['created']);
    const before = await snapshot(ledger);
    // p-0 is booked: said absent, the database's unique index refuses it, and nothing of the
    // transaction stays (the other posting in it included), however the caller handles the error.
    const error = await ledger
      .transact(async (scope) => {
        await scope.postLines(interest([{ accountId: user(1).id, amount: '0.2', providerId: 'p-1' }]));
        await scope.postLines(interest([{ accountId: user(0).id, amount: '0.1', providerId: 'p-0' }]), { providerIdsAbsent: true }).catch(() => undefined);
      })
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );
    expect(error).toBeInstanceOf(LedgerError);
    expect((error as LedgerError).code).toBe('transaction_aborted');
    expect(await snapshot(ledger)).toBe(before);
    // Without the option the same line is answered exists, as ever.
    const again = await ledger.transact((scope) => scope.postLines(interest([{ accountId: user(0).id, amount: '0.1', providerId: 'p-0' }])));
    expect(again.lines.map((line) => line.status)).toEqual(['exists']);
    await ledger.verify({ entity: 'defi' });
  });

  it.runIf(dialect === 'postgres')('inserts an account\'s first end-of-day row of a day without a conflict check: one there already, past the account\'s last day (broken books), fails the posting and writes nothing', async () => {
    // u0's row of the 19th exists once this is booked: the next posting upserts it.
    await ledger.postLines(interest([{ accountId: user(0).id, amount: '0.1', providerId: 'p-0' }]));
    // Broken books: a row of the 19th for u1, whose account row says it has none.
    await ledger.db.insertInto('account_day_balances').values({ account_id: user(1).id, accounting_day: '2025-03-19', balance: '0.000000000000000000' }).execute();
    const before = await snapshot(ledger);
    const lines = interest([
      { accountId: user(0).id, amount: '0.2', providerId: 'p-1' },
      { accountId: user(1).id, amount: '0.1', providerId: 'p-2' },
    ]);
    const error = await ledger.postLines(lines).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(LedgerInvariantError);
    expect((error as Error).message).toContain(`(account_id, accounting_day)=(${user(1).id}, 2025-03-19) already exists`);
    expect(await snapshot(ledger)).toBe(before);
    // Without u1, the same day books (u0's row is upserted, u2's inserted).
    const booked = await ledger.postLines(interest([{ accountId: user(0).id, amount: '0.2', providerId: 'p-1' }, { accountId: user(2).id, amount: '0.3', providerId: 'p-3' }]));
    expect(booked.lines.map((line) => line.status)).toEqual(['created', 'created']);
    expect(await ledger.balanceAtEndOfDay(user(0).id, '2025-03-19')).toBe('0.300000000000000000');
  });

  it('books many lines in one transaction: one contra entry, balances now and at the end of the day, verify', async () => {
    const result = await ledger.postLines(
      interest([
        { accountId: user(0).id, amount: '0.1', providerId: 'p-0' },
        { accountId: user(1).id, amount: '0.25', providerId: 'p-1' },
        { accountId: user(2).id, amount: '0.000000000000000001', providerId: 'p-2' },
      ]),
    );
    expect(result.transactionId).not.toBeNull();
    expect(result.lines.map((line) => line.status)).toEqual(['created', 'created', 'created']);
    const transaction = await ledger.transaction(result.transactionId ?? 0);
    expect(transaction.kind).toBe('interest');
    expect(transaction.accountingDay).toBe('2025-03-19');
    expect(transaction.metadata).toEqual({ interestDay: '2025-03-18' });
    expect(transaction.entries.map((entry) => [entry.accountId, entry.side, entry.amount, entry.providerId])).toEqual([
      [earnAssets.id, 'debit', '0.350000000000000001', null],
      [user(0).id, 'credit', '0.100000000000000000', 'p-0'],
      [user(1).id, 'credit', '0.250000000000000000', 'p-1'],
      [user(2).id, 'credit', '0.000000000000000001', 'p-2'],
    ]);
    expect(await ledger.balance(earnAssets.id)).toBe('0.350000000000000001');
    expect(await ledger.balance(user(1).id)).toBe('0.250000000000000000');
    expect(await ledger.balanceAtEndOfDay(user(1).id, '2025-03-18')).toBe('0.000000000000000000');
    expect(await ledger.balanceAtEndOfDay(user(1).id, '2025-03-19')).toBe('0.250000000000000000');
    const history = await ledger.history(user(0).id);
    expect(history.items[0]?.providerId).toBe('p-0');
    await ledger.verify({ entity: 'defi' });
  });

  it('is idempotent per line: booked lines are exists, the rest go into a new transaction', async () => {
    const first = await ledger.postLines(interest([{ accountId: user(0).id, amount: '1', providerId: 'p-0' }]));
    const before = await snapshot(ledger);
    const again = await ledger.postLines(interest([{ accountId: user(0).id, amount: '1', providerId: 'p-0' }]));
    expect(again).toEqual({ transactionId: null, lines: [{ status: 'exists', transactionId: first.transactionId }] });
    expect(await snapshot(ledger)).toBe(before);
    const mixed = await ledger.postLines(
      interest([
        { accountId: user(0).id, amount: '1', providerId: 'p-0' },
        { accountId: user(1).id, amount: '2', providerId: 'p-1' },
      ]),
    );
    expect(mixed.lines).toEqual([
      { status: 'exists', transactionId: first.transactionId },
      { status: 'created', transactionId: mixed.transactionId },
    ]);
    expect((await ledger.transaction(mixed.transactionId ?? 0)).entries).toHaveLength(2);
    expect(await ledger.balance(user(0).id)).toBe('1.000000000000000000');
    expect(await ledger.balance(earnAssets.id)).toBe('3.000000000000000000');
    await ledger.verify({ entity: 'defi' });
  });

  it('names the differing field when a provider id was booked with other content, and writes nothing', async () => {
    await ledger.postLines(interest([{ accountId: user(0).id, amount: '1', providerId: 'p-0' }]));
    const before = await snapshot(ledger);
    const amount = await expectLedgerError(
      ledger.postLines(interest([{ accountId: user(1).id, amount: '5', providerId: 'p-9' }, { accountId: user(0).id, amount: '1.5', providerId: 'p-0' }])),
      'idempotency_conflict',
      'lines[1].amount',
    );
    expect(amount.value).toBe('1.500000000000000000');
    await expectLedgerError(ledger.postLines(interest([{ accountId: user(2).id, amount: '1', providerId: 'p-0' }])), 'idempotency_conflict', 'lines[0].accountId');
    expect(await snapshot(ledger)).toBe(before);
  });

  it('names side when a provider id was booked on the other side, and writes nothing', async () => {
    const first = await ledger.postLines(interest([{ accountId: user(0).id, amount: '1', providerId: 'p-0' }]));
    const single = await ledger.post({
      entity: 'defi',
      kind: 'interest',
      idempotencyKey: 'interest:p-1',
      occurredAt: '2025-03-19T00:00:00Z',
      providerId: 'p-1',
      entries: [
        { accountId: earnAssets.id, side: 'debit', amount: '1' },
        { accountId: user(1).id, side: 'credit', amount: '1' },
      ],
    });
    const before = await snapshot(ledger);
    // Same account and amount on the other side: the side differs, not the amount.
    const line = await expectLedgerError(ledger.postLines({ ...interest([{ accountId: user(0).id, amount: '1', providerId: 'p-0' }]), side: 'debit' }), 'idempotency_conflict', 'side');
    expect(line.value).toBe('debit');
    expect(line.context).toEqual({ providerId: 'p-0', transactionId: String(first.transactionId), line: '0' });
    // Booked as a whole transaction of the kind; a new line before it, and another amount too: side comes first.
    const whole = await expectLedgerError(
      ledger.postLines({ ...interest([{ accountId: user(2).id, amount: '1', providerId: 'p-2' }, { accountId: user(1).id, amount: '2', providerId: 'p-1' }]), side: 'debit' }),
      'idempotency_conflict',
      'side',
    );
    expect(whole.context?.['transactionId']).toBe(String(single.transaction.id));
    expect(whole.context?.['line']).toBe('1');
    // The same side with another amount is still an amount conflict.
    await expectLedgerError(ledger.postLines(interest([{ accountId: user(0).id, amount: '2', providerId: 'p-0' }])), 'idempotency_conflict', 'lines[0].amount');
    expect(await snapshot(ledger)).toBe(before);
  });

  it('validates scope.postLines input as postLines does, whatever properties it carries', async () => {
    const line = { accountId: user(0).id, amount: '1', providerId: 'p-0' };
    // A caller's object that happens to look normalized (an accountingDay, signed units) is input all the same.
    const disguised = (input: LinesInput) => ({ ...input, accountingDay: '1999-01-01', lines: input.lines.map((each) => ({ ...each, units: -5n })) }) as unknown as LinesInput;
    const before = await snapshot(ledger);
    const refusals: [LinesInput, string, string][] = [
      [interest([{ ...line, amount: '-1' }]), 'invalid_amount', 'lines[0].amount'],
      [interest([{ ...line, amount: 1 as unknown as string }]), 'invalid_amount', 'lines[0].amount'],
      [interest([line, { ...line, accountId: user(1).id }]), 'invalid_input', 'lines[1].providerId'],
      [interest([{ ...line, accountId: earnAssets.id }]), 'invalid_input', 'lines[0].accountId'],
      [{ ...interest([line]), kind: 'reversal' as 'interest' }, 'invalid_input', 'kind'],
      [{ ...interest([line]), side: 'up' as 'credit' }, 'invalid_input', 'side'],
      [{ ...interest([line]), entity: 'nope' }, 'unknown_entity', 'entity'],
      [interest([line], 'yesterday'), 'invalid_instant', 'occurredAt'],
      [interest([]), 'invalid_input', 'lines'],
    ];
    for (const [input, code, field] of refusals) {
      await expectLedgerError(ledger.postLines(disguised(input)), code, field);
      const inScope = await ledger.transact(async (scope) => scope.postLines(disguised(input)).then(() => undefined, (error: unknown) => error));
      expect(inScope).toBeInstanceOf(LedgerError);
      expect([(inScope as LedgerError).code, (inScope as LedgerError).field]).toEqual([code, field]);
    }
    await expectLedgerError(ledger.transact((scope) => scope.postLines(null as unknown as LinesInput)), 'unknown_entity', 'entity');
    expect(await snapshot(ledger)).toBe(before);
    // Valid input is booked from its own fields: the day of occurredAt, the amount of the line.
    const result = await ledger.transact((scope) => scope.postLines(disguised(interest([line]))));
    const transaction = await ledger.transaction(result.transactionId ?? 0);
    expect(transaction.accountingDay).toBe('2025-03-19');
    expect(transaction.entries.map((entry) => [entry.accountId, entry.side, entry.amount])).toEqual([
      [earnAssets.id, 'debit', '1.000000000000000000'],
      [user(0).id, 'credit', '1.000000000000000000'],
    ]);
    await ledger.verify({ entity: 'defi' });
  });

  it('writes a line booked before nowhere twice when it comes back among new lines, whatever its place', async () => {
    const first = await ledger.postLines(interest([{ accountId: user(0).id, amount: '1', providerId: 'p-0' }]));
    const rows = async () => ({
      transactions: (await ledger.db.selectFrom('journal_transactions').select('id').execute()).length,
      entries: (await ledger.db.selectFrom('journal_entries').select('id').execute()).length,
    });
    expect(await rows()).toEqual({ transactions: 1, entries: 2 });
    // The middle line is the journal's already: the new transaction holds the other two, and no
    // row of the refused line's second booking is left anywhere.
    const mixed = await ledger.postLines(
      interest([
        { accountId: user(1).id, amount: '2', providerId: 'p-1' },
        { accountId: user(0).id, amount: '1', providerId: 'p-0' },
        { accountId: user(2).id, amount: '3', providerId: 'p-2' },
      ]),
    );
    expect(mixed.lines).toEqual([
      { status: 'created', transactionId: mixed.transactionId },
      { status: 'exists', transactionId: first.transactionId },
      { status: 'created', transactionId: mixed.transactionId },
    ]);
    expect(await rows()).toEqual({ transactions: 2, entries: 5 });
    expect((await ledger.transaction(mixed.transactionId ?? 0)).entries.map((entry) => [entry.amount, entry.providerId])).toEqual([
      ['5.000000000000000000', null],
      ['2.000000000000000000', 'p-1'],
      ['3.000000000000000000', 'p-2'],
    ]);
    expect(await ledger.balance(earnAssets.id)).toBe('6.000000000000000000');
    expect(await ledger.balanceAtEndOfDay(user(0).id, '2025-03-19')).toBe('1.000000000000000000');
    await ledger.verify({ entity: 'defi' });
  });

  it('answers exists for a booked debit line that, taken for new, would overdraw its user', async () => {
    await ledger.postLines(interest([{ accountId: user(0).id, amount: '1', providerId: 'p-0' }]));
    const fee = (amount: string): LinesInput => ({ entity: 'defi', kind: 'fee', occurredAt: '2025-03-19T00:00:00Z', side: 'debit', contraAccountId: earnAssets.id, lines: [{ accountId: user(0).id, amount, providerId: 'f-0' }] });
    const first = await ledger.postLines(fee('1'));
    expect(await ledger.balance(user(0).id)).toBe('0.000000000000000000');
    const before = await snapshot(ledger);
    expect(await ledger.postLines(fee('1'))).toEqual({ transactionId: null, lines: [{ status: 'exists', transactionId: first.transactionId }] });
    await expectLedgerError(ledger.postLines(fee('2')), 'idempotency_conflict', 'lines[0].amount');
    expect(await snapshot(ledger)).toBe(before);
  });

  it('sees a provider id booked before as a whole transaction of the kind', async () => {
    const single = await ledger.post({
      entity: 'defi',
      kind: 'interest',
      idempotencyKey: 'interest:p-0',
      occurredAt: '2025-03-19T00:00:00Z',
      providerId: 'p-0',
      entries: [
        { accountId: earnAssets.id, side: 'debit', amount: '1' },
        { accountId: user(0).id, side: 'credit', amount: '1' },
      ],
    });
    const result = await ledger.postLines(interest([{ accountId: user(0).id, amount: '1', providerId: 'p-0' }]));
    expect(result.lines).toEqual([{ status: 'exists', transactionId: single.transaction.id }]);
    await expectLedgerError(ledger.postLines(interest([{ accountId: user(0).id, amount: '2', providerId: 'p-0' }])), 'idempotency_conflict', 'lines[0].amount');
  });

  it('refuses bad input with a typed error naming the field, and writes nothing', async () => {
    const usdc = await ledger.openAccount({ entity: 'defi', currency: 'USDC', code: 'user:usdc', kind: 'user' });
    const lending = await ledger.openAccount({ entity: 'lending', currency: 'BTC', code: 'user:l', kind: 'user' });
    const usdcAssets = await ledger.systemAccount('defi', 'USDC', 'earn_assets');
    const before = await snapshot(ledger);
    const line = { accountId: user(0).id, amount: '1', providerId: 'p-0' };
    await expectLedgerError(ledger.postLines(interest([])), 'invalid_input', 'lines');
    const tooMany = Array.from({ length: LINES_PER_TRANSACTION_MAX + 1 }, (_, i) => ({ ...line, providerId: `p-${i}` }));
    await expectLedgerError(ledger.postLines(interest(tooMany)), 'invalid_input', 'lines');
    await expectLedgerError(ledger.postLines(interest([line, { ...line, accountId: user(1).id }])), 'invalid_input', 'lines[1].providerId');
    await expectLedgerError(ledger.postLines(interest([{ ...line, amount: '-1' }])), 'invalid_amount', 'lines[0].amount');
    await expectLedgerError(ledger.postLines(interest([{ ...line, amount: 1 as unknown as string }])), 'invalid_amount', 'lines[0].amount');
    await expectLedgerError(ledger.postLines(interest([{ ...line, accountId: 0 }])), 'invalid_input', 'lines[0].accountId');
    await expectLedgerError(ledger.postLines(interest([{ ...line, accountId: 999_999 }])), 'unknown_account', 'lines[0].accountId');
    await expectLedgerError(ledger.postLines(interest([{ ...line, accountId: earnAssets.id }])), 'invalid_input', 'lines[0].accountId');
    await expectLedgerError(ledger.postLines(interest([{ ...line, accountId: usdc.id }])), 'invalid_input', 'lines[0].accountId');
    await expectLedgerError(ledger.postLines(interest([{ ...line, accountId: lending.id }])), 'mixed_entities', 'lines[0].accountId');
    await expectLedgerError(ledger.postLines({ ...interest([{ ...line, accountId: usdc.id, amount: '0.0000001' }]), contraAccountId: usdcAssets.id }), 'invalid_amount', 'lines[0].amount');
    await expectLedgerError(ledger.postLines({ ...interest([line]), kind: 'reversal' as 'interest' }), 'invalid_input', 'kind');
    await expectLedgerError(ledger.postLines({ ...interest([line]), side: 'up' as 'credit' }), 'invalid_input', 'side');
    await expectLedgerError(ledger.postLines({ ...interest([line]), entity: 'nope' }), 'unknown_entity', 'entity');
    await expectLedgerError(ledger.postLines(interest([line], 'yesterday')), 'invalid_instant', 'occurredAt');
    // A debit line may not take a user below zero.
    await expectLedgerError(ledger.postLines({ ...interest([line]), side: 'debit' }), 'insufficient_balance');
    expect(await snapshot(ledger)).toBe(before);
  });

  it('moves every later end-of-day balance when it is back-dated, and never leaves a user negative on any day', async () => {
    const funds = await ledger.systemAccount('defi', 'BTC', 'customer_funds');
    const transfer = (key: string, at: string, side: 'debit' | 'credit', amount: string) =>
      ledger.post({
        entity: 'defi',
        kind: side === 'credit' ? 'deposit' : 'withdrawal',
        idempotencyKey: key,
        occurredAt: at,
        entries: [
          { accountId: funds.id, side: side === 'credit' ? 'debit' : 'credit', amount },
          { accountId: user(0).id, side, amount },
        ],
      });
    await transfer('d1', '2025-03-17T10:00:00Z', 'credit', '1');
    await transfer('d2', '2025-03-21T10:00:00Z', 'credit', '2');
    await ledger.postLines(interest([{ accountId: user(0).id, amount: '0.5', providerId: 'p-0' }], '2025-03-19T00:00:00Z'));
    expect(await ledger.balanceAtEndOfDay(user(0).id, '2025-03-18')).toBe('1.000000000000000000');
    expect(await ledger.balanceAtEndOfDay(user(0).id, '2025-03-19')).toBe('1.500000000000000000');
    expect(await ledger.balanceAtEndOfDay(user(0).id, '2025-03-20')).toBe('1.500000000000000000');
    expect(await ledger.balanceAtEndOfDay(user(0).id, '2025-03-21')).toBe('3.500000000000000000');
    expect(await ledger.balance(user(0).id)).toBe('3.500000000000000000');
    // Back-dated debit of 1.2 on the 18th: the 18th would end at -0.2.
    const before = await snapshot(ledger);
    await expectLedgerError(ledger.postLines({ ...interest([{ accountId: user(0).id, amount: '1.2', providerId: 'p-1' }], '2025-03-18T12:00:00Z'), side: 'debit' }), 'insufficient_balance', 'occurredAt');
    expect(await snapshot(ledger)).toBe(before);
    await ledger.verify({ entity: 'defi' });
  });

  it('commits with the other writes of a transact() scope, or not at all', async () => {
    await expect(
      ledger.transact(async (scope) => {
        await scope.postLines(interest([{ accountId: user(0).id, amount: '1', providerId: 'p-0' }]));
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await ledger.balance(user(0).id)).toBe('0.000000000000000000');
    const result = await ledger.transact((scope) => scope.postLines(interest([{ accountId: user(0).id, amount: '1', providerId: 'p-0' }])));
    expect(result.lines[0]?.status).toBe('created');
    await ledger.verify({ entity: 'defi' });
  });

  it('anyProviderIdInRange: false only when no stored id of the entity (entry-level, or a transaction\'s of the kind) lies between the least and greatest of the ids', async () => {
    const range = ledger.dialect.bulk?.anyProviderIdInRange;
    if (range === undefined) throw new Error('the dialect has no range probe');
    await ledger.postLines(interest([{ accountId: user(0).id, amount: '0.1', providerId: 'id-m' }]));
    await ledger.post({
      entity: 'defi',
      kind: 'deposit',
      idempotencyKey: 'k-t',
      providerId: 'id-t',
      occurredAt: '2025-03-18T10:00:00Z',
      entries: [
        { accountId: (await ledger.systemAccount('defi', 'BTC', 'customer_funds')).id, side: 'debit', amount: '1' },
        { accountId: user(1).id, side: 'credit', amount: '1' },
      ],
    });
    const probe = async (providerIds: string[], kind = 'interest', entity = 'defi') => ledger.transact(async (scope) => range(scope.db, { entity, kind, providerIds }));
    // An entry's id inside the range, at either end, or as the only id.
    expect(await probe(['id-a', 'id-z'])).toBe(true);
    expect(await probe(['id-m', 'id-z'])).toBe(true);
    expect(await probe(['id-a', 'id-m'])).toBe(true);
    expect(await probe(['id-m'])).toBe(true);
    // Order of the list does not matter: the bounds are its least and greatest.
    expect(await probe(['id-z', 'id-b', 'id-a'])).toBe(true);
    // Beside it: nothing stored there.
    expect(await probe(['id-n', 'id-s'])).toBe(false);
    expect(await probe(['id-a', 'id-l'])).toBe(false);
    expect(await probe([])).toBe(false);
    // A transaction's provider id counts for its own kind only, as in findProviderEntries.
    expect(await probe(['id-s', 'id-u'], 'deposit')).toBe(true);
    expect(await probe(['id-s', 'id-u'], 'interest')).toBe(false);
    // Another entity's ids are not seen.
    expect(await probe(['id-a', 'id-z'], 'interest', 'lending')).toBe(false);
  });
});
