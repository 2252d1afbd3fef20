/**
 * Builds a daily report the way the provider would, from books that hold the same bookings:
 * the day's deposits and withdrawals, the interest and margin of the local recomputation, and
 * the outstanding balance per currency. Tests then change it to create breaks.
 */
import { cycleInterestEntryId, formatUnits, localEntryId, nextAccountingDay, projectAccountingCycle, startOfAccountingDay, formatInstant, toUnits } from '@earnbook/ledger';
import type { EarnBooks } from '@earnbook/ledger';

export interface ReportJson {
  id: string;
  type: 'Report';
  entity?: string;
  accountingDay: string;
  timeZone: string;
  generatedAt: string;
  transactions: Record<string, unknown>[];
  balances: { currency: string; outstandingBalance: string }[];
}

export async function buildReport(books: EarnBooks, entity: string, day: string, options: { carriedIn?: Record<string, bigint> } = {}): Promise<ReportJson> {
  const ledger = books.ledger;
  const zone = ledger.entity(entity).timeZone;
  const creditedAt = formatInstant(startOfAccountingDay(nextAccountingDay(day), zone));
  const transactions: Record<string, unknown>[] = [];
  const net = new Map<string, bigint>(Object.entries(options.carriedIn ?? {}));
  for (const transaction of await ledger.transactionsOfDay({ entity, day, limit: 10_000 })) {
    if (transaction.kind !== 'deposit' && transaction.kind !== 'withdrawal') continue;
    const user = transaction.entries.find((entry) => entry.side === (transaction.kind === 'deposit' ? 'credit' : 'debit') && entry.accountId !== undefined);
    const account = user === undefined ? undefined : await ledger.account(user.accountId);
    const line = transaction.entries.find((entry) => account !== undefined && entry.accountId === account.id);
    if (line === undefined || account === undefined || !account.code.startsWith('user:')) continue;
    transactions.push({
      id: localEntryId(entity, day, 'booking', transaction.providerId ?? String(transaction.id)),
      type: transaction.kind === 'deposit' ? 'Deposit' : 'Withdrawal',
      currency: line.currency,
      amount: line.amount,
      createdAt: transaction.occurredAt,
      accountId: account.code.slice('user:'.length),
      bookingId: transaction.providerId,
      idempotencyKey: transaction.idempotencyKey,
    });
    const units = toUnits(line.amount);
    net.set(line.currency, (net.get(line.currency) ?? 0n) + (transaction.kind === 'deposit' ? -units : units));
  }
  const margin = new Map<string, bigint>();
  for (const line of await projectAccountingCycle({ books, entity, day })) {
    margin.set(line.currency, (margin.get(line.currency) ?? 0n) + toUnits(line.partnerMargin));
    if (toUnits(line.userInterest) === 0n) continue;
    transactions.push({
      id: cycleInterestEntryId(day, line.ledgerAccountId),
      type: 'Interest',
      currency: line.currency,
      amount: line.userInterest,
      createdAt: creditedAt,
      accountId: line.earnAccountId,
    });
  }
  for (const [currency, units] of margin) {
    if (units === 0n) continue;
    transactions.push({ id: localEntryId(entity, day, 'margin', currency), type: 'PartnerMargin', currency, amount: formatUnits(units), createdAt: creditedAt });
    net.set(currency, (net.get(currency) ?? 0n) + units);
  }
  return {
    id: localEntryId(entity, day, 'report'),
    type: 'Report',
    entity,
    accountingDay: day,
    timeZone: zone,
    generatedAt: creditedAt,
    transactions,
    balances: [...net].map(([currency, units]) => ({ currency, outstandingBalance: formatUnits(units) })),
  };
}
