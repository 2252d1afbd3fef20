import type { FromSchema } from 'json-schema-to-ts';
import type { earnApiContract } from './openapi.js';

/**
 * Removes the `[key: string]: unknown` index signatures that `FromSchema` adds to open objects,
 * recursively, and makes everything readonly. Unknown fields are still tolerated at runtime;
 * the types simply name only the fields the contract knows.
 */
export type KnownFields<T> = T extends readonly (infer E)[]
  ? readonly KnownFields<E>[]
  : T extends object
    ? { readonly [K in keyof T as string extends K ? never : number extends K ? never : K]: KnownFields<T[K]> }
    : T;

type Schemas = typeof earnApiContract.components.schemas;

/** The TypeScript type of one component schema of the contract. */
export type ContractType<N extends keyof Schemas> = KnownFields<FromSchema<Schemas[N]>>;

/** RFC 6749 §5.1 access token response. */
export type TokenResponse = ContractType<'TokenResponse'>;
/** The error body of a non-2xx API response. */
export type ErrorBody = ContractType<'ErrorBody'>;
/** One balance band of a product rate. */
export type InterestTier = ContractType<'InterestTier'>;
/** A product, e.g. "BTC fixed interest", with one currency. */
export type Product = ContractType<'Product'>;
/** The answer of `GET /v1/products`. */
export type ProductList = ContractType<'ProductList'>;
/** The body of `POST /v1/users`. */
export type CreateUserRequest = ContractType<'CreateUserRequest'>;
/** An Earn user. */
export type User = ContractType<'User'>;
/** The body of `POST /v1/accounts`. */
export type CreateAccountRequest = ContractType<'CreateAccountRequest'>;
/** An account of an Earn user in one product. */
export type Account = ContractType<'Account'>;
/** One page of accounts. */
export type AccountPage = ContractType<'AccountPage'>;
/** The body of a deposit or withdrawal booking. */
export type BookingRequest = ContractType<'BookingRequest'>;
/** What a deposit or withdrawal booking returns. */
export type Booking = ContractType<'Booking'>;
/** One entry of an account history. */
export type Transaction = ContractType<'Transaction'>;
/** One page of account transactions. */
export type TransactionPage = ContractType<'TransactionPage'>;
/** The settlement position of one currency. */
export type OutstandingBalance = ContractType<'OutstandingBalance'>;
/** The answer of `GET /v1/outstanding-balances`. */
export type OutstandingBalances = ContractType<'OutstandingBalances'>;
/** One item of the report list. */
export type ReportSummary = ContractType<'ReportSummary'>;
/** One page of the report list. */
export type ReportPage = ContractType<'ReportPage'>;
/** The answer of `GET /v1/reports/{reportId}/download-uri`. */
export type ReportDownloadUri = ContractType<'ReportDownloadUri'>;
/** One journal entry of a daily report. */
export type ReportTransaction = ContractType<'ReportTransaction'>;
/** The settlement figures of one currency in a daily report. */
export type ReportBalance = ContractType<'ReportBalance'>;
/** A downloaded daily report. */
export type DailyReport = ContractType<'DailyReport'>;

/** Every component schema name mapped to its TypeScript type. */
export interface ContractTypes {
  TokenResponse: TokenResponse;
  OAuthError: ContractType<'OAuthError'>;
  ErrorBody: ErrorBody;
  InterestTier: InterestTier;
  Product: Product;
  ProductList: ProductList;
  CreateUserRequest: CreateUserRequest;
  User: User;
  CreateAccountRequest: CreateAccountRequest;
  Account: Account;
  AccountPage: AccountPage;
  BookingRequest: BookingRequest;
  Booking: Booking;
  Transaction: Transaction;
  TransactionPage: TransactionPage;
  OutstandingBalance: OutstandingBalance;
  OutstandingBalances: OutstandingBalances;
  ReportSummary: ReportSummary;
  ReportPage: ReportPage;
  ReportDownloadUri: ReportDownloadUri;
  ReportTransaction: ReportTransaction;
  ReportBalance: ReportBalance;
  DailyReport: DailyReport;
}

/** Journal entry types the contract names; others are tolerated and must be flagged by readers. */
export const KNOWN_REPORT_TRANSACTION_TYPES = ['Deposit', 'Withdrawal', 'Interest', 'PartnerMargin', 'Fee', 'Settlement'] as const;

/** One of {@link KNOWN_REPORT_TRANSACTION_TYPES}. */
export type KnownReportTransactionType = (typeof KNOWN_REPORT_TRANSACTION_TYPES)[number];
