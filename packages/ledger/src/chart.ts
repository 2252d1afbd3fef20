import { assertInvariant } from './errors.js';
import type { EntryInput } from './entry-input.js';

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
 * How each kind of Earn entry posts is {@link POSTING_RULES}, the one place that says it. A
 * *booking* is only a deposit or a withdrawal (the provider's word: those calls book on Earn's
 * accounting); interest, margin, fees and settlement transfers are other kinds of entry.
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
export const SYSTEM_ACCOUNT_KINDS = Object.freeze(ACCOUNT_KINDS.filter((kind): kind is Exclude<AccountKind, 'user'> => kind !== 'user'));

/** Whether a string names an account kind. */
export function isAccountKind(value: unknown): value is AccountKind {
  return typeof value === 'string' && Object.hasOwn(ACCOUNT_KIND_RULES, value);
}

/** The ledger account code of an end user's Earn account. */
export function userAccountCode(earnAccountId: string): string {
  return `user:${earnAccountId}`;
}

/** The kinds of entry the Earn business posts, each with a fixed posting rule. */
export type PostingRuleKind =
  | 'deposit'
  | 'withdrawal'
  | 'interest'
  | 'partner_margin'
  | 'fee'
  | 'settlement_to_provider'
  | 'settlement_from_provider';

/**
 * How each kind of entry posts its amount: the account kinds debited and credited, in order.
 * `user` is the end user's Earn account; the others are the (entity, currency) system accounts.
 */
export const POSTING_RULES: Readonly<Record<PostingRuleKind, readonly (readonly [AccountKind, 'debit' | 'credit'])[]>> = Object.freeze({
  deposit: [['customer_funds', 'debit'], ['user', 'credit'], ['earn_assets', 'debit'], ['settlement', 'credit']],
  withdrawal: [['user', 'debit'], ['customer_funds', 'credit'], ['settlement', 'debit'], ['earn_assets', 'credit']],
  interest: [['earn_assets', 'debit'], ['user', 'credit']],
  partner_margin: [['settlement', 'debit'], ['partner_margin_income', 'credit']],
  fee: [['fee_expense', 'debit'], ['settlement', 'credit']],
  settlement_to_provider: [['settlement', 'debit'], ['treasury', 'credit']],
  settlement_from_provider: [['treasury', 'debit'], ['settlement', 'credit']],
});

/** Account ids by kind for one posting rule: the system accounts and, where needed, the user's. */
export type PostingRuleAccounts = Readonly<Partial<Record<AccountKind, number>>>;

/**
 * The entries of one amount posted by its {@link POSTING_RULES} rule.
 *
 * @example postingRuleEntries('interest', { earn_assets: 3, user: 9 }, '0.1') // Dr 3, Cr 9
 */
export function postingRuleEntries(kind: PostingRuleKind, accounts: PostingRuleAccounts, amount: string): EntryInput[] {
  return POSTING_RULES[kind].map(([accountKind, side]) => {
    const accountId = accounts[accountKind];
    assertInvariant(accountId !== undefined, `a ${kind} posts to a ${accountKind} account, and none was given`);
    return { accountId, side, amount };
  });
}
