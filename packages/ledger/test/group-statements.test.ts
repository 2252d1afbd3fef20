/**
 * The statements a group of concurrent `post()` calls sends on PostgreSQL, where each is a round
 * trip: the group's account rows (waited for, and the system ones taken without waiting), its
 * stored keys and provider ids, and its balances and end-of-day rows are read or written in one
 * statement each (`postgres/posting-bulk.ts`, `combined`). Counted with a Kysely plugin, which
 * sees every statement but `BEGIN` and `COMMIT`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { Ledger, formatUnits, parseUnits } from '../src/index.js';
import type { LedgerAccount, PostingInput } from '../src/index.js';
import { DIALECTS, dropSchema, freshStorage } from './dialects.js';

class CountingPlugin implements KyselyPlugin {
  statements: string[] = [];
  counting = false;
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    if (this.counting) this.statements.push(args.node.kind);
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

describe.skipIf(!DIALECTS.includes('postgres'))('a group commit on postgres', () => {
  let close: () => Promise<void> = async () => undefined;
  afterEach(async () => close());

  const deposit = (funds: LedgerAccount, user: LedgerAccount, n: number): PostingInput => ({
    entity: 'defi',
    kind: 'deposit',
    idempotencyKey: `dep-${n}`,
    providerId: `booking-${n}`,
    occurredAt: '2025-03-18T10:00:00Z',
    entries: [
      { accountId: funds.id, side: 'debit', amount: `0.${n + 1}` },
      { accountId: user.id, side: 'credit', amount: `0.${n + 1}` },
    ],
  });

  it('reads its accounts, its stored keys and provider ids, and writes its balances and day rows in one statement each', async () => {
    const storage = await freshStorage('postgres');
    const plugin = new CountingPlugin();
    const groups: number[] = [];
    const ledger = await Ledger.open({ storage: { ...storage, db: storage.db.withPlugin(plugin) }, groupCommit: { onGroup: (size) => groups.push(size) } });
    close = async () => {
      await ledger.close();
      await dropSchema(storage.schema);
    };
    const funds = await ledger.systemAccount('defi', 'BTC', 'customer_funds');
    const users: LedgerAccount[] = [];
    for (let i = 0; i < 8; i++) users.push(await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: `user:s${i}`, kind: 'user' }));
    // The system account's kind is known (cached) once it has been posted to.
    await ledger.post({ ...deposit(funds, users[0] as LedgerAccount, 99), idempotencyKey: 'seed', providerId: 'seed' });
    groups.length = 0;
    plugin.counting = true;
    const inputs = Array.from({ length: 16 }, (_, n) => deposit(funds, users[n % 8] as LedgerAccount, n));
    const created = await Promise.all(inputs.map((input) => ledger.post(input)));
    plugin.counting = false;
    expect(groups).toEqual([16]);
    // The claims lock, the accounts, the stored keys and provider ids, the transactions, the
    // entries (read back as inserted), the balances with the day rows.
    expect(plugin.statements).toEqual(['RawNode', 'RawNode', 'RawNode', 'RawNode', 'RawNode', 'RawNode']);
    expect(created.map((result) => result.status)).toEqual(inputs.map(() => 'created'));

    // The same calls again: each finds its own transaction by key through the combined read.
    const again = await Promise.all(inputs.map((input) => ledger.post(input)));
    expect(again.map((result) => [result.status, result.transaction.id])).toEqual(created.map((result) => ['exists', result.transaction.id]));
    // A new key with a provider id already booked is refused, naming it; nothing is written.
    await expect(ledger.post({ ...deposit(funds, users[1] as LedgerAccount, 3), idempotencyKey: 'other-key' })).rejects.toMatchObject({ code: 'duplicate_provider_id', field: 'providerId', value: 'booking-3' });

    let total = 0n;
    for (const [n, user] of users.entries()) {
      const own = inputs.filter((_, index) => index % 8 === n).reduce((sum, input) => sum + parseUnits(input.entries[1]?.amount ?? '0', { field: 'amount' }), n === 0 ? parseUnits('0.100', { field: 'amount' }) : 0n);
      total += own;
      expect(await ledger.balance(user.id), `user ${n}`).toBe(formatUnits(own));
      expect(await ledger.balanceAtEndOfDay(user.id, '2025-03-18'), `user ${n} at the day's end`).toBe(formatUnits(own));
    }
    // customer_funds is credit-normal: the deposits debit it.
    expect(await ledger.balance(funds.id)).toBe(formatUnits(-total));
    await ledger.verify({ entity: 'defi' });
  });
});
