/**
 * The HTTP face of the sandbox (fastify): the token endpoint, every path of the contract, the
 * pre-signed report downloads and a few `/_sandbox` routes for local development. Every request
 * body is validated against the contract (400 naming the field) and every answer is validated
 * before it is sent: an answer the contract does not allow is recorded and replaced by a 500.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { fastify } from 'fastify';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { EarnApiError, validateContract } from '@earnbook/earn-client';
import type { ContractSchemaName } from '@earnbook/earn-client';
import { LedgerError } from '@earnbook/ledger';
import type { SandboxClock } from './clock.js';
import { SandboxError } from './errors.js';
import type { FaultController, FaultSettings } from './faults.js';
import type { SandboxConfig, SandboxEntity } from './options.js';
import { fromLedgerError } from './provider.js';
import type { EarnProvider, PageRequest, ProviderAnswer } from './provider.js';

/** Access tokens remembered at most; expired ones are dropped first. */
export const TOKENS_MAX = 10_000;
/** The largest page a list request may ask for (the contract's limit). */
export const PAGE_SIZE_MAX = 1000;

/** What the server needs. */
export interface SandboxServerOptions {
  readonly config: SandboxConfig;
  readonly provider: EarnProvider;
  readonly faults: FaultController;
  readonly clock: SandboxClock;
  /** The server's own base URL, known once it listens (for download URLs). */
  readonly baseUrl: () => string;
  /** Called with a description whenever the sandbox was about to answer outside the contract. */
  readonly onContractViolation: (message: string) => void;
  /** Called with every unexpected error (answered as 500 `internal_error`). */
  readonly onInternalError: (error: unknown) => void;
}

interface IssuedToken {
  readonly entity: string;
  readonly serial: number;
  readonly issuedAtMs: number;
  readonly expiresAtMs: number;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Constant-time comparison of two secrets of any length. */
function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

function formDecode(text: string): string {
  return decodeURIComponent(text.replace(/\+/g, ' '));
}

/**
 * The longest path segment the router takes, percent-encoding included (an id of 128 characters,
 * each encoded in 3, fits); longer ones answer 400.
 */
export const PATH_SEGMENT_LENGTH_MAX = 512;

/** Builds the fastify application; the caller listens. */
export function buildSandboxServer(options: SandboxServerOptions): FastifyInstance {
  const { config, provider, faults } = options;
  let requestCount = 0;
  const app = fastify({
    logger: false,
    bodyLimit: config.bodyBytesMax,
    genReqId: () => {
      requestCount += 1;
      return `sandbox-req-${requestCount}`;
    },
    routerOptions: { maxParamLength: PATH_SEGMENT_LENGTH_MAX },
    // Paths the router cannot take (bad percent-encoding, a segment over the limit) answer 400 in
    // the contract's error format, not fastify's own body (the onRequest hook does not run here).
    frameworkErrors: (error, request, reply) => {
      const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
      const message = tooLong ? `a path segment is longer than ${PATH_SEGMENT_LENGTH_MAX} characters` : 'the request path is not a valid URL (a bad percent-encoding)';
      void (reply as FastifyReply)
        .code(400)
        .header('x-request-id', request.id)
        .type('application/json; charset=utf-8')
        .send(JSON.stringify({ error: { code: 'invalid_request', message, requestId: request.id } }));
    },
    // A request line or headers beyond Node's limit never reach the router: answer 431 in the
    // contract's format too, instead of an empty body.
    clientErrorHandler: (error, socket) => {
      if (!socket.writable) return;
      const tooLarge = (error as { code?: string }).code === 'HPE_HEADER_OVERFLOW';
      const status = tooLarge ? 431 : 400;
      const body = JSON.stringify({ error: { code: 'invalid_request', message: tooLarge ? 'the request line or headers are too large' : 'the request is not valid HTTP', requestId: 'sandbox-req-rejected' } });
      socket.end(`HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    },
  });
  const tokens = new Map<string, IssuedToken>();
  const entityByRequest = new WeakMap<FastifyRequest, SandboxEntity>();

  // ---- parsing --------------------------------------------------------------------------------

  // Only JSON bodies (and the token endpoint's form) are accepted; anything else is 415.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text) as unknown);
    } catch (error) {
      done(new SandboxError('invalid_request', 'the request body is not valid JSON', { field: 'body', cause: error }), undefined);
    }
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, String(body));
  });

  // ---- answers ----------------------------------------------------------------------------------

  const send = (reply: FastifyReply, status: number, schema: ContractSchemaName, body: unknown): FastifyReply => {
    try {
      validateContract(schema, body, { operation: `sandbox answer ${schema}` });
    } catch (error) {
      options.onContractViolation(error instanceof Error ? error.message : String(error));
      throw new SandboxError('contract_violation', `the sandbox was about to answer a ${schema} outside the contract`, { cause: error });
    }
    return reply.code(status).type('application/json; charset=utf-8').send(JSON.stringify(body));
  };

  const toSandboxError = (error: unknown): SandboxError => {
    if (error instanceof SandboxError) return error;
    if (error instanceof LedgerError) {
      const mapped = fromLedgerError(error);
      if (mapped instanceof SandboxError) return mapped;
    }
    const fastifyError = error as Partial<FastifyError> | undefined;
    const status = fastifyError?.statusCode;
    if (status === 413) return new SandboxError('payload_too_large', `the request body exceeds ${config.bodyBytesMax} bytes`, { field: 'body', cause: error });
    if (status === 415) return new SandboxError('unsupported_media_type', 'the request body must be application/json', { field: 'content-type', cause: error });
    if (status !== undefined && status >= 400 && status < 500) return new SandboxError('invalid_request', fastifyError?.message ?? 'invalid request', { cause: error });
    options.onInternalError(error);
    return new SandboxError('internal_error', 'the sandbox failed unexpectedly', { cause: error });
  };

  app.setErrorHandler((error, request, reply) => {
    const mapped = toSandboxError(error);
    if (mapped.status === 401) reply.header('www-authenticate', 'Bearer error="invalid_token"');
    const message = mapped.code === 'internal_error' || mapped.code === 'contract_violation' ? mapped.message : mapped.message.slice(0, 500);
    void reply
      .code(mapped.status)
      .type('application/json; charset=utf-8')
      .send(JSON.stringify({ error: { code: mapped.code, message, requestId: request.id } }));
  });

  app.setNotFoundHandler((request, reply) => {
    void reply
      .code(404)
      .type('application/json; charset=utf-8')
      .send(JSON.stringify({ error: { code: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0] ?? ''}`, requestId: request.id } }));
  });

  // ---- faults and authentication ---------------------------------------------------------------

  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
    if (request.url.startsWith('/_sandbox/')) return;
    const fault = faults.drawRequestFault();
    if (fault.delayMs > 0) await sleep(fault.delayMs);
    if (fault.kind === 'rate_limited') {
      void reply.header('retry-after', String(fault.retryAfterSeconds));
      throw new SandboxError('rate_limited', 'injected fault: too many requests');
    }
    if (fault.kind === 'error') throw new SandboxError('service_unavailable', `injected fault: ${fault.status}`, { status: fault.status });
  });

  const authenticate = (request: FastifyRequest): SandboxEntity => {
    const known = entityByRequest.get(request);
    if (known !== undefined) return known;
    const header = request.headers.authorization ?? '';
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header);
    const token = match?.[1] === undefined ? undefined : tokens.get(match[1]);
    const nowMs = Date.now();
    if (token === undefined) throw new SandboxError('invalid_token', 'a valid bearer access token is required');
    if (nowMs >= token.expiresAtMs) throw new SandboxError('invalid_token', 'the access token has expired');
    if (faults.refusesToken({ serial: token.serial, issuedAtMs: token.issuedAtMs, nowMs })) throw new SandboxError('invalid_token', 'the access token has expired (early)');
    const entity = config.entities.find((candidate) => candidate.id === token.entity);
    if (entity === undefined) throw new SandboxError('invalid_token', 'the access token belongs to no entity');
    entityByRequest.set(request, entity);
    return entity;
  };

  // ---- input helpers ----------------------------------------------------------------------------

  const bodyOf = <N extends 'CreateUserRequest' | 'CreateAccountRequest' | 'BookingRequest'>(schema: N, body: unknown) => {
    try {
      return validateContract(schema, body, { operation: 'request body', kind: 'input' });
    } catch (error) {
      if (error instanceof EarnApiError) throw new SandboxError('invalid_request', error.message, { field: error.field ?? 'body', cause: error });
      throw error;
    }
  };

  const idempotencyKeyOf = (request: FastifyRequest): string => {
    const key = request.headers['idempotency-key'];
    if (typeof key !== 'string' || key.length === 0 || key.length > 255) {
      throw new SandboxError('invalid_request', 'the Idempotency-Key header is required: a string of 1 to 255 characters', { field: 'Idempotency-Key' });
    }
    return key;
  };

  const identifierOf = (value: unknown, field: string): string => {
    if (typeof value !== 'string' || value.length === 0 || value.length > 128) throw new SandboxError('invalid_request', `${field} must be 1 to 128 characters`, { field });
    return value;
  };

  const pageOf = (query: unknown): PageRequest => {
    const { cursor, limit } = (query ?? {}) as Record<string, unknown>;
    let size = config.pageSizeDefault;
    if (limit !== undefined) {
      if (typeof limit !== 'string' || !/^\d{1,4}$/.test(limit) || Number(limit) < 1 || Number(limit) > PAGE_SIZE_MAX) {
        throw new SandboxError('invalid_request', `limit must be an integer from 1 to ${PAGE_SIZE_MAX}, got ${JSON.stringify(limit)}`, { field: 'limit' });
      }
      size = Number(limit);
    }
    if (cursor !== undefined && (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > 2048)) {
      throw new SandboxError('invalid_request', 'cursor must be a string of 1 to 2048 characters', { field: 'cursor' });
    }
    return { cursor, limit: size };
  };

  const params = (request: FastifyRequest): Record<string, unknown> => (request.params ?? {}) as Record<string, unknown>;

  const answer = (reply: FastifyReply, result: ProviderAnswer, schema: ContractSchemaName): FastifyReply => {
    if (result.replayed) void reply.header('idempotent-replayed', 'true');
    return send(reply, result.status, schema, result.body);
  };

  // ---- token endpoint ----------------------------------------------------------------------------

  app.post('/oauth/token', async (request, reply) => {
    const oauthError = (status: number, error: string, description: string): FastifyReply => {
      if (status === 401) void reply.header('www-authenticate', 'Basic realm="earn-sandbox"');
      return reply.code(status).header('cache-control', 'no-store').type('application/json').send(JSON.stringify({ error, error_description: description }));
    };
    const form = new URLSearchParams(typeof request.body === 'string' ? request.body : '');
    let clientId = form.get('client_id') ?? undefined;
    let clientSecret = form.get('client_secret') ?? undefined;
    const authorization = request.headers.authorization;
    if (authorization?.startsWith('Basic ') === true) {
      const decoded = Buffer.from(authorization.slice(6), 'base64').toString('utf8');
      const separator = decoded.indexOf(':');
      if (separator < 0) return oauthError(401, 'invalid_client', 'malformed Basic credentials');
      try {
        clientId = formDecode(decoded.slice(0, separator));
        clientSecret = formDecode(decoded.slice(separator + 1));
      } catch {
        return oauthError(401, 'invalid_client', 'malformed Basic credentials');
      }
    }
    if (form.get('grant_type') !== 'client_credentials') return oauthError(400, 'unsupported_grant_type', 'only client_credentials is supported');
    const entity = config.entities.find((candidate) => candidate.clientId === clientId);
    if (entity === undefined || clientSecret === undefined || !sameSecret(clientSecret, entity.clientSecret)) return oauthError(401, 'invalid_client', 'unknown client or wrong secret');
    const nowMs = Date.now();
    if (tokens.size >= TOKENS_MAX) {
      for (const [key, token] of tokens) if (token.expiresAtMs <= nowMs) tokens.delete(key);
      if (tokens.size >= TOKENS_MAX) {
        const oldest = tokens.keys().next().value;
        if (oldest !== undefined) tokens.delete(oldest);
      }
    }
    const accessToken = randomBytes(32).toString('base64url');
    tokens.set(accessToken, { entity: entity.id, serial: faults.nextTokenSerial(), issuedAtMs: nowMs, expiresAtMs: nowMs + config.tokenLifetimeMs });
    void reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    return send(reply, 200, 'TokenResponse', { access_token: accessToken, token_type: 'Bearer', expires_in: Math.floor(config.tokenLifetimeMs / 1000) });
  });

  // ---- API ----------------------------------------------------------------------------------------

  app.get('/v1/products', async (request, reply) => {
    const entity = authenticate(request);
    return send(reply, 200, 'ProductList', provider.listProducts(entity.id));
  });

  app.post('/v1/users', async (request, reply) => {
    const entity = authenticate(request);
    const idempotencyKey = idempotencyKeyOf(request);
    const body = bodyOf('CreateUserRequest', request.body ?? {});
    const input = body.externalReference === undefined ? {} : { externalReference: body.externalReference };
    return answer(reply, await provider.createUser({ entity: entity.id, idempotencyKey, body: input }), 'User');
  });

  app.get('/v1/users/:userId', async (request, reply) => {
    const entity = authenticate(request);
    return send(reply, 200, 'User', await provider.getUser({ entity: entity.id, userId: identifierOf(params(request)['userId'], 'userId') }));
  });

  app.get('/v1/users/:userId/accounts', async (request, reply) => {
    const entity = authenticate(request);
    const userId = identifierOf(params(request)['userId'], 'userId');
    return send(reply, 200, 'AccountPage', await provider.listUserAccounts({ entity: entity.id, userId, page: pageOf(request.query) }));
  });

  app.post('/v1/accounts', async (request, reply) => {
    const entity = authenticate(request);
    const idempotencyKey = idempotencyKeyOf(request);
    const body = bodyOf('CreateAccountRequest', request.body);
    return answer(reply, await provider.createAccount({ entity: entity.id, idempotencyKey, body: { userId: body.userId, productId: body.productId } }), 'Account');
  });

  app.get('/v1/accounts/:accountId', async (request, reply) => {
    const entity = authenticate(request);
    return send(reply, 200, 'Account', await provider.getAccount({ entity: entity.id, accountId: identifierOf(params(request)['accountId'], 'accountId') }));
  });

  for (const kind of ['deposit', 'withdrawal'] as const) {
    app.post(`/v1/accounts/:accountId/${kind}s`, async (request, reply) => {
      const entity = authenticate(request);
      const accountId = identifierOf(params(request)['accountId'], 'accountId');
      const idempotencyKey = idempotencyKeyOf(request);
      const body = bodyOf('BookingRequest', request.body);
      const result = await provider.book({
        entity: entity.id,
        kind,
        accountId,
        idempotencyKey,
        body: body.reference === undefined ? { amount: body.amount } : { amount: body.amount, reference: body.reference },
      });
      const loss = faults.takeLostResponse({ entity: entity.id, idempotencyKey, created: !result.replayed });
      if (loss === 'destroy') {
        // The booking is applied; the answer never arrives.
        reply.hijack();
        request.raw.socket.destroy();
        return reply;
      }
      if (loss === 'bad-gateway') throw new SandboxError('bad_gateway', 'injected fault: the booking was applied but this answer is lost');
      return answer(reply, result, 'Booking');
    });
  }

  app.get('/v1/accounts/:accountId/transactions', async (request, reply) => {
    const entity = authenticate(request);
    const accountId = identifierOf(params(request)['accountId'], 'accountId');
    return send(reply, 200, 'TransactionPage', await provider.listTransactions({ entity: entity.id, accountId, page: pageOf(request.query) }));
  });

  app.get('/v1/outstanding-balances', async (request, reply) => {
    const entity = authenticate(request);
    return send(reply, 200, 'OutstandingBalances', await provider.outstandingBalances(entity.id));
  });

  app.get('/v1/reports', async (request, reply) => {
    const entity = authenticate(request);
    const type = (request.query as Record<string, unknown> | undefined)?.['type'];
    if (type !== 'Report') throw new SandboxError('invalid_request', `type must be "Report", got ${JSON.stringify(type) ?? 'nothing'}`, { field: 'type' });
    return send(reply, 200, 'ReportPage', await provider.listReports({ entity: entity.id, page: pageOf(request.query) }));
  });

  app.get('/v1/reports/:reportId/download-uri', async (request, reply) => {
    const entity = authenticate(request);
    const reportId = identifierOf(params(request)['reportId'], 'reportId');
    const download = await provider.issueDownload({ entity: entity.id, reportId });
    return send(reply, 200, 'ReportDownloadUri', { uri: `${options.baseUrl()}/downloads/${download.token}`, expiresAt: download.expiresAt });
  });

  app.get('/downloads/:token', async (request, reply) => {
    const token = params(request)['token'];
    if (typeof token !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(token)) throw new SandboxError('download_unknown', 'this download URL was not issued by the sandbox');
    // The report was checked against the contract when it was published.
    return reply.code(200).type('application/json; charset=utf-8').send(await provider.download(token));
  });

  // ---- local development --------------------------------------------------------------------------

  const clockJson = () => ({
    now: options.clock.nowText(),
    entities: config.entities.map((entity) => ({ id: entity.id, timeZone: entity.timeZone })),
    accountingDay: options.clock.accountingDay(),
  });

  app.get('/_sandbox/clock', async () => clockJson());

  app.post('/_sandbox/clock', async (request) => {
    const raw: unknown = request.body ?? {};
    const body = (typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? raw : {}) as Record<string, unknown>;
    // A refused move is the caller's bad input: 400 naming the field, never a 500.
    const move = async (field: string, run: () => Promise<void>): Promise<void> => {
      try {
        await run();
      } catch (error) {
        if (error instanceof SandboxError && error.code === 'invalid_option') throw new SandboxError('invalid_request', `${field}: ${error.message}`, { field, cause: error });
        throw error;
      }
    };
    if (typeof body['to'] === 'string') await move('to', () => options.clock.advanceTo(body['to'] as string));
    else if (typeof body['days'] === 'number') await move('days', () => options.clock.advanceDays(body['days'] as number));
    else if (typeof body['ms'] === 'number') await move('ms', () => options.clock.advanceBy(body['ms'] as number));
    else throw new SandboxError('invalid_request', 'the body must be an object with one of "to" (an instant), "days" or "ms"', { field: 'body' });
    return clockJson();
  });

  app.get('/_sandbox/faults', async () => ({ settings: faults.settings, counters: faults.counters }));

  app.put('/_sandbox/faults', async (request) => {
    const body = request.body;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new SandboxError('invalid_request', 'the body must be an object of fault settings', { field: 'body' });
    try {
      faults.set(body as Partial<FaultSettings>);
    } catch (error) {
      if (error instanceof SandboxError) throw new SandboxError('invalid_request', error.message, { ...(error.field === undefined ? {} : { field: error.field }), cause: error });
      throw error;
    }
    return { settings: faults.settings, counters: faults.counters };
  });

  app.delete('/_sandbox/faults', async () => {
    faults.reset();
    return { settings: faults.settings, counters: faults.counters };
  });

  return app;
}
