/**
 * Days held in memory for the pure diff: books of a few Earn accounts, the report the provider
 * would send for them, and one mutation per break kind that should produce exactly that break.
 */
import { formatUnits, toUnits } from '@earnbook/ledger';
import type { CycleLine } from '@earnbook/ledger';
import type { DailyReport } from '@earnbook/earn-client/contract';
import type { BreakKind, DiffInput, LocalEntry, ReportEntry } from '../src/index.js';

export const DAY = '2025-03-18';
export const NEXT_DAY = '2025-03-19';

/** One account of a generated day, amounts in units of the 18th decimal. */
export interface AccountSpec {
  readonly id: string;
  readonly depositUnits: bigint;
  readonly withdrawalUnits: bigint;
  readonly interestUnits: bigint;
  readonly marginUnits: bigint;
}

/** A mutable day: what diffDay takes, with the report's arrays open to change. */
export interface Day {
  day: string;
  timeZone: string;
  version: number;
  transactions: ReportEntry[];
  balances: { currency: string; outstandingBalance: string }[];
  local: LocalEntry[];
  projection: CycleLine[];
  outstanding: Map<string, bigint>;
  feeLimitUnits: bigint;
}

let nextTransactionId = 1;

function local(kind: LocalEntry['kind'], providerId: string, units: bigint, earnAccountId: string | null, accountingDay = DAY): LocalEntry {
  const booking = kind === 'deposit' || kind === 'withdrawal';
  return { transactionId: nextTransactionId++, kind, providerId, accountingDay, interestDay: booking ? null : DAY, amountUnits: units, currency: 'BTC', earnAccountId };
}

/** Books and the matching report for the accounts: every figure agrees. */
export function cleanDay(accounts: readonly AccountSpec[]): Day {
  const day: Day = { day: DAY, timeZone: 'UTC', version: 1, transactions: [], balances: [], local: [], projection: [], outstanding: new Map(), feeLimitUnits: 0n };
  let net = 0n;
  let margin = 0n;
  accounts.forEach((account, index) => {
    const created = `2025-03-18T${String(8 + (index % 12)).padStart(2, '0')}:00:00Z`;
    if (account.depositUnits > 0n) {
      day.local.push(local('deposit', `dep-${account.id}`, account.depositUnits, account.id));
      day.transactions.push({ id: `r-dep-${account.id}`, type: 'Deposit', currency: 'BTC', amount: formatUnits(account.depositUnits), createdAt: created, accountId: account.id, bookingId: `dep-${account.id}` });
      net -= account.depositUnits;
    }
    if (account.withdrawalUnits > 0n) {
      day.local.push(local('withdrawal', `wd-${account.id}`, account.withdrawalUnits, account.id));
      day.transactions.push({ id: `r-wd-${account.id}`, type: 'Withdrawal', currency: 'BTC', amount: formatUnits(account.withdrawalUnits), createdAt: created, accountId: account.id, bookingId: `wd-${account.id}` });
      net += account.withdrawalUnits;
    }
    const balance = account.depositUnits - account.withdrawalUnits;
    day.projection.push({ earnAccountId: account.id, ledgerAccountId: index + 1, providerProductId: 'btc', currency: 'BTC', balance: formatUnits(balance), userInterest: formatUnits(account.interestUnits), partnerMargin: formatUnits(account.marginUnits), userResidue: '0', marginResidue: '0' });
    margin += account.marginUnits;
    if (account.interestUnits > 0n) {
      day.local.push(local('interest', `int-${account.id}`, account.interestUnits, account.id, NEXT_DAY));
      day.transactions.push({ id: `int-${account.id}`, type: 'Interest', currency: 'BTC', amount: formatUnits(account.interestUnits), createdAt: '2025-03-19T00:00:00Z', accountId: account.id });
    }
  });
  if (margin > 0n) {
    day.local.push(local('partner_margin', 'margin-BTC', margin, null, NEXT_DAY));
    day.transactions.push({ id: 'margin-BTC', type: 'PartnerMargin', currency: 'BTC', amount: formatUnits(margin), createdAt: '2025-03-19T00:00:00Z' });
    net += margin;
  }
  day.outstanding.set('BTC', net);
  day.balances.push({ currency: 'BTC', outstandingBalance: formatUnits(net) });
  return day;
}

/** The input of diffDay for a day. */
export function diffInput(day: Day): DiffInput {
  const report: DailyReport = { id: 'report-1', type: 'Report', accountingDay: day.day, timeZone: day.timeZone, generatedAt: '2025-03-19T00:01:00Z', transactions: day.transactions, balances: day.balances };
  return { day: day.day, timeZone: day.timeZone, report, version: day.version, local: day.local, projection: day.projection, outstanding: day.outstanding, toleranceUnits: () => 1n, feeApprovalLimitUnits: () => day.feeLimitUnits };
}

function find<T>(items: T[], test: (item: T) => boolean, what: string): T {
  const item = items.find(test);
  if (item === undefined) throw new Error(`the day has no ${what}`);
  return item;
}

const replaceEntry = (day: Day, test: (entry: ReportEntry) => boolean, change: Partial<ReportEntry>) => {
  const index = day.transactions.findIndex(test);
  if (index < 0) throw new Error('no such report entry');
  day.transactions[index] = { ...(day.transactions[index] as ReportEntry), ...change };
};

const isDeposit = (entry: ReportEntry) => entry.type === 'Deposit';

/**
 * One change per break kind that yields exactly that break on a clean day whose first account
 * has a deposit, a withdrawal and interest (see {@link mutationDay}).
 */
export const MUTATIONS: Readonly<Record<BreakKind, (day: Day) => void>> = {
  missing_in_ledger: (day) => void day.transactions.push({ id: 'r-lost', type: 'Deposit', currency: 'BTC', amount: '0.1', createdAt: '2025-03-18T09:00:00Z', accountId: 'a0', bookingId: 'lost' }),
  missing_in_report: (day) => void day.transactions.splice(day.transactions.findIndex((entry) => entry.type === 'Withdrawal'), 1),
  duplicate_in_report: (day) => void day.transactions.push({ ...find(day.transactions, isDeposit, 'deposit') }),
  unknown_entry_type: (day) => void day.transactions.push({ id: 'r-airdrop', type: 'Airdrop', currency: 'BTC', amount: '1', createdAt: '2025-03-18T09:00:00Z' }),
  currency_mismatch: (day) => replaceEntry(day, isDeposit, { currency: 'ETH' }),
  account_mismatch: (day) => replaceEntry(day, isDeposit, { accountId: 'elsewhere' }),
  amount_mismatch: (day) => replaceEntry(day, isDeposit, { amount: formatUnits(toUnits(find(day.transactions, isDeposit, 'deposit').amount) + 7n) }),
  restated_entry: (day) => {
    day.version = 2;
    // One unit more: within the margin tolerance, so only the booked amount differs.
    replaceEntry(day, (entry) => entry.type === 'PartnerMargin', { amount: formatUnits(toUnits(find(day.transactions, (entry) => entry.type === 'PartnerMargin', 'margin').amount) + 1n) });
  },
  day_mismatch: (day) => replaceEntry(day, isDeposit, { createdAt: '2025-03-17T09:00:00Z' }),
  interest_mismatch: (day) => {
    const line = find(day.projection, () => true, 'projection');
    day.projection[0] = { ...line, userInterest: formatUnits(toUnits(line.userInterest) + 5n) };
  },
  unexpected_interest: (day) => {
    const line = find(day.projection, () => true, 'projection');
    day.projection[0] = { ...line, balance: formatUnits(0n) };
  },
  missing_interest: (day) => {
    const id = find(day.transactions, (entry) => entry.type === 'Interest', 'interest').id;
    day.transactions = day.transactions.filter((entry) => entry.id !== id);
    day.local = day.local.filter((entry) => entry.providerId !== id);
  },
  margin_mismatch: (day) => {
    const line = find(day.projection, () => true, 'projection');
    day.projection[0] = { ...line, partnerMargin: formatUnits(toUnits(line.partnerMargin) + 5n) };
  },
  approval_required: (day) => {
    day.local.push(local('fee', 'fee-1', 3n, null, NEXT_DAY));
    day.transactions.push({ id: 'fee-1', type: 'Fee', currency: 'BTC', amount: formatUnits(3n), createdAt: '2025-03-19T00:00:00Z' });
  },
  outstanding_balance_mismatch: (day) => {
    const balance = find(day.balances, () => true, 'balance');
    balance.outstandingBalance = formatUnits(toUnits(balance.outstandingBalance) - 2n);
  },
};

/** A clean day on which every mutation applies: the first account deposits, withdraws and earns. */
export function mutationDay(extra: readonly AccountSpec[] = []): Day {
  return cleanDay([{ id: 'a0', depositUnits: 10n ** 18n, withdrawalUnits: 10n ** 17n, interestUnits: 10n ** 14n, marginUnits: 10n ** 13n }, ...extra]);
}
