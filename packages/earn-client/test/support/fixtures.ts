/** Contract-conforming sample bodies for the fake server. */

export function product(id: string, currency: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    name: `${currency} fixed interest`,
    currency,
    interest: { tierMode: 'marginal', tiers: [{ fromAmount: '0', toAmount: '1', apy: '0.03' }, { fromAmount: '1', toAmount: null, apy: '0.02' }] },
    partnerMargin: { mode: 'own-apy', apy: '0.005' },
    ...extra,
  };
}

export function user(id: string, externalReference?: string): Record<string, unknown> {
  return { id, createdAt: '2025-03-18T10:00:00.000Z', ...(externalReference === undefined ? {} : { externalReference }) };
}

export function account(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id, userId: 'user-1', productId: 'btc-fixed', currency: 'BTC', balance: '0.5', createdAt: '2025-03-18T10:00:00Z', ...extra };
}

export function booking(id: string, type: 'Deposit' | 'Withdrawal', amount: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id, accountId: 'account-1', type, amount, currency: 'BTC', createdAt: '2025-03-18T10:00:01.123+02:00', balanceAfter: amount, ...extra };
}

export function transaction(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id, accountId: 'account-1', type: 'Interest', amount: '0.000040490000000000', currency: 'BTC', createdAt: '2025-03-19T00:01:55.703Z', ...extra };
}

export function dailyReport(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'report-2025-03-18',
    type: 'Report',
    accountingDay: '2025-03-18',
    timeZone: 'UTC',
    generatedAt: '2025-03-19T00:02:10.000Z',
    transactions: [
      {
        id: '6f1c2a7e-4b7d-4c1e-9a51-0d3f1b2c3d4e',
        type: 'Deposit',
        currency: 'BTC',
        amount: '1.000000000000000000',
        createdAt: '2025-03-18T09:15:00.000Z',
        accountId: 'account-1',
        bookingId: 'booking-1',
      },
      {
        id: '0b0f3c55-1a2b-4c3d-8e9f-a1b2c3d4e5f6',
        type: 'Interest',
        currency: 'XRP',
        amount: '0.000000173182690071',
        createdAt: '2025-03-19T00:01:55.703Z',
        accountId: 'account-2',
      },
    ],
    balances: [
      { currency: 'BTC', outstandingBalance: '-1.000000000000000000', deposits: '1.000000000000000000' },
      { currency: 'XRP', outstandingBalance: '0' },
    ],
    ...extra,
  };
}
