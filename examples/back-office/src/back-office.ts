/**
 * A partner's back office embedding earnbook, as a small HTTP service (fastify): onboarding an
 * end user (two Earn users, one per entity), opening an Earn account, booking a deposit or a
 * withdrawal on the provider and storing what it returned, and serving the balance and the
 * paginated history from the partner's own books — never from the provider.
 */
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { EarnApiError } from '@earnbook/earn-client';
import type { EarnFacade } from '@earnbook/earn-client';
import { HISTORY_PAGE_SIZE_MAX, LedgerError, accountingDayOf, negateAmount } from '@earnbook/ledger';
import type { EarnAccount, EarnBooks } from '@earnbook/ledger';

/** Options of {@link buildBackOffice}. */
export interface BackOfficeOptions {
  /** Both entities of the Earn API. */
  readonly earn: EarnFacade;
  /** The partner's books. */
  readonly books: EarnBooks;
  /** Log requests (fastify's pino logger); default false. */
  readonly logger?: boolean;
}

const KEY_PATTERN = '^[A-Za-z0-9._:-]{1,128}$';
const AMOUNT_PATTERN = '^\\d{1,30}(\\.\\d{1,18})?$';

interface UserBody {
  readonly partnerUserId: string;
}
interface AccountBody {
  readonly partnerUserId: string;
  readonly productId: string;
}
interface BookingBody {
  readonly earnAccountId: string;
  readonly amount: string;
}

/** The HTTP status of a library error: bad input 400, unknown 404, refused 409/422, provider trouble or booked but not recorded 502. */
function statusOf(error: unknown): { status: number; code: string; message: string } | undefined {
  if (error instanceof LedgerError) {
    // The provider refuses a withdrawal beyond the balance itself (EarnApiError, 422); the books
    // refusing one means the provider booked it and the books lag: the money moved.
    if (error.code === 'insufficient_balance') return { status: 502, code: 'booked_not_recorded', message: `the provider booked it, but the books did not record it (${error.message}); the nightly reconciliation shows it as missing_in_ledger` };
    const status = error.code === 'unknown_account' ? 404 : error.code === 'idempotency_conflict' ? 409 : 400;
    return { status, code: error.code, message: error.message };
  }
  if (error instanceof EarnApiError) {
    const status = error.code === 'insufficient_balance' ? 422 : error.code === 'idempotency_conflict' ? 409 : error.code === 'invalid_input' ? 400 : 502;
    return { status, code: error.code, message: error.message };
  }
  return undefined;
}

/**
 * Builds the service (not listening yet: call `listen`, or `inject` in tests).
 *
 * Routes:
 * - `GET /products`: the union product list, from the partner's copy;
 * - `POST /users {partnerUserId}`: onboards an end user (idempotent);
 * - `POST /accounts {partnerUserId, productId}`: opens the user's Earn account in a product;
 * - `POST /deposits` and `POST /withdrawals {earnAccountId, amount}` with an `Idempotency-Key`
 *   header (the partner's booking id): books on the provider, then stores the provider's booking;
 * - `GET /balances/:earnAccountId`, `GET /history/:earnAccountId?cursor=&limit=`: from the books.
 *
 * @example
 * const app = buildBackOffice({ earn, books });
 * await app.listen({ host: '127.0.0.1', port: 3000 });
 */
export function buildBackOffice(options: BackOfficeOptions): FastifyInstance {
  const { earn, books } = options;
  const app = Fastify({ logger: options.logger ?? false });

  app.setErrorHandler((error, _request, reply) => {
    const known = statusOf(error);
    if (known !== undefined) return reply.status(known.status).send({ error: { code: known.code, message: known.message } });
    const validation = (error as { validation?: unknown }).validation;
    if (validation !== undefined) return reply.status(400).send({ error: { code: 'invalid_request', message: (error as Error).message } });
    // fastify's own refusals of a request it cannot read (malformed or empty JSON, a __proto__
    // key, a body over the limit) carry their 4xx status: the client's fault, not a 500.
    const statusCode = (error as { statusCode?: unknown }).statusCode;
    if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) return reply.status(statusCode).send({ error: { code: 'invalid_request', message: (error as Error).message } });
    app.log.error(error);
    return reply.status(500).send({ error: { code: 'internal', message: 'internal error' } });
  });

  /** The Earn account of an id, in whichever entity keeps it. */
  async function accountOf(earnAccountId: string): Promise<EarnAccount> {
    for (const entity of earn.entityIds) {
      try {
        return await books.earnAccount({ entity, earnAccountId });
      } catch (error) {
        if (!(error instanceof LedgerError && error.code === 'unknown_account')) throw error;
      }
    }
    throw new LedgerError('unknown_account', `earnAccountId ${earnAccountId} is not an Earn account of these books`, { field: 'earnAccountId', value: earnAccountId });
  }

  app.get('/products', async () => {
    // Each entity's products in force on its own accounting day (its zone, not UTC).
    const now = new Date();
    const products = (
      await Promise.all(earn.entityIds.map((entity) => books.productsInForce({ entity, day: accountingDayOf(now, books.ledger.entity(entity).timeZone) })))
    ).flat();
    return { items: products.map((product) => ({ entity: product.entity, productId: product.providerProductId, currency: product.currency, name: product.name, terms: product.terms })) };
  });

  app.post<{ Body: UserBody }>(
    '/users',
    { schema: { body: { type: 'object', required: ['partnerUserId'], additionalProperties: false, properties: { partnerUserId: { type: 'string', pattern: KEY_PATTERN } } } } },
    async (request, reply) => {
      const { partnerUserId } = request.body;
      // Idempotent on the provider (keys derive from the reference) and in the books.
      const earnUsers = await earn.onboardEndUser({ endUserReference: partnerUserId });
      const stored = await books.registerUser({ partnerUserId, earnUsers: Object.entries(earnUsers).map(([entity, user]) => ({ entity, earnUserId: user.id })) });
      return reply.status(stored.status === 'created' ? 201 : 200).send(stored.value);
    },
  );

  app.post<{ Body: AccountBody }>(
    '/accounts',
    {
      schema: {
        body: { type: 'object', required: ['partnerUserId', 'productId'], additionalProperties: false, properties: { partnerUserId: { type: 'string', pattern: KEY_PATTERN }, productId: { type: 'string', pattern: KEY_PATTERN } } },
      },
    },
    async (request, reply) => {
      const { partnerUserId, productId } = request.body;
      const earnUsers = await books.earnUsersOf(partnerUserId);
      if (earnUsers.length === 0) return reply.status(404).send({ error: { code: 'unknown_user', message: `partnerUserId ${partnerUserId} is not onboarded` } });
      const { entityId, account } = await earn.openAccount({
        earnUserIds: Object.fromEntries(earnUsers.map((user) => [user.entity, user.earnUserId])),
        productId,
        idempotencyKey: `open-${partnerUserId}-${productId}`,
      });
      const stored = await books.openEarnAccount({ entity: entityId, earnAccountId: account.id, earnUserId: account.userId, providerProductId: productId, currency: account.currency });
      return reply.status(stored.status === 'created' ? 201 : 200).send({ earnAccountId: stored.value.earnAccountId, entity: stored.value.entity, productId, currency: stored.value.currency });
    },
  );

  for (const kind of ['deposit', 'withdrawal'] as const) {
    app.post<{ Body: BookingBody; Headers: { 'idempotency-key'?: string } }>(
      `/${kind}s`,
      {
        schema: {
          headers: { type: 'object', required: ['idempotency-key'], properties: { 'idempotency-key': { type: 'string', pattern: KEY_PATTERN } } },
          body: { type: 'object', required: ['earnAccountId', 'amount'], additionalProperties: false, properties: { earnAccountId: { type: 'string', pattern: KEY_PATTERN }, amount: { type: 'string', pattern: AMOUNT_PATTERN } } },
        },
      },
      async (request, reply) => {
        const idempotencyKey = request.headers['idempotency-key'] ?? '';
        const account = await accountOf(request.body.earnAccountId);
        // 1. Book on the provider with the partner's own key: a retry after a crash books once.
        const call = { productId: account.providerProductId, accountId: account.earnAccountId, amount: request.body.amount, idempotencyKey };
        const booking = kind === 'deposit' ? await earn.deposit(call) : await earn.withdraw(call);
        // 2. Store what the provider returned; balances and history are served from here.
        const record = { entity: account.entity, earnAccountId: account.earnAccountId, providerBookingId: booking.id, amount: booking.amount, occurredAt: booking.createdAt, idempotencyKey, providerData: booking };
        const stored = kind === 'deposit' ? await books.recordDeposit(record) : await books.recordWithdrawal(record);
        return reply.status(stored.status === 'created' ? 201 : 200).send({
          bookingId: booking.id,
          kind,
          earnAccountId: account.earnAccountId,
          amount: booking.amount,
          currency: booking.currency,
          occurredAt: booking.createdAt,
          balance: await books.ledger.balance(account.ledgerAccountId),
          transactionId: stored.transaction.id,
        });
      },
    );
  }

  app.get<{ Params: { earnAccountId: string } }>('/balances/:earnAccountId', async (request) => {
    const account = await accountOf(request.params.earnAccountId);
    return { earnAccountId: account.earnAccountId, entity: account.entity, productId: account.providerProductId, currency: account.currency, balance: await books.ledger.balance(account.ledgerAccountId) };
  });

  app.get<{ Params: { earnAccountId: string }; Querystring: { cursor?: string; limit?: number } }>(
    '/history/:earnAccountId',
    { schema: { querystring: { type: 'object', additionalProperties: false, properties: { cursor: { type: 'string', maxLength: 200 }, limit: { type: 'integer', minimum: 1, maximum: HISTORY_PAGE_SIZE_MAX } } } } },
    async (request) => {
      const account = await accountOf(request.params.earnAccountId);
      const page = await books.ledger.history(account.ledgerAccountId, { limit: request.query.limit ?? 20, ...(request.query.cursor === undefined ? {} : { cursor: request.query.cursor }) });
      return {
        earnAccountId: account.earnAccountId,
        currency: account.currency,
        items: page.items.map((item) => ({
          kind: item.kind,
          // The user's view: money in is positive, money out negative.
          amount: item.side === 'credit' ? item.amount : negateAmount(item.amount),
          balanceAfter: item.balanceAfter,
          occurredAt: item.occurredAt,
          accountingDay: item.accountingDay,
          providerId: item.providerId,
        })),
        nextCursor: page.nextCursor,
      };
    },
  );

  return app;
}
