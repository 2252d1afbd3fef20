/**
 * The glue every partner would otherwise write again, between the provider's API and the books:
 * the product list of both entities copied into the Earn mirror, and "book on the provider, then
 * record what it returned", safe against a crash between the two.
 *
 * The provider is reached through two small structural interfaces (what `EarnFacade` offers), so
 * this module reads the contract's types only and never loads the HTTP client.
 */
import { CONTRACT_IDEMPOTENCY_KEY_LENGTH_MAX, EarnApiError, escapeUnsafeText } from '@earnbook/earn-client/contract';
import type { Booking, Product } from '@earnbook/earn-client/contract';
import { LedgerError, LedgerInvariantError, toUnits } from '@earnbook/ledger';
import type { EarnAccount, EarnBooks, InterestTermsInput, JournalTransaction, PostResult } from '@earnbook/ledger';
import { ReconcileError } from './errors.js';
import { findUnreadable, invalid, readArray, readBooks, readFields, readMethod, requireObject, valueText } from './input-guards.js';

/** Where products come from: every entity's list (`EarnFacade.listProducts`). */
export interface ProductSource {
  listProducts(): Promise<readonly { readonly entityId: string; readonly product: Product }[]>;
}

/** Products one sync may copy. */
export const PRODUCT_SYNC_PRODUCTS_MAX = 10_000;

/**
 * The ledger's interest terms of a product as the API describes it. The contract's
 * `rate-difference` margin names the product's total rate in `apy`; the ledger calls it
 * `productApy`.
 */
export function productTermsOf(product: Product): InterestTermsInput {
  requireObject(product, 'product');
  try {
    return termsOf(product);
  } catch (failure) {
    // A part that cannot be read (a revoked proxy, a getter that throws) is named; any other failure passes.
    throw findUnreadable(product, { field: 'product', nested: true }) ?? failure;
  }
}

function termsOf(product: Product): InterestTermsInput {
  const margin = product.partnerMargin;
  return {
    tiers: product.interest.tiers.map((tier) => ({ fromAmount: tier.fromAmount, toAmount: tier.toAmount, apy: tier.apy })),
    tierMode: product.interest.tierMode,
    partnerMargin: margin === null || margin === undefined ? null : margin.mode === 'rate-difference' ? { mode: 'rate-difference', productApy: margin.apy } : { mode: 'own-apy', apy: margin.apy },
  };
}

/** One product of a sync: which entity offers it, and whether this sync stored a new version. */
export interface SyncedProduct {
  readonly entity: string;
  readonly productId: string;
  readonly currency: string;
  readonly name: string;
  /** `created`: a new version effective on the day; `exists`: the same terms were stored already. */
  readonly status: 'created' | 'exists';
}

/** What one listed product becomes in the Earn mirror, read from the listing once. */
interface ProductRecord {
  readonly entity: string;
  readonly providerProductId: string;
  readonly currency: string;
  readonly name: string;
  readonly terms: InterestTermsInput;
}

/**
 * The record of listed product `index`, its fields read once: an item or product that cannot be
 * read (a revoked proxy, a getter that throws) is `invalid_input` naming it (`products[3].product`).
 */
function productRecord(item: unknown, index: number): ProductRecord {
  const field = `products[${index}]`;
  const { entityId, product } = readFields(item as { readonly entityId: string; readonly product: Product }, ['entityId', 'product'], { field, nested: true });
  try {
    // termsOf, not productTermsOf: an unreadable part is named once, below, as products[i].product.
    return { entity: entityId, providerProductId: product.id, currency: product.currency, name: product.name, terms: termsOf(product) };
  } catch (failure) {
    throw findUnreadable(product, { field: `${field}.product`, nested: true }) ?? failure;
  }
}

/**
 * Copies the product list of every entity into the Earn mirror as versions effective on
 * `effectiveDay`. Idempotent: the same terms again are `exists`; changed terms are a new version.
 * Every listed product is read before the first is stored: one that cannot be read is
 * `invalid_input` naming it, and nothing is written.
 *
 * @example await syncProducts({ source: earnFacade, books, effectiveDay: '2025-03-10' })
 */
export async function syncProducts(given: { readonly source: ProductSource; readonly books: EarnBooks; readonly effectiveDay: string }): Promise<SyncedProduct[]> {
  const input = readFields(given, ['source', 'books', 'effectiveDay']);
  const books = readBooks(input.books, 'books');
  const listProducts = readMethod(input.source, 'listProducts', 'source');
  const listed = readArray(await listProducts.call(input.source), 'products', PRODUCT_SYNC_PRODUCTS_MAX);
  if (listed.length > PRODUCT_SYNC_PRODUCTS_MAX) {
    throw new ReconcileError('invalid_input', `the provider lists ${listed.length} products, more than ${PRODUCT_SYNC_PRODUCTS_MAX}`, { field: 'products', value: String(listed.length) });
  }
  const records = listed.items.map(productRecord);
  const synced: SyncedProduct[] = [];
  for (const { entity, providerProductId, currency, name, terms } of records) {
    const stored = await books.recordProduct({ entity, providerProductId, currency, name, effectiveDay: input.effectiveDay, terms });
    synced.push(Object.freeze({ entity, productId: providerProductId, currency, name, status: stored.status }));
  }
  books.ledger.logger.info({ event: 'products.sync', products: synced.length, created: synced.filter((item) => item.status === 'created').length }, `synced ${synced.length} products`);
  return synced;
}

/**
 * What books a deposit or withdrawal on the provider (`EarnFacade.deposit` / `withdraw`).
 * `currency` is the Earn account's: it is not sent, and the earn-client refuses a booking answered
 * in another one itself, quoting the provider's text as it quotes every provider text (its
 * credentials redacted, unsafe characters escaped). A provider that ignores it is checked here.
 */
export interface BookingProvider {
  deposit(input: { productId: string; accountId: string; amount: string; idempotencyKey: string; currency?: string }): Promise<Booking>;
  withdraw(input: { productId: string; accountId: string; amount: string; idempotencyKey: string; currency?: string }): Promise<Booking>;
}

/** Input of {@link bookThenRecord}. */
export interface BookThenRecordInput {
  readonly provider: BookingProvider;
  readonly books: EarnBooks;
  readonly kind: 'deposit' | 'withdrawal';
  readonly entity: string;
  readonly earnAccountId: string;
  readonly amount: string;
  /**
   * The partner's own key of this booking, sent to the provider as `Idempotency-Key` and used as
   * the journal transaction's key: the same key after a crash books once on both sides.
   */
  readonly idempotencyKey: string;
}

/** The outcome of {@link bookThenRecord}. */
export interface BookThenRecordResult {
  /** `created`: recorded now; `exists`: the books held it already (the provider was not called). */
  readonly status: 'created' | 'exists';
  readonly transactionId: number;
  /** The provider's answer, when it was called. */
  readonly booking: Booking | undefined;
}

/**
 * Books a deposit or withdrawal on the provider, then records what it returned.
 *
 * Crash recovery: the provider's booking and the books' record share the partner's
 * `idempotencyKey`. If the process dies after the provider booked and before the books recorded
 * (or the answer was lost), calling this again with the same key makes the provider answer with
 * the booking it already made, which is then recorded once. A key the books already hold for the
 * same request (kind, Earn account, amount) returns `exists` without calling the provider at all;
 * held for another request, it is a `ReconcileError` `idempotency_conflict` naming the differing
 * field, and neither the provider nor the books are touched. A booking whose outcome stays unknown
 * (the call failed after retries) is found by the nightly reconciliation as `missing_in_ledger`
 * and booked from the report (`Reconciler.repairMissingBooking`).
 *
 * Once the provider has booked, a refusal of the books to record it (say a withdrawal beyond the
 * books' balance because the day's interest is not booked yet) is never passed on as that
 * refusal: the money moved. It is a `ReconcileError` `booked_not_recorded` carrying the
 * provider's booking (`error.booking`) and the refusal (`cause`); the same key again gives the
 * same error (the provider answers with the booking it made, booking nothing twice) until the
 * books can record it, and the next reconciliation shows it as `missing_in_ledger`.
 *
 * The provider is given the Earn account's currency and refuses an answer in another one itself
 * (`EarnApiError` `invalid_response`, field `currency`, the provider's text redacted and
 * escaped); a provider that does not is refused the same way here, and nothing is recorded.
 *
 * @example await bookThenRecord({ provider: earnFacade, books, kind: 'deposit', entity: 'defi', earnAccountId: 'acc-1', amount: '1.5', idempotencyKey: 'order-42' })
 */
export async function bookThenRecord(given: BookThenRecordInput): Promise<BookThenRecordResult> {
  const input = readFields(given, ['provider', 'books', 'kind', 'entity', 'earnAccountId', 'amount', 'idempotencyKey']);
  const books = readBooks(input.books, 'books');
  const provider = input.provider;
  if (input.kind !== 'deposit' && input.kind !== 'withdrawal') invalid('kind', input.kind, 'must be deposit or withdrawal');
  if (typeof input.idempotencyKey !== 'string' || input.idempotencyKey.length === 0 || input.idempotencyKey.length > CONTRACT_IDEMPOTENCY_KEY_LENGTH_MAX) {
    throw new ReconcileError('invalid_input', `idempotencyKey must be a non-empty string of at most ${CONTRACT_IDEMPOTENCY_KEY_LENGTH_MAX} characters (the Earn API's Idempotency-Key)`, { field: 'idempotencyKey', value: valueText(input.idempotencyKey) });
  }
  // The provider's method is read now, before the books are asked anything: a provider that
  // cannot be read is refused like any bad input, and the call below cannot fail on reading it.
  const book = readMethod(provider, input.kind === 'deposit' ? 'deposit' : 'withdraw', 'provider');
  // Checks the account before anything is sent (an unknown account is the ledger's typed error).
  const account = await books.earnAccount({ entity: input.entity, earnAccountId: input.earnAccountId });
  const recorded = await books.ledger.transactionByKey(account.entity, input.idempotencyKey);
  if (recorded !== undefined) {
    await assertSameRequest(input, account, recorded);
    return { status: 'exists', transactionId: recorded.id, booking: undefined };
  }
  // The request names no currency (the account's is meant): the client compares the answer with it.
  const call = { productId: account.providerProductId, accountId: account.earnAccountId, amount: input.amount, idempotencyKey: input.idempotencyKey, currency: account.currency };
  const booking = readAnswer(input, account, await book.call(provider, call));
  // A provider that does not check it: an answer in another currency (or in none: the contract
  // requires it) booked something else than the books would record. The glue holds no credential
  // to redact, so the provider's text is escaped and cut only.
  if (booking.currency !== account.currency) {
    throw new EarnApiError('invalid_response', `${input.kind} ${providerText(booking.id)}: the booking answered does not match the request: currency expected ${JSON.stringify(account.currency)} (Earn account ${account.earnAccountId}), received ${quotedProviderText(booking.currency)}`, {
      operation: `bookThenRecord ${input.kind}`,
      path: 'currency',
      field: 'currency',
    });
  }
  const record = { entity: account.entity, earnAccountId: account.earnAccountId, providerBookingId: booking.id, amount: booking.amount, occurredAt: booking.createdAt, idempotencyKey: input.idempotencyKey, providerData: booking };
  let stored: PostResult;
  try {
    stored = input.kind === 'deposit' ? await books.recordDeposit(record) : await books.recordWithdrawal(record);
  } catch (cause) {
    // A broken invariant must crash as it is; any other failure leaves a booking the books lack.
    if (cause instanceof LedgerInvariantError) throw cause;
    throw bookedNotRecorded(input, account, booking, cause);
  }
  books.ledger.logger.info({ event: 'booking.recorded', entity: account.entity, kind: input.kind, providerBookingId: booking.id, status: stored.status }, `${input.kind} ${booking.id} recorded`);
  return { status: stored.status, transactionId: stored.transaction.id, booking };
}

/**
 * Refuses a key the books hold for another request than `input`: another kind, Earn account or
 * amount (an `idempotency_conflict` naming the field, with both values in the message).
 */
async function assertSameRequest(input: BookThenRecordInput, account: EarnAccount, recorded: JournalTransaction): Promise<void> {
  const conflict = (field: string, asked: string, held: string): never => {
    throw new ReconcileError('idempotency_conflict', `idempotencyKey ${JSON.stringify(input.idempotencyKey)} is held by journal transaction ${recorded.id} with another ${field}: asked ${JSON.stringify(asked)}, held ${JSON.stringify(held)}`, {
      field,
      value: asked,
    });
  };
  if (recorded.kind !== input.kind) conflict('kind', input.kind, recorded.kind);
  const entry = recorded.entries.find((item) => item.accountId === account.ledgerAccountId);
  if (entry === undefined) {
    const held = recorded.providerId === null ? undefined : await input.books.booking({ entity: account.entity, providerBookingId: recorded.providerId });
    return conflict('earnAccountId', input.earnAccountId, held?.earnAccountId ?? `no Earn account of ${account.currency}`);
  }
  const amount = input.books.ledger.parseAmount(input.amount, { field: 'amount', currency: account.currency });
  if (toUnits(amount) !== toUnits(entry.amount)) conflict('amount', input.amount, entry.amount);
}

/**
 * The provider's answer as a plain copy, each field read once. An answer that cannot be read (a
 * revoked proxy, a getter that throws) says nothing of what was booked, though the provider may
 * have booked: `invalid_response` naming `booking`, logged as an error, nothing recorded; the next
 * reconciliation finds such a booking as `missing_in_ledger`.
 */
function readAnswer(input: BookThenRecordInput, account: EarnAccount, answer: Booking): Booking {
  try {
    if (typeof answer !== 'object' || answer === null) throw new TypeError(`the answer is ${answer === null ? 'null' : typeof answer}`);
    // The fields the glue uses read through getters as before (a class instance's too), the
    // rest copied as the provider's data.
    const { id, amount, currency, createdAt } = answer;
    return { ...answer, id, amount, currency, createdAt };
  } catch (cause) {
    const reason = causeText(cause);
    input.books.ledger.logger.error(
      { event: 'booking.answer_unreadable', kind: input.kind, entity: account.entity, earnAccountId: account.earnAccountId, idempotencyKey: input.idempotencyKey, cause: reason },
      `${input.kind} on Earn account ${account.earnAccountId}: the provider's answer could not be read; it may have booked`,
    );
    throw new EarnApiError(
      'invalid_response',
      `${input.kind} on Earn account ${account.earnAccountId} (idempotencyKey ${JSON.stringify(input.idempotencyKey)}): the provider's answer could not be read (${reason}); nothing was recorded, but the provider may have booked: the next reconciliation shows such a booking as missing_in_ledger, and the same key again asks the provider for the booking it made`,
      { operation: `bookThenRecord ${input.kind}`, path: '', field: 'booking', cause },
    );
  }
}

/** The message of what reading an answer threw, without reading anything that could throw again. */
function causeText(cause: unknown): string {
  try {
    return cause instanceof Error ? String(cause.message) : valueText(cause);
  } catch {
    return 'unreadable';
  }
}

/** The `booked_not_recorded` error of a booking the provider made and the books refused. */
function bookedNotRecorded(input: BookThenRecordInput, account: EarnAccount, booking: Booking, cause: unknown): ReconcileError {
  const unrecorded = { kind: input.kind, entity: account.entity, earnAccountId: account.earnAccountId, providerBookingId: booking.id, amount: booking.amount, currency: booking.currency, occurredAt: booking.createdAt, idempotencyKey: input.idempotencyKey };
  const reason = cause instanceof Error ? cause.message : String(cause);
  input.books.ledger.logger.error({ event: 'booking.not_recorded', ...unrecorded, cause: reason }, `${input.kind} ${providerText(booking.id)} booked by the provider but not recorded`);
  return new ReconcileError(
    'booked_not_recorded',
    `the provider booked ${input.kind} ${providerText(booking.id)} of ${providerText(booking.amount)} ${providerText(booking.currency)} on Earn account ${account.earnAccountId} (idempotencyKey ${JSON.stringify(input.idempotencyKey)}), but the books did not record it: ${reason}. The money moved: the next reconciliation shows it as missing_in_ledger (repair it then); the same key again retries the record without booking twice`,
    // The books' refusal's named facts (the account an insufficient balance is on, …) are the error's too.
    { field: 'idempotencyKey', value: input.idempotencyKey, booking: unrecorded, ...(cause instanceof LedgerError && cause.context !== undefined ? { context: cause.context } : {}), cause },
  );
}

/** The most characters of a provider's text an error of the glue quotes. */
const PROVIDER_TEXT_LENGTH_MAX = 64;

/**
 * `value` as text, cut to {@link PROVIDER_TEXT_LENGTH_MAX} characters (ending in `...` when cut).
 * Never throws: the errors that quote it (once the provider may have booked) must reach the caller.
 */
function cutProviderText(value: unknown): string {
  const text = typeof value === 'string' ? value : valueText(value);
  return text.length > PROVIDER_TEXT_LENGTH_MAX ? `${text.slice(0, PROVIDER_TEXT_LENGTH_MAX - 3)}...` : text;
}

/**
 * Text the provider chose, as a message may show it: cut, then escaped by the earn-client's rule
 * (controls, bidi overrides, zero-width characters, U+2028 and U+2029 as `\uXXXX`; half of a
 * surrogate pair the cut split is escaped too), so that it cannot break a log line, drive a
 * terminal or reorder what a reader sees.
 */
function providerText(value: unknown): string {
  return escapeUnsafeText(cutProviderText(value));
}

/** {@link providerText} in JSON quotes; a value that is not a string (none answered) is shown bare. */
function quotedProviderText(value: unknown): string {
  return typeof value === 'string' ? escapeUnsafeText(JSON.stringify(cutProviderText(value))) : providerText(value);
}
