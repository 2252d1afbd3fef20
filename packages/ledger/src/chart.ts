/**
 * The partner's chart of accounts for Earn, per legal entity and currency.
 *
 * | kind | normal side | what its balance means |
 * | --- | --- | --- |
 * | `user` | credit | an end user's balance on one Earn account (never negative) |
 * | `earn_assets` | debit | what the partner has placed at Earn for its users (the asset behind `user`) |
 * | `customer_funds` | credit | the users' funds outside Earn that deposits draw from and withdrawals return to |
 * | `settlement` | debit | the outstanding balance with the provider, signed like the report's `outstandingBalance`: negative = the partner must send, positive = the provider must send |
 * | `partner_margin_income` | credit | partner margin earned |
 * | `fee_expense` | debit | fees the partner owes the provider |
 * | `treasury` | debit | the partner's own wallet that settlement transfers leave from and arrive in |
 * | `adjustment` | debit | corrections agreed with finance |
 *
 * How each kind of booking posts (amount X):
 * - deposit: Dr customer_funds, Cr user; Dr earn_assets, Cr settlement
 * - withdrawal: Dr user, Cr customer_funds; Dr settlement, Cr earn_assets
 * - interest: Dr earn_assets, Cr user
 * - partner margin: Dr settlement, Cr partner_margin_income
 * - fee: Dr fee_expense, Cr settlement
 * - settlement transfer to the provider: Dr settlement, Cr treasury (from the provider: the reverse)
 *
 * So the `settlement` balance moves by withdrawals + margin − deposits − fees, which is the
 * provider's netting (receivables − payables), and returns to zero when a transfer settles it.
 */

/** The kinds of account the ledger knows. */
export type AccountKind =
  | 'user'
  | 'earn_assets'
  | 'customer_funds'
  | 'settlement'
  | 'partner_margin_income'
  | 'fee_expense'
  | 'treasury'
  | 'adjustment';

/** Which side increases an account's balance. */
export type NormalSide = 'debit' | 'credit';

/** Rules of an account kind. */
export interface AccountKindRule {
  readonly normalSide: NormalSide;
  /** Whether the normal-side balance may fall below zero. */
  readonly negativeAllowed: boolean;
}

/** The rules of every account kind. */
export const ACCOUNT_KIND_RULES: Readonly<Record<AccountKind, AccountKindRule>> = Object.freeze({
  user: Object.freeze({ normalSide: 'credit', negativeAllowed: false }),
  earn_assets: Object.freeze({ normalSide: 'debit', negativeAllowed: true }),
  customer_funds: Object.freeze({ normalSide: 'credit', negativeAllowed: true }),
  settlement: Object.freeze({ normalSide: 'debit', negativeAllowed: true }),
  partner_margin_income: Object.freeze({ normalSide: 'credit', negativeAllowed: true }),
  fee_expense: Object.freeze({ normalSide: 'debit', negativeAllowed: true }),
  treasury: Object.freeze({ normalSide: 'debit', negativeAllowed: true }),
  adjustment: Object.freeze({ normalSide: 'debit', negativeAllowed: true }),
});

/** Every account kind, in a stable order. */
export const ACCOUNT_KINDS = Object.freeze(Object.keys(ACCOUNT_KIND_RULES)) as readonly AccountKind[];

/** Kinds that exist once per (entity, currency); their account code is the kind itself. */
export const SYSTEM_ACCOUNT_KINDS = Object.freeze(ACCOUNT_KINDS.filter((kind) => kind !== 'user'));

/** Whether a string names an account kind. */
export function isAccountKind(value: unknown): value is AccountKind {
  return typeof value === 'string' && Object.hasOwn(ACCOUNT_KIND_RULES, value);
}

/** The ledger account code of an end user's Earn account. */
export function userAccountCode(earnAccountId: string): string {
  return `user:${earnAccountId}`;
}
