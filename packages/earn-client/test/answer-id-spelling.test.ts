/**
 * A report entry's ids followed the spelling rule (`uuid-spelling.test.ts`), but every other id of
 * an answer was any string: a report's own id, an entry's `userId` and `productId`, an account's
 * ids, a user's, a product's, a history entry's and a report summary's took `0A1B…`, `urn:uuid:…`
 * and `{…}`, so an upper-case copy of an id was read as another object. Every id of an answer now
 * follows the one rule: opaque ids stay accepted, one that spells a UUID spells it lowercase
 * `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`. Found in review (lead 1).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnApiError, EarnClient, earnApiContract, parseDailyReport, validateContract } from '../src/index.js';
import type { ContractSchemaName } from '../src/index.js';
import { OPAQUE_ID_PATTERN } from '../src/contract/openapi.js';
import { FakeEarnServer, json } from './support/fake-earn-server.js';
import { account, dailyReport, product, transaction, user } from './support/fixtures.js';
import { failure } from './support/failure.js';

const UUID = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const OTHER_SPELLINGS = [UUID.toUpperCase(), `urn:uuid:${UUID}`, `{${UUID}}`] as const;
const ENTRY = { id: UUID, type: 'Interest', currency: 'BTC', amount: '0.1', createdAt: '2025-03-18T23:00:00Z' };

function thrown(action: () => unknown): EarnApiError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(EarnApiError);
    return error as EarnApiError;
  }
  throw new Error('expected an EarnApiError');
}

/** Every id field of an answer outside the report entry's own `id`, with a body holding it. */
const ID_FIELDS: readonly (readonly [ContractSchemaName, string, (id: string) => Record<string, unknown>])[] = [
  ['DailyReport', 'id', (id) => dailyReport({ id })],
  ['ReportTransaction', 'userId', (id) => ({ ...ENTRY, userId: id })],
  ['ReportTransaction', 'productId', (id) => ({ ...ENTRY, productId: id })],
  ['ReportSummary', 'id', (id) => ({ id, type: 'Report', createdAt: '2025-03-19T00:02:10Z' })],
  ['Account', 'id', (id) => account(id)],
  ['Account', 'userId', (id) => account('account-1', { userId: id })],
  ['Account', 'productId', (id) => account('account-1', { productId: id })],
  ['User', 'id', (id) => user(id)],
  ['Product', 'id', (id) => product(id, 'BTC')],
  ['Transaction', 'id', (id) => transaction(id)],
  ['Transaction', 'accountId', (id) => transaction('t-1', { accountId: id })],
  ['Transaction', 'bookingId', (id) => transaction('t-1', { bookingId: id })],
];

describe('an id of an answer spelling a UUID otherwise', () => {
  it.each(ID_FIELDS.flatMap(([schema, field, body]) => OTHER_SPELLINGS.map((id) => [schema, field, id, body] as const)))('%s.%s %s is invalid_response naming the field', (schema, field, id, body) => {
    const error = thrown(() => validateContract(schema, body(id)));
    expect(error).toMatchObject({ code: 'invalid_response', path: field, field });
    expect(error.message).toContain(JSON.stringify(id));
    expect(error.message).toContain('spells a UUID otherwise');
  });

  it.each(ID_FIELDS.flatMap(([schema, field, body]) => ['ACC-1', 'report-2025-03-18', UUID, UUID.replace(/-/g, '').toUpperCase()].map((id) => [schema, field, id, body] as const)))('%s.%s %s (opaque or canonical) is taken', (schema, field, id, body) => {
    expect((validateContract(schema, body(id)) as Record<string, unknown>)[field]).toBe(id);
  });

  it('a report whose own id is an upper-case UUID is refused by parseDailyReport, naming id', () => {
    expect(thrown(() => parseDailyReport(JSON.stringify(dailyReport({ id: UUID.toUpperCase() }))))).toMatchObject({ code: 'invalid_response', path: 'id', field: 'id' });
  });

  it('the document writes the opaque pattern on every id of an answer', () => {
    const schemas = earnApiContract.components.schemas as unknown as Record<string, { properties: Record<string, unknown> }>;
    for (const [schema, field] of ID_FIELDS) expect([schema, field, schemas[schema]?.properties[field]]).toEqual([schema, field, expect.objectContaining({ pattern: OPAQUE_ID_PATTERN })]);
  });
});

describe('the client', () => {
  let server: FakeEarnServer;
  beforeEach(async () => {
    server = await FakeEarnServer.start();
  });
  afterEach(async () => {
    await server.close();
  });

  it('refuses an account answered with an upper-case copy of its user id: invalid_response naming userId', async () => {
    server.on('GET', '/v1/accounts/account-1', json(200, account('account-1', { userId: UUID.toUpperCase() })));
    const error = await failure(new EarnClient(server.config()).getAccount({ accountId: 'account-1' }));
    expect(error).toMatchObject({ code: 'invalid_response', path: 'userId', field: 'userId', status: 200 });
  });

  it('refuses a page of reports holding an upper-case report id: invalid_response naming items[0].id', async () => {
    server.on('GET', '/v1/reports', json(200, { items: [{ id: UUID.toUpperCase(), type: 'Report', createdAt: '2025-03-19T00:02:10Z' }], nextCursor: null }));
    const error = await failure(new EarnClient(server.config()).listReportsPage());
    expect(error).toMatchObject({ code: 'invalid_response', path: 'items[0].id', field: 'id' });
  });

  it.each([['userId'], ['productId']])('asked to open an account with a %s spelling a UUID otherwise refuses before sending: invalid_input', async (field) => {
    const input = { userId: 'user-1', productId: 'btc-fixed', [field]: UUID.toUpperCase() } as { userId: string; productId: string };
    const error = await failure(new EarnClient(server.config()).createAccount(input));
    expect(error).toMatchObject({ code: 'invalid_input', path: field, field });
    expect(server.requests).toHaveLength(0);
  });
});
