/**
 * Which field of a posting differs from what its idempotency key already holds, so that an
 * `idempotency_conflict` can name it (pure).
 */
import { LedgerError } from './errors.js';
import { toUnits } from './money.js';
import type { NormalizedPosting } from './posting.js';

/** A posting's content as compared for idempotency. */
export interface PostingContent {
  readonly kind: string;
  readonly occurredAt: string;
  readonly providerId: string | null;
  readonly reversesTransactionId: number | null;
  readonly description: string | null;
  /** Canonical JSON (keys sorted), or null. */
  readonly metadata: string | null;
  /** Signed units, debit positive. */
  readonly entries: readonly { readonly accountId: number; readonly units: bigint }[];
}

/** The content of a stored transaction, in the comparable form. */
export function storedContent(transaction: {
  kind: string;
  occurredAt: string;
  providerId: string | null;
  reversesTransactionId: number | null;
  description: string | null;
  metadata: Readonly<Record<string, string>> | null;
  entries: readonly { accountId: number; side: 'debit' | 'credit'; amount: string }[];
}): PostingContent {
  return {
    ...transaction,
    metadata: transaction.metadata === null ? null : JSON.stringify(transaction.metadata),
    entries: transaction.entries.map((entry) => ({ accountId: entry.accountId, units: entry.side === 'debit' ? toUnits(entry.amount) : -toUnits(entry.amount) })),
  };
}

/** The first field (as a dotted input path) in which `posting` differs from `stored`, or undefined. */
export function differingField(stored: PostingContent, posting: PostingContent): string | undefined {
  const scalars = ['kind', 'occurredAt', 'providerId', 'reversesTransactionId', 'description', 'metadata'] as const;
  for (const field of scalars) if (stored[field] !== posting[field]) return field;
  if (stored.entries.length !== posting.entries.length) return 'entries';
  for (const [index, entry] of posting.entries.entries()) {
    const before = stored.entries[index];
    if (before === undefined || before.accountId !== entry.accountId) return `entries[${index}].accountId`;
    if (before.units > 0n !== entry.units > 0n) return `entries[${index}].side`;
    if (before.units !== entry.units) return `entries[${index}].amount`;
  }
  return undefined;
}

/** The `idempotency_conflict` of a key used before with other content, naming the differing field. */
export function idempotencyConflict(posting: NormalizedPosting, stored: PostingContent, transactionId: number | undefined): LedgerError {
  const differing = differingField(stored, posting) ?? 'content';
  const where = transactionId === undefined ? 'another posting of the batch' : `transaction ${transactionId}`;
  return new LedgerError('idempotency_conflict', `idempotencyKey ${posting.idempotencyKey} was used for ${where} with a different ${differing}`, {
    field: 'idempotencyKey',
    value: posting.idempotencyKey,
    context: { differingField: differing, ...(transactionId === undefined ? {} : { transactionId: String(transactionId) }) },
  });
}
