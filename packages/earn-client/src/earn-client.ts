import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { EntityConfig, EntityConfigInput, EntityId } from './config.js';
import { resolveEntityConfig } from './config.js';
import type {
  Account,
  AccountPage,
  Booking,
  DailyReport,
  OutstandingBalances,
  Product,
  ReportDownloadUri,
  ReportPage,
  ReportSummary,
  Transaction,
  TransactionPage,
  User,
} from './contract/types.js';
import { validateContract } from './contract/validate.js';
import type { ContractSchemaName } from './contract/openapi.js';
import { EarnApiError } from './errors.js';
import { bookingAccountId, expectedCurrency, idempotencyKey, identifier, wellFormed } from './caller-input.js';
import { checkBooking } from './booking-check.js';
import { HttpExecutor } from './http.js';
import { paginate } from './paginate.js';
import type { Page } from './paginate.js';
import { TokenProvider } from './token-provider.js';

/** Options every method accepts. */
export interface CallSignalOptions {
  /** Aborts the call, including its retry delays; the call then fails with `aborted`. */
  readonly signal?: AbortSignal;
}

/** Options of calls that create something: the idempotency key. */
export interface IdempotentCallOptions extends CallSignalOptions {
  /**
   * Sent as `Idempotency-Key` on every attempt of the call. Pass a key derived from your own
   * record (e.g. your booking id) so that a call repeated after a crash is also booked once; when
   * left out, a random UUID is used for the attempts of this one call.
   */
  readonly idempotencyKey?: string;
}

/** Input of {@link EarnClient.createUser}. */
export interface CreateUserInput extends IdempotentCallOptions {
  /** The partner's own end-user reference, stored by the provider. */
  readonly externalReference?: string;
}

/** Input of {@link EarnClient.createAccount}. */
export interface CreateAccountInput extends IdempotentCallOptions {
  /** The Earn user of this entity. */
  readonly userId: string;
  /** The product; it must belong to this entity. */
  readonly productId: string;
}

/** Input of {@link EarnClient.deposit} and {@link EarnClient.withdraw}. */
export interface BookingInput extends IdempotentCallOptions {
  /**
   * Required for money: derive it from your own record of the booking (e.g. its id), so that a
   * booking repeated after a crash — not only a retried attempt — is booked once.
   */
  readonly idempotencyKey: string;
  /** The account to book on. */
  readonly accountId: string;
  /** A positive decimal string with at most 18 decimals, e.g. `"0.5"`. Never a number. */
  readonly amount: string;
  /** The partner's own booking reference. */
  readonly reference?: string;
  /**
   * The currency of the account (e.g. `"BTC"`), when the caller knows it. It is not sent (the
   * request names none: the account's is meant); a booking answered in another currency is
   * `invalid_response` naming `currency`, as another type, account or amount is.
   */
  readonly currency?: string;
}

/** Input of a single page request. */
export interface PageInput extends CallSignalOptions {
  /** The cursor from the previous page's `nextCursor`; none for the first page. */
  readonly cursor?: string;
  /** The page size, 1 to `pageSizeMax`; default `pageSizeDefault`. */
  readonly limit?: number;
}

/** Input of an iteration over all pages. */
export interface IterateInput extends CallSignalOptions {
  /** The page size, 1 to `pageSizeMax`; default `pageSizeDefault`. */
  readonly pageSize?: number;
}

/**
 * The client of one Tesseract legal entity: one credential set, one token cache, typed methods
 * for every operation of the contract. For both entities together use {@link EarnFacade}.
 *
 * @example
 * ```ts
 * const defi = new EarnClient({
 *   entityId: 'defi',
 *   baseUrl: 'https://earn.example.com',
 *   tokenUrl: 'https://auth.example.com/oauth/token',
 *   clientId: 'partner-defi',
 *   clientSecret: secrets.defi,
 * });
 * const products = await defi.listProducts();
 * const booking = await defi.deposit({ accountId, amount: '0.5', idempotencyKey: myBookingId });
 * ```
 */
export class EarnClient {
  /** The frozen configuration (without the secret). */
  readonly config: EntityConfig;
  readonly #tokens: TokenProvider;
  readonly #http: HttpExecutor;

  constructor(input: EntityConfigInput) {
    this.config = resolveEntityConfig(input);
    this.#tokens = new TokenProvider({ config: this.config, clientSecret: input.clientSecret });
    this.#http = new HttpExecutor({ config: this.config, tokens: this.#tokens });
  }

  /** The entity this client calls for. */
  get entityId(): EntityId {
    return this.config.entityId;
  }

  /** How many token requests this client has sent so far. */
  get tokenRequestCount(): number {
    return this.#tokens.tokenRequestCount;
  }

  /** `GET /v1/products`: the products of this entity. */
  async listProducts(options: CallSignalOptions = {}): Promise<readonly Product[]> {
    const list = await this.#http.call('GET /v1/products', { signal: options.signal });
    return list.items;
  }

  /** `POST /v1/users`: creates an Earn user of this entity. */
  async createUser(input: CreateUserInput = {}): Promise<User> {
    const body = this.#input('CreateUserRequest', input.externalReference === undefined ? {} : { externalReference: input.externalReference });
    return this.#http.call('POST /v1/users', { body, idempotencyKey: this.#idempotencyKey(input), signal: input.signal });
  }

  /** `GET /v1/users/{userId}` (assumed). */
  async getUser(input: { readonly userId: string } & CallSignalOptions): Promise<User> {
    return this.#http.call('GET /v1/users/{userId}', { pathParams: { userId: identifier(input.userId, 'userId') }, signal: input.signal });
  }

  /** `POST /v1/accounts` (assumed): opens the account of an Earn user in a product. */
  async createAccount(input: CreateAccountInput): Promise<Account> {
    const body = this.#input('CreateAccountRequest', { userId: input.userId, productId: input.productId });
    return this.#http.call('POST /v1/accounts', { body, idempotencyKey: this.#idempotencyKey(input), signal: input.signal });
  }

  /** `GET /v1/accounts/{accountId}` (assumed). */
  async getAccount(input: { readonly accountId: string } & CallSignalOptions): Promise<Account> {
    return this.#http.call('GET /v1/accounts/{accountId}', { pathParams: { accountId: identifier(input.accountId, 'accountId') }, signal: input.signal });
  }

  /** One page of `GET /v1/users/{userId}/accounts` (assumed). */
  async listUserAccountsPage(input: { readonly userId: string } & PageInput): Promise<AccountPage> {
    return lastPageAsNull(
      await this.#http.call('GET /v1/users/{userId}/accounts', {
        pathParams: { userId: identifier(input.userId, 'userId') },
        query: this.#pageQuery(input),
        signal: input.signal,
      }),
    );
  }

  /** Every account of a user, page by page, as an async iterator bounded by `pagesMax`. */
  userAccounts(input: { readonly userId: string } & IterateInput): AsyncIterable<Account> {
    return this.#iterate((cursor) => this.listUserAccountsPage({ ...signalOf(input), userId: input.userId, limit: this.#pageSize(input.pageSize), ...(cursor === undefined ? {} : { cursor }) }), input.signal);
  }

  /**
   * `POST /v1/accounts/{accountId}/deposits` (assumed): books a deposit on Earn accounting. Every
   * attempt carries the same `Idempotency-Key`, so a retried deposit is booked once. A booking
   * answered with another type, account, amount (compared as decimals) or, when `currency` is
   * given, currency is `invalid_response` naming the field.
   */
  async deposit(input: BookingInput): Promise<Booking> {
    return this.#book('POST /v1/accounts/{accountId}/deposits', input);
  }

  /**
   * `POST /v1/accounts/{accountId}/withdrawals` (assumed). Beyond the balance it fails with
   * `insufficient_balance`; it is never retried then. The answer is checked as a deposit's is.
   */
  async withdraw(input: BookingInput): Promise<Booking> {
    return this.#book('POST /v1/accounts/{accountId}/withdrawals', input);
  }

  /** One page of `GET /v1/accounts/{accountId}/transactions` (assumed). */
  async listAccountTransactionsPage(input: { readonly accountId: string } & PageInput): Promise<TransactionPage> {
    return lastPageAsNull(
      await this.#http.call('GET /v1/accounts/{accountId}/transactions', {
        pathParams: { accountId: identifier(input.accountId, 'accountId') },
        query: this.#pageQuery(input),
        signal: input.signal,
      }),
    );
  }

  /** The whole history of an account, page by page, as an async iterator bounded by `pagesMax`. */
  accountTransactions(input: { readonly accountId: string } & IterateInput): AsyncIterable<Transaction> {
    return this.#iterate((cursor) => this.listAccountTransactionsPage({ ...signalOf(input), accountId: input.accountId, limit: this.#pageSize(input.pageSize), ...(cursor === undefined ? {} : { cursor }) }), input.signal);
  }

  /** `GET /v1/outstanding-balances` (assumed): the current settlement position per currency. */
  async getOutstandingBalances(options: CallSignalOptions = {}): Promise<OutstandingBalances> {
    return this.#http.call('GET /v1/outstanding-balances', { signal: options.signal });
  }

  /** One page of `GET /v1/reports?type=Report`. */
  async listReportsPage(input: PageInput = {}): Promise<ReportPage> {
    return lastPageAsNull(await this.#http.call('GET /v1/reports', { query: { type: 'Report', ...this.#pageQuery(input) }, signal: input.signal }));
  }

  /** Every report of type `Report`, page by page, bounded by `pagesMax`. */
  reports(input: IterateInput = {}): AsyncIterable<ReportSummary> {
    return this.#iterate((cursor) => this.listReportsPage({ ...signalOf(input), limit: this.#pageSize(input.pageSize), ...(cursor === undefined ? {} : { cursor }) }), input.signal);
  }

  /** `GET /v1/reports/{reportId}/download-uri`: where to download a report. */
  async getReportDownloadUri(input: { readonly reportId: string } & CallSignalOptions): Promise<ReportDownloadUri> {
    return this.#http.call('GET /v1/reports/{reportId}/download-uri', { pathParams: { reportId: identifier(input.reportId, 'reportId') }, signal: input.signal });
  }

  /**
   * Downloads and validates a daily report from a download URI, without the bearer token, within
   * `reportBytesMax`. HTTPS is required unless the host is loopback. Its time limits are
   * `downloadTimeoutMs` per attempt (whole body included), `downloadIdleTimeoutMs` without
   * receiving anything, and `downloadRetryTotalMsMax` over all attempts, not the API's.
   */
  async downloadReport(input: { readonly uri: string } & CallSignalOptions): Promise<DailyReport> {
    return this.#http.download(input.uri, input.signal);
  }

  /** {@link EarnClient.getReportDownloadUri} then {@link EarnClient.downloadReport}. */
  async fetchReport(input: { readonly reportId: string } & CallSignalOptions): Promise<DailyReport> {
    const { uri } = await this.getReportDownloadUri(input);
    return this.downloadReport({ ...signalOf(input), uri });
  }

  /**
   * {@link EarnClient.downloadReport} for a report too large to hold: its bytes are written to
   * `path` as they arrive (through a temporary file beside it, renamed onto `path` once whole;
   * `path` is replaced), never held whole. The same URI rules, `reportBytesMax`, time limits,
   * retries (each attempt starts the file again) and credential check apply; the body is not
   * parsed here. Read the file with reconcile's `openReportFile`, which validates every entry
   * against the contract as it streams and hashes the bytes. `path`'s folder must exist and be
   * writable (`invalid_input` before anything is sent); a failed write mid-way is `invalid_input`
   * too, never retried. Returns the path and the number of bytes written.
   */
  async downloadReportToFile(input: { readonly uri: string; readonly path: string } & CallSignalOptions): Promise<DownloadedReportFile> {
    return this.#downloadToFile(input.uri, await writablePath(input.path), input.signal);
  }

  /** {@link EarnClient.getReportDownloadUri} then {@link EarnClient.downloadReportToFile}. */
  async fetchReportToFile(input: { readonly reportId: string; readonly path: string } & CallSignalOptions): Promise<DownloadedReportFile> {
    // Checked before anything is sent, once.
    const path = await writablePath(input.path);
    const { uri } = await this.getReportDownloadUri(input);
    return this.#downloadToFile(uri, path, input.signal);
  }

  async #downloadToFile(uri: string, path: string, signal: AbortSignal | undefined): Promise<DownloadedReportFile> {
    const bytes = await this.#http.downloadToFile(uri, path, signal);
    return Object.freeze({ path, bytes });
  }

  async #book(operation: 'POST /v1/accounts/{accountId}/deposits' | 'POST /v1/accounts/{accountId}/withdrawals', input: BookingInput): Promise<Booking> {
    const accountId = bookingAccountId(input.accountId, 'accountId');
    const currency = input.currency === undefined ? undefined : expectedCurrency(input.currency);
    const body = this.#input('BookingRequest', input.reference === undefined ? { amount: input.amount } : { amount: input.amount, reference: input.reference });
    // The caller's key: every attempt of this booking, and any later repeat of it, carries it.
    if (input.idempotencyKey === undefined) {
      throw new EarnApiError('invalid_input', 'idempotencyKey is required on bookings: derive it from your own record of the booking', { path: 'idempotencyKey', field: 'idempotencyKey' });
    }
    const idempotencyKey = this.#idempotencyKey(input);
    const booking = await this.#http.call(operation, { pathParams: { accountId }, body, idempotencyKey, signal: input.signal });
    const type = operation === 'POST /v1/accounts/{accountId}/deposits' ? 'Deposit' : 'Withdrawal';
    const expected = { type, accountId, amount: input.amount, ...(input.reference === undefined ? {} : { reference: input.reference }), ...(currency === undefined ? {} : { currency }) } as const;
    // The HTTP layer's redaction is behind us: the check quotes the answer redacted itself.
    return checkBooking({ operation, expected, booking, secrets: this.#tokens.secrets() });
  }

  #idempotencyKey(input: IdempotentCallOptions): string {
    return input.idempotencyKey === undefined ? randomUUID() : idempotencyKey(input.idempotencyKey);
  }

  /** Validates a request body against its contract schema; `invalid_input` names the field. */
  #input(name: ContractSchemaName, value: unknown): unknown {
    validateContract(name, value, { operation: 'request body', kind: 'input' });
    return value;
  }

  #pageSize(pageSize: number | undefined): number {
    const size = pageSize ?? this.config.pageSizeDefault;
    if (!Number.isSafeInteger(size) || size < 1 || size > this.config.pageSizeMax) {
      throw new EarnApiError('invalid_input', `pageSize must be an integer from 1 to pageSizeMax (${this.config.pageSizeMax}), got ${String(size)}`, { path: 'pageSize', field: 'pageSize' });
    }
    return size;
  }

  #pageQuery(input: PageInput): Record<string, string | undefined> {
    const limit = this.#pageSize(input.limit);
    if (input.cursor !== undefined && (typeof input.cursor !== 'string' || input.cursor.length === 0 || input.cursor.length > 2048)) {
      throw new EarnApiError('invalid_input', `cursor must be a string of 1 to 2048 characters, got ${typeof input.cursor === 'string' ? JSON.stringify(input.cursor.slice(0, 40)) : typeof input.cursor}`, { path: 'cursor', field: 'cursor' });
    }
    return { cursor: input.cursor === undefined ? undefined : wellFormed(input.cursor, 'cursor'), limit: String(limit) };
  }

  #iterate<T>(fetchPage: (cursor: string | undefined) => Promise<Page<T>>, signal: AbortSignal | undefined): AsyncIterable<T> {
    return paginate({ fetchPage, pagesMax: this.config.pagesMax, operation: `${this.entityId} pagination`, ...(signal === undefined ? {} : { signal }) });
  }
}

/**
 * A page whose `nextCursor` is `""` read as the last page (`nextCursor: null`). The contract
 * allows any string of up to 2048 characters and says `null` on the last page; EARN_API.md and
 * the contract are silent on an empty cursor. We choose to read it as "no next page", as APIs
 * that send `""` for "none" mean it, rather than ask for a page at an empty cursor (which this
 * client refuses as input, so a caller passing `nextCursor` back would be blamed for it).
 */
function lastPageAsNull<P extends { readonly nextCursor: string | null }>(page: P): P {
  return page.nextCursor === '' ? { ...page, nextCursor: null } : page;
}

/** What {@link EarnClient.downloadReportToFile} wrote. */
export interface DownloadedReportFile {
  /** The file, as given. */
  readonly path: string;
  /** The bytes written: the whole body. */
  readonly bytes: number;
}

/** `path` when it is a string whose folder exists and may be written, else `invalid_input`. */
async function writablePath(path: unknown): Promise<string> {
  const refuse = (why: string, cause?: unknown) =>
    new EarnApiError('invalid_input', `path ${why}, got ${JSON.stringify(typeof path === 'string' ? path.slice(0, 200) : typeof path)}`, { path: 'path', field: 'path', ...(cause === undefined ? {} : { cause }) });
  if (typeof path !== 'string' || path.length === 0 || path.includes('\0')) throw refuse('must be a non-empty file path');
  try {
    await access(dirname(path), constants.W_OK);
  } catch (cause) {
    throw refuse(`must be in a folder that exists and may be written (${(cause as Error).message})`);
  }
  return path;
}

function signalOf(input: CallSignalOptions): CallSignalOptions {
  return input.signal === undefined ? {} : { signal: input.signal };
}
