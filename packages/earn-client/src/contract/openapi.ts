/**
 * The one contract of the Tesseract Earn API as this project knows and assumes it: an OpenAPI 3.1
 * document kept as a TypeScript `const`, so that the runtime validators (ajv) and the TypeScript
 * types (json-schema-to-ts) are both derived from the same object and never written twice.
 *
 * Everything the provider's public material does not state is marked with
 * `x-earnbook-assumption: true` and a short `description`, on the path, operation, parameter or
 * field that is assumed. Replacing an assumption with the provider's real schema is a change here
 * and nowhere else. `openapi.json` next to `package.json` is emitted from this object
 * (`pnpm emit-openapi`) and a test proves the two are equal.
 *
 * Response objects never set `additionalProperties: false`: unknown extra fields from the provider
 * are tolerated, while missing required fields fail validation loudly.
 */

/** The extension keyword that marks a path, operation, parameter or field as our assumption. */
export const ASSUMPTION_KEYWORD = 'x-earnbook-assumption';

/** Builds the marker of an assumed part of the contract, with the reason in `description`. */
function assumed<const D extends string>(description: D): { readonly 'x-earnbook-assumption': true; readonly description: D } {
  return { 'x-earnbook-assumption': true, description };
}

// Shared primitive schemas. They are inlined (not `$ref`ed) where used so that every component
// schema is self-contained for both ajv and `FromSchema`.

/** A non-negative decimal string with up to 18 decimal places (known: amounts are strings). */
const amountSchema = {
  type: 'string',
  pattern: '^\\d{1,24}(\\.\\d{1,18})?$',
  description: 'Non-negative decimal string, up to 18 decimal places, no exponent.',
} as const;

/** A signed decimal string with up to 18 decimal places. */
const signedAmountSchema = {
  type: 'string',
  pattern: '^-?\\d{1,24}(\\.\\d{1,18})?$',
  description: 'Signed decimal string, up to 18 decimal places, no exponent.',
} as const;

/** A strictly positive decimal string, as accepted for bookings. */
const positiveAmountSchema = {
  type: 'string',
  pattern: '^(?!0+(\\.0+)?$)\\d{1,24}(\\.\\d{1,18})?$',
  description: 'Positive decimal string, up to 18 decimal places, no exponent.',
} as const;

/** An ISO-8601 / RFC 3339 instant with `Z` or an explicit offset. */
const instantSchema = { type: 'string', format: 'date-time', maxLength: 40 } as const;

/** An accounting day, `YYYY-MM-DD` in the partner's agreed time zone. */
const accountingDaySchema = {
  type: 'string',
  format: 'date',
  pattern: '^\\d{4}-\\d{2}-\\d{2}$',
} as const;

/** A currency code such as `BTC` or `XRP`. */
const currencySchema = { type: 'string', minLength: 1, maxLength: 32 } as const;

/** An opaque provider identifier. */
const identifierSchema = { type: 'string', minLength: 1, maxLength: 128 } as const;

/**
 * A UUID in its canonical spelling, the one the sandbox writes and the books compare: lowercase
 * `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, nothing around it. The `uuid` format alone (RFC 4122
 * reads UUIDs case-insensitively) also took upper case and a `urn:uuid:` prefix, so one entry
 * written in two spellings was two entries; the validators check this pattern and take the
 * format as a name only (one regular expression per id, as before).
 */
export const CANONICAL_UUID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';

const HEX_UUID = '[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}';

/**
 * An opaque id that, if it spells a UUID at all, spells it canonically: either the canonical
 * spelling, or no UUID spelling that parsers commonly take (a letter in upper case, a `urn:uuid:`
 * prefix in any case, braces). 32 hex digits without hyphens are an opaque id here, not a UUID
 * spelling, as the reconciler reads them. Written as one positive pattern, not as `not` of the
 * other spellings: ajv builds and drops an error object for every value a `not`'s subschema
 * refuses, which is every good id. The pattern costs about 60 ms per 1M canonical UUIDs and
 * 15 ms per 1M short opaque ids (the regular expression alone, as ajv-formats' `uuid` did).
 */
export const OPAQUE_ID_PATTERN = `^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$|(?!(?:[Uu][Rr][Nn]:[Uu][Uu][Ii][Dd]:)?(?:${HEX_UUID}|\\{${HEX_UUID}\\})$))`;

/** The id of a report entry: a UUID, canonical. */
const entryIdSchema = {
  type: 'string',
  format: 'uuid',
  pattern: CANONICAL_UUID_PATTERN,
  description: 'A UUID in lowercase canonical spelling (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx): upper case, urn:uuid: and braces are refused.',
} as const;

/**
 * An opaque provider identifier that, when it spells a UUID, spells it canonically: `ACC-1` and
 * `0a1b…` are taken, `0A1B…`, `urn:uuid:0a1b…` and `{0a1b…}` are refused (the books would hold
 * them as other ids than the provider's own spelling). Every id of an answer and of a request
 * body takes it (a report's, a user's, an account's, a product's, a booking's, a history
 * entry's and their references), so an upper-case copy of an id is never read as another object;
 * ids a caller puts in a path (`getAccount`) stay any {@link identifierSchema}, as nothing is made.
 */
const opaqueIdSchema = {
  ...identifierSchema,
  pattern: OPAQUE_ID_PATTERN,
  description: 'Opaque; when it spells a UUID, it is in lowercase canonical spelling.',
} as const;

/** A cursor for the next page, or `null` on the last page. */
const nextCursorSchema = {
  type: ['string', 'null'],
  maxLength: 2048,
  ...assumed('Opaque cursor of the next page; null on the last page.'),
} as const;

/** The maximum number of items one page may carry (assumed provider limit). */
export const CONTRACT_PAGE_SIZE_MAX = 1000;

/** The longest `Idempotency-Key` the API takes (assumed: the parameter's `maxLength`). */
export const CONTRACT_IDEMPOTENCY_KEY_LENGTH_MAX = 255;

// ---------------------------------------------------------------------------------------------
// Component schemas
// ---------------------------------------------------------------------------------------------

const tokenResponseSchema = {
  type: 'object',
  ...assumed('RFC 6749 §5.1 access token response of the §4.4 client credentials grant.'),
  required: ['access_token', 'token_type'],
  properties: {
    access_token: { type: 'string', minLength: 1 },
    token_type: { type: 'string', minLength: 1 },
    expires_in: { type: 'number', minimum: 0 },
    scope: { type: 'string' },
  },
} as const;

const oauthErrorSchema = {
  type: 'object',
  ...assumed('RFC 6749 §5.2 error response of the token endpoint.'),
  required: ['error'],
  properties: {
    error: { type: 'string' },
    error_description: { type: 'string' },
  },
} as const;

const errorBodySchema = {
  type: 'object',
  ...assumed('Error body of every non-2xx API response; the request id is also in X-Request-Id.'),
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', minLength: 1, examples: ['insufficient_balance', 'not_found', 'idempotency_conflict'] },
        message: { type: 'string' },
        requestId: { type: 'string' },
      },
    },
  },
} as const;

const interestTierSchema = {
  type: 'object',
  ...assumed('One balance band of a product rate; toAmount null means unbounded.'),
  required: ['fromAmount', 'toAmount', 'apy'],
  properties: {
    fromAmount: amountSchema,
    toAmount: { ...amountSchema, type: ['string', 'null'] },
    apy: { ...amountSchema, description: 'Annual percentage yield as a fraction: "0.035" is 3.5%.' },
  },
} as const;

const productSchema = {
  type: 'object',
  description: 'A product such as "BTC fixed interest"; it has exactly one currency.',
  required: ['id', 'name', 'currency', 'interest', 'partnerMargin'],
  properties: {
    id: { ...opaqueIdSchema, ...assumed('Product id field name. When it spells a UUID, it is in lowercase canonical spelling.') },
    name: { type: 'string', ...assumed('Display name field.') },
    currency: { ...currencySchema, ...assumed('Field name of the product currency.') },
    entity: { type: 'string', ...assumed('The legal entity the provider reports, if it reports one.') },
    interest: {
      type: 'object',
      ...assumed('Representation of tiered interest.'),
      required: ['tierMode', 'tiers'],
      properties: {
        tierMode: {
          type: 'string',
          enum: ['marginal', 'whole-balance'],
          description: 'marginal: each band earns its own rate (like tax brackets); whole-balance: one rate for the whole balance.',
        },
        tiers: { type: 'array', minItems: 1, maxItems: 100, items: interestTierSchema },
      },
    },
    partnerMargin: {
      type: ['object', 'null'],
      ...assumed('Partner margin per product; null when none is configured.'),
      required: ['mode', 'apy'],
      properties: {
        mode: {
          type: 'string',
          enum: ['own-apy', 'rate-difference'],
          description: 'own-apy: its own APY on the same balance; rate-difference: product rate minus user rate.',
        },
        apy: amountSchema,
      },
    },
  },
} as const;

const productListSchema = {
  type: 'object',
  ...assumed('GET /v1/products answers an envelope with items, unpaginated.'),
  required: ['items'],
  properties: { items: { type: 'array', maxItems: 10000, items: productSchema } },
} as const;

const createUserRequestSchema = {
  type: 'object',
  ...assumed('Body of POST /v1/users.'),
  additionalProperties: false,
  properties: {
    externalReference: { type: 'string', minLength: 1, maxLength: 128, description: "The partner's own end-user reference." },
  },
} as const;

const userSchema = {
  type: 'object',
  ...assumed('Fields of an Earn user beyond its id.'),
  required: ['id', 'createdAt'],
  properties: {
    id: opaqueIdSchema,
    createdAt: instantSchema,
    externalReference: { type: 'string' },
  },
} as const;

const createAccountRequestSchema = {
  type: 'object',
  ...assumed('Body of POST /v1/accounts: one account per (Earn user, product).'),
  additionalProperties: false,
  required: ['userId', 'productId'],
  properties: { userId: opaqueIdSchema, productId: opaqueIdSchema },
} as const;

const accountSchema = {
  type: 'object',
  ...assumed('Fields of an account.'),
  required: ['id', 'userId', 'productId', 'currency', 'balance', 'createdAt'],
  properties: {
    id: opaqueIdSchema,
    userId: opaqueIdSchema,
    productId: opaqueIdSchema,
    currency: currencySchema,
    balance: amountSchema,
    createdAt: instantSchema,
  },
} as const;

const accountPageSchema = {
  type: 'object',
  ...assumed('Cursor pagination envelope.'),
  required: ['items', 'nextCursor'],
  properties: {
    items: { type: 'array', maxItems: CONTRACT_PAGE_SIZE_MAX, items: accountSchema },
    nextCursor: nextCursorSchema,
  },
} as const;

const bookingRequestSchema = {
  type: 'object',
  ...assumed('Body of a deposit or withdrawal booking.'),
  additionalProperties: false,
  required: ['amount'],
  properties: {
    amount: positiveAmountSchema,
    reference: { type: 'string', minLength: 1, maxLength: 128, description: "The partner's own booking reference." },
  },
} as const;

const bookingSchema = {
  type: 'object',
  ...assumed('What a deposit or withdrawal booking returns; the partner stores it.'),
  required: ['id', 'accountId', 'type', 'amount', 'currency', 'createdAt', 'balanceAfter'],
  properties: {
    id: opaqueIdSchema,
    accountId: opaqueIdSchema,
    type: { type: 'string', enum: ['Deposit', 'Withdrawal'] },
    amount: positiveAmountSchema,
    currency: currencySchema,
    createdAt: instantSchema,
    balanceAfter: amountSchema,
    reference: { type: 'string' },
  },
} as const;

const transactionSchema = {
  type: 'object',
  ...assumed('One entry of an account history (deposits, withdrawals, interest).'),
  required: ['id', 'accountId', 'type', 'amount', 'currency', 'createdAt'],
  properties: {
    id: opaqueIdSchema,
    accountId: opaqueIdSchema,
    type: { type: 'string', minLength: 1, examples: ['Deposit', 'Withdrawal', 'Interest'] },
    amount: amountSchema,
    currency: currencySchema,
    createdAt: instantSchema,
    balanceAfter: amountSchema,
    bookingId: opaqueIdSchema,
  },
} as const;

const transactionPageSchema = {
  type: 'object',
  ...assumed('Cursor pagination envelope.'),
  required: ['items', 'nextCursor'],
  properties: {
    items: { type: 'array', maxItems: CONTRACT_PAGE_SIZE_MAX, items: transactionSchema },
    nextCursor: nextCursorSchema,
  },
} as const;

const outstandingBalanceSchema = {
  type: 'object',
  required: ['currency', 'outstandingBalance'],
  properties: {
    currency: currencySchema,
    outstandingBalance: {
      ...signedAmountSchema,
      description: 'Settlement position: negative means the partner must send that amount to Tesseract.',
    },
  },
} as const;

const outstandingBalancesSchema = {
  type: 'object',
  ...assumed('GET /v1/outstanding-balances: the current settlement position per currency.'),
  required: ['asOf', 'balances'],
  properties: {
    asOf: instantSchema,
    balances: { type: 'array', maxItems: 10000, items: outstandingBalanceSchema },
  },
} as const;

const reportSummarySchema = {
  type: 'object',
  ...assumed('Fields of a report list item beyond id and type.'),
  required: ['id', 'type', 'createdAt'],
  properties: {
    id: opaqueIdSchema,
    type: { type: 'string', minLength: 1, examples: ['Report'] },
    accountingDay: accountingDaySchema,
    createdAt: instantSchema,
  },
} as const;

const reportPageSchema = {
  type: 'object',
  ...assumed('GET /v1/reports answers the cursor pagination envelope.'),
  required: ['items', 'nextCursor'],
  properties: {
    items: { type: 'array', maxItems: CONTRACT_PAGE_SIZE_MAX, items: reportSummarySchema },
    nextCursor: nextCursorSchema,
  },
} as const;

const reportDownloadUriSchema = {
  type: 'object',
  ...assumed('Field name of the download URI.'),
  required: ['uri'],
  properties: {
    uri: { type: 'string', format: 'uri', maxLength: 8192 },
    expiresAt: instantSchema,
  },
} as const;

const reportTransactionSchema = {
  type: 'object',
  description: 'One journal entry of the accounting day. Known fields: id, type, currency, amount, createdAt.',
  required: ['id', 'type', 'currency', 'amount', 'createdAt'],
  properties: {
    id: entryIdSchema,
    type: {
      type: 'string',
      minLength: 1,
      description: 'Interest entries are the distributed interest. Unknown types are tolerated; the reconciler flags them.',
      examples: ['Deposit', 'Withdrawal', 'Interest', 'PartnerMargin', 'Fee', 'Settlement'],
    },
    currency: currencySchema,
    amount: {
      ...amountSchema,
      ...assumed('Amounts are non-negative; the direction follows from type.'),
    },
    createdAt: instantSchema,
    accountId: { ...opaqueIdSchema, ...assumed('The account the entry belongs to; absent on partner-level entries. When it spells a UUID, it is in lowercase canonical spelling.') },
    userId: { ...opaqueIdSchema, ...assumed('The Earn user owning the account. When it spells a UUID, it is in lowercase canonical spelling.') },
    productId: { ...opaqueIdSchema, ...assumed('The product of the account. When it spells a UUID, it is in lowercase canonical spelling.') },
    bookingId: {
      ...opaqueIdSchema,
      ...assumed('For Deposit and Withdrawal entries: the id the booking call returned. When it spells a UUID, it is in lowercase canonical spelling.'),
    },
    idempotencyKey: { type: 'string', ...assumed('The Idempotency-Key the booking was made with.') },
  },
} as const;

const reportBalanceSchema = {
  type: 'object',
  description: 'Settlement figures of one currency. outstandingBalance is known; the rest is assumed.',
  required: ['currency', 'outstandingBalance'],
  properties: {
    currency: currencySchema,
    outstandingBalance: {
      ...signedAmountSchema,
      description: 'Negative means the partner must send that amount to Tesseract; positive, Tesseract sends.',
    },
    deposits: { ...amountSchema, ...assumed('Sum of the day\'s deposits (a payable).') },
    withdrawals: { ...amountSchema, ...assumed('Sum of the day\'s withdrawals (a receivable).') },
    fees: { ...amountSchema, ...assumed('Sum of the day\'s fees (a payable).') },
    partnerMargin: { ...amountSchema, ...assumed('Sum of the day\'s partner margin (a receivable).') },
    settled: { ...signedAmountSchema, ...assumed('Net amount settled at the day boundary.') },
    carried: { ...signedAmountSchema, ...assumed('Net amount below the settlement threshold, carried forward.') },
  },
} as const;

/** The maximum number of journal entries one daily report may hold. */
export const CONTRACT_REPORT_TRANSACTIONS_MAX = 2_000_000;

const dailyReportSchema = {
  type: 'object',
  description: 'The daily report downloaded from the download URI. transactions[] and balances[] are known.',
  required: ['id', 'type', 'accountingDay', 'timeZone', 'generatedAt', 'transactions', 'balances'],
  properties: {
    id: { ...opaqueIdSchema, ...assumed('The report id is repeated in the file. When it spells a UUID, it is in lowercase canonical spelling.') },
    type: { const: 'Report', ...assumed('The report type is repeated in the file.') },
    entity: { type: 'string', ...assumed('The legal entity the report belongs to.') },
    accountingDay: { ...accountingDaySchema, ...assumed('The accounting day the report covers.') },
    timeZone: { type: 'string', minLength: 1, ...assumed('The IANA time zone of the accounting day.') },
    generatedAt: { ...instantSchema, ...assumed('When the accounting cycle produced the report.') },
    transactions: { type: 'array', maxItems: CONTRACT_REPORT_TRANSACTIONS_MAX, items: reportTransactionSchema },
    balances: { type: 'array', maxItems: 10000, items: reportBalanceSchema },
  },
} as const;

// ---------------------------------------------------------------------------------------------
// Reusable OpenAPI parts
// ---------------------------------------------------------------------------------------------

const json = <const R extends string>(ref: R) =>
  ({ 'application/json': { schema: { $ref: ref } } }) as const;

const errorResponses = {
  '429': {
    description: 'Rate limited; retry after the delay in Retry-After.',
    headers: {
      'Retry-After': { $ref: '#/components/headers/RetryAfter' },
      'X-Request-Id': { $ref: '#/components/headers/RequestId' },
    },
    content: json('#/components/schemas/ErrorBody'),
  },
  default: {
    description: 'Any other failure.',
    headers: { 'X-Request-Id': { $ref: '#/components/headers/RequestId' } },
    content: json('#/components/schemas/ErrorBody'),
  },
} as const;

const ok = <const R extends string>(ref: R, description: string) =>
  ({
    description,
    headers: { 'X-Request-Id': { $ref: '#/components/headers/RequestId' } },
    content: json(ref),
  }) as const;

const security = [{ earnOAuth2: [] }] as const;

const pageParameters = [
  { $ref: '#/components/parameters/Cursor' },
  { $ref: '#/components/parameters/Limit' },
] as const;

/**
 * The OpenAPI 3.1 document of the Tesseract Earn API: known endpoints exactly as public, the rest
 * marked `x-earnbook-assumption: true`.
 *
 * @example
 * ```ts
 * import { earnApiContract } from '@earnbook/earn-client';
 * const schema = earnApiContract.components.schemas.DailyReport;
 * ```
 */
export const earnApiContract = {
  openapi: '3.1.0',
  jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
  info: {
    title: 'Tesseract Earn API (as known and assumed by earnbook)',
    version: '0.1.0',
    description:
      'Known: OAuth2 client credentials, one credential set per legal entity (DeFi, Lending/Staking), ' +
      'GET /v1/products, POST /v1/users, GET /v1/reports?type=Report, ' +
      'GET /v1/reports/{reportId}/download-uri and the daily report fields transactions[] and ' +
      'balances[].outstandingBalance. Everything marked x-earnbook-assumption is our assumption.',
  },
  servers: [{ url: 'https://earn.example.invalid', description: 'Per entity and environment; configured by the partner.' }],
  security,
  paths: {
    '/oauth/token': {
      ...assumed('Token endpoint per RFC 6749 §4.4; its URL is configured separately (tokenUrl).'),
      post: {
        operationId: 'requestToken',
        security: [{ clientSecretBasic: [] }, {}],
        requestBody: {
          required: true,
          content: {
            'application/x-www-form-urlencoded': {
              schema: {
                type: 'object',
                required: ['grant_type'],
                properties: {
                  grant_type: { const: 'client_credentials' },
                  scope: { type: 'string' },
                  client_id: { type: 'string', description: 'Only with client_secret_post.' },
                  client_secret: { type: 'string', description: 'Only with client_secret_post.' },
                },
              },
            },
          },
        },
        responses: {
          '200': { description: 'Access token.', content: json('#/components/schemas/TokenResponse') },
          '400': { description: 'RFC 6749 §5.2 error.', content: json('#/components/schemas/OAuthError') },
          '401': { description: 'invalid_client.', content: json('#/components/schemas/OAuthError') },
        },
      },
    },
    '/v1/products': {
      get: {
        operationId: 'listProducts',
        description: 'Known endpoint. Called once per entity credential set; the end-user list is the union.',
        responses: { '200': ok('#/components/schemas/ProductList', 'The products of this entity.'), ...errorResponses },
      },
    },
    '/v1/users': {
      post: {
        operationId: 'createUser',
        description: 'Known endpoint. A partner creates two Earn users per end user, one per entity.',
        parameters: [{ $ref: '#/components/parameters/IdempotencyKey' }],
        requestBody: { required: false, content: json('#/components/schemas/CreateUserRequest') },
        responses: { '201': ok('#/components/schemas/User', 'The created user.'), ...errorResponses },
      },
    },
    '/v1/users/{userId}': {
      ...assumed('Reading one user.'),
      get: {
        operationId: 'getUser',
        parameters: [{ $ref: '#/components/parameters/UserId' }],
        responses: { '200': ok('#/components/schemas/User', 'The user.'), ...errorResponses },
      },
    },
    '/v1/users/{userId}/accounts': {
      ...assumed('Listing the accounts of a user, paginated.'),
      get: {
        operationId: 'listUserAccounts',
        parameters: [{ $ref: '#/components/parameters/UserId' }, ...pageParameters],
        responses: { '200': ok('#/components/schemas/AccountPage', 'One page of accounts.'), ...errorResponses },
      },
    },
    '/v1/accounts': {
      ...assumed('Opening an account for (Earn user, product).'),
      post: {
        operationId: 'createAccount',
        parameters: [{ $ref: '#/components/parameters/IdempotencyKey' }],
        requestBody: { required: true, content: json('#/components/schemas/CreateAccountRequest') },
        responses: { '201': ok('#/components/schemas/Account', 'The created account.'), ...errorResponses },
      },
    },
    '/v1/accounts/{accountId}': {
      ...assumed('Reading one account.'),
      get: {
        operationId: 'getAccount',
        parameters: [{ $ref: '#/components/parameters/AccountId' }],
        responses: { '200': ok('#/components/schemas/Account', 'The account.'), ...errorResponses },
      },
    },
    '/v1/accounts/{accountId}/deposits': {
      ...assumed('Booking a deposit on Earn accounting; no crypto moves.'),
      post: {
        operationId: 'createDeposit',
        parameters: [{ $ref: '#/components/parameters/AccountId' }, { $ref: '#/components/parameters/IdempotencyKey' }],
        requestBody: { required: true, content: json('#/components/schemas/BookingRequest') },
        responses: { '201': ok('#/components/schemas/Booking', 'The booking.'), ...errorResponses },
      },
    },
    '/v1/accounts/{accountId}/withdrawals': {
      ...assumed('Booking a withdrawal; beyond the balance it fails with 422 insufficient_balance.'),
      post: {
        operationId: 'createWithdrawal',
        parameters: [{ $ref: '#/components/parameters/AccountId' }, { $ref: '#/components/parameters/IdempotencyKey' }],
        requestBody: { required: true, content: json('#/components/schemas/BookingRequest') },
        responses: {
          '201': ok('#/components/schemas/Booking', 'The booking.'),
          '422': {
            description: 'error.code insufficient_balance when the amount exceeds the balance.',
            content: json('#/components/schemas/ErrorBody'),
          },
          ...errorResponses,
        },
      },
    },
    '/v1/accounts/{accountId}/transactions': {
      ...assumed('The history of an account, paginated.'),
      get: {
        operationId: 'listAccountTransactions',
        parameters: [{ $ref: '#/components/parameters/AccountId' }, ...pageParameters],
        responses: { '200': ok('#/components/schemas/TransactionPage', 'One page of transactions.'), ...errorResponses },
      },
    },
    '/v1/outstanding-balances': {
      ...assumed('The current settlement position per currency.'),
      get: {
        operationId: 'getOutstandingBalances',
        responses: { '200': ok('#/components/schemas/OutstandingBalances', 'Outstanding balances.'), ...errorResponses },
      },
    },
    '/v1/reports': {
      get: {
        operationId: 'listReports',
        description: 'Known endpoint with type=Report. FullTransactionJournal and IncrementalTransactionJournal are deprecated.',
        parameters: [
          { name: 'type', in: 'query', required: true, schema: { type: 'string', enum: ['Report'] } },
          ...pageParameters,
        ],
        responses: { '200': ok('#/components/schemas/ReportPage', 'One page of reports.'), ...errorResponses },
      },
    },
    '/v1/reports/{reportId}/download-uri': {
      get: {
        operationId: 'getReportDownloadUri',
        description:
          'Known endpoint. The returned URI is fetched without the bearer token (assumed pre-signed); ' +
          'its body is a DailyReport (x-earnbook-download-schema).',
        'x-earnbook-download-schema': { $ref: '#/components/schemas/DailyReport' },
        parameters: [{ name: 'reportId', in: 'path', required: true, schema: identifierSchema }],
        responses: { '200': ok('#/components/schemas/ReportDownloadUri', 'Where to download the report.'), ...errorResponses },
      },
    },
  },
  components: {
    securitySchemes: {
      earnOAuth2: {
        type: 'oauth2',
        description: 'Known: OAuth2 client credentials, one client per legal entity.',
        flows: { clientCredentials: { tokenUrl: '/oauth/token', scopes: {} } },
      },
      clientSecretBasic: { type: 'http', scheme: 'basic', description: 'client_secret_basic at the token endpoint.' },
    },
    parameters: {
      IdempotencyKey: {
        name: 'Idempotency-Key',
        in: 'header',
        required: true,
        ...assumed('A repeated key returns the first result instead of booking twice; a different body with the same key is 409 idempotency_conflict.'),
        schema: { type: 'string', minLength: 1, maxLength: CONTRACT_IDEMPOTENCY_KEY_LENGTH_MAX },
      },
      Cursor: {
        name: 'cursor',
        in: 'query',
        required: false,
        ...assumed('Cursor pagination.'),
        schema: { type: 'string', maxLength: 2048 },
      },
      Limit: {
        name: 'limit',
        in: 'query',
        required: false,
        ...assumed('Page size, 1 to 1000.'),
        schema: { type: 'integer', minimum: 1, maximum: CONTRACT_PAGE_SIZE_MAX },
      },
      UserId: { name: 'userId', in: 'path', required: true, schema: identifierSchema },
      AccountId: { name: 'accountId', in: 'path', required: true, schema: identifierSchema },
    },
    headers: {
      RequestId: { ...assumed('The provider request id.'), schema: { type: 'string' } },
      RetryAfter: { description: 'RFC 9110 §10.2.3: delay-seconds or an HTTP-date.', schema: { type: 'string' } },
    },
    schemas: {
      TokenResponse: tokenResponseSchema,
      OAuthError: oauthErrorSchema,
      ErrorBody: errorBodySchema,
      InterestTier: interestTierSchema,
      Product: productSchema,
      ProductList: productListSchema,
      CreateUserRequest: createUserRequestSchema,
      User: userSchema,
      CreateAccountRequest: createAccountRequestSchema,
      Account: accountSchema,
      AccountPage: accountPageSchema,
      BookingRequest: bookingRequestSchema,
      Booking: bookingSchema,
      Transaction: transactionSchema,
      TransactionPage: transactionPageSchema,
      OutstandingBalance: outstandingBalanceSchema,
      OutstandingBalances: outstandingBalancesSchema,
      ReportSummary: reportSummarySchema,
      ReportPage: reportPageSchema,
      ReportDownloadUri: reportDownloadUriSchema,
      ReportTransaction: reportTransactionSchema,
      ReportBalance: reportBalanceSchema,
      DailyReport: dailyReportSchema,
    },
  },
} as const;

/** The names of the component schemas of {@link earnApiContract}. */
export type ContractSchemaName = keyof typeof earnApiContract.components.schemas;
