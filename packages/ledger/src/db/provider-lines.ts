/**
 * Which journal line is a provider entry's relevant line, as every provider-entry read of both
 * dialects selects it (`provider-entries-repository.ts`, `postgres/provider-entries.ts`).
 */
import { sql } from 'kysely';

/** Transaction kinds whose relevant line is the user's entry (on a whole transaction). */
export const USER_LINE_KINDS = Object.freeze(['deposit', 'withdrawal', 'interest'] as const);
/** Transaction kinds whose relevant line is the `settlement` entry (on a whole transaction). */
export const SETTLEMENT_LINE_KINDS = Object.freeze(['partner_margin', 'fee'] as const);
/** Every transaction kind a provider entry can be. */
export const PROVIDER_ENTRY_KINDS: readonly string[] = Object.freeze([...USER_LINE_KINDS, ...SETTLEMENT_LINE_KINDS]);

/**
 * Whether entry `e` is the relevant line of its whole transaction `t` by the kinds above: the
 * user's entry of a deposit, withdrawal or interest, the `settlement` entry of a margin or fee.
 */
export function wholeTransactionLine() {
  return sql<boolean>`exists (select 1 from ledger_accounts a where a.id = e.account_id and ((a.kind = 'user' and t.kind in (${sql.join(USER_LINE_KINDS)})) or (a.kind = 'settlement' and t.kind in (${sql.join(SETTLEMENT_LINE_KINDS)}))))`;
}

/**
 * Whether an entry is a provider entry's relevant line: it carries the provider id itself (a
 * compound line), or it is the relevant line of a whole transaction that carries one
 * ({@link wholeTransactionLine}). `t` and `e` are the statement's transaction and entry; one
 * parenthesised condition (Kysely joins raw conditions with `and` as they are).
 */
export function relevantLine() {
  return sql<boolean>`((e.provider_id is not null and t.kind in (${sql.join(PROVIDER_ENTRY_KINDS)})) or (t.provider_id is not null and ${wholeTransactionLine()}))`;
}
