/**
 * The contract's `uuid` format (ajv-formats) took an entry id in upper case or after `urn:uuid:`,
 * so the same report entry written in two spellings passed the client as two entries, while the
 * reconciler (and the books, which compare ids as strings) take only the canonical lowercase
 * spelling. A report entry's id must now be a lowercase `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`;
 * the report's account and booking ids, and a booking answer's id and account id, are opaque and
 * stay so (`booking-1`, `ACC-1`), but one that spells a UUID must spell it that way.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnApiError, EarnClient, earnApiContract, parseDailyReport, validateContract } from '../src/index.js';
import { CANONICAL_UUID_PATTERN, OPAQUE_ID_PATTERN } from '../src/contract/openapi.js';
import { FakeEarnServer, json } from './support/fake-earn-server.js';
import { booking, dailyReport } from './support/fixtures.js';
import { failure } from './support/failure.js';

const UUID = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

/** Every spelling of {@link UUID} that common parsers take but the books would hold as another id. */
const OTHER_SPELLINGS: readonly (readonly [string, string])[] = [
  ['upper case', UUID.toUpperCase()],
  ['one upper-case group', `${UUID.slice(0, 9)}4E5F${UUID.slice(13)}`],
  ['urn:uuid:', `urn:uuid:${UUID}`],
  ['URN:UUID: in upper case', `URN:UUID:${UUID.toUpperCase()}`],
  ['braces', `{${UUID}}`],
  ['urn:uuid: and braces', `urn:uuid:{${UUID}}`],
];

function thrown(action: () => unknown): EarnApiError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(EarnApiError);
    return error as EarnApiError;
  }
  throw new Error('expected an EarnApiError');
}

function entry(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: UUID, type: 'Interest', currency: 'BTC', amount: '0.1', createdAt: '2025-03-18T23:00:00Z', ...extra };
}

describe('a report entry id', () => {
  it.each(OTHER_SPELLINGS)('in another spelling (%s) is invalid_response naming id', (_name, id) => {
    const error = thrown(() => validateContract('ReportTransaction', entry({ id })));
    expect(error).toMatchObject({ code: 'invalid_response', path: 'id', field: 'id' });
    expect(error.message).toContain(JSON.stringify(id));
  });

  it.each(OTHER_SPELLINGS)('in another spelling (%s) refuses the report, naming transactions[1].id', (_name, id) => {
    const report = dailyReport();
    const [first, second] = report['transactions'] as Record<string, unknown>[];
    const text = JSON.stringify({ ...report, transactions: [first, { ...second, id }] });
    expect(thrown(() => parseDailyReport(text))).toMatchObject({ code: 'invalid_response', path: 'transactions[1].id', field: 'id' });
  });

  it('one entry written again in upper case is refused, not read as a second entry', () => {
    const report = dailyReport();
    const [first] = report['transactions'] as Record<string, unknown>[];
    const text = JSON.stringify({ ...report, transactions: [first, { ...first, id: String(first?.['id']).toUpperCase() }] });
    expect(thrown(() => parseDailyReport(text))).toMatchObject({ code: 'invalid_response', path: 'transactions[1].id' });
  });

  it.each([
    ['not hex', 'g'.repeat(8) + UUID.slice(8)],
    ['no hyphens', UUID.replace(/-/g, '')],
    ['a hyphen short', UUID.slice(0, 35)],
    ['a trailing line feed', `${UUID}\n`],
    ['surrounding space', ` ${UUID}`],
  ])('that is not a UUID (%s) is refused as before', (_name, id) => {
    expect(thrown(() => validateContract('ReportTransaction', entry({ id })))).toMatchObject({ code: 'invalid_response', path: 'id' });
  });

  it('in the canonical spelling, of any version, is accepted', () => {
    for (const id of [UUID, '00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-1fff-bfff-ffffffffffff', '6f1c2a7e-4b7d-7c1e-9a51-0d3f1b2c3d4e']) {
      expect(validateContract('ReportTransaction', entry({ id })).id).toBe(id);
    }
  });
});

describe('a report entry account id and booking id', () => {
  it.each(OTHER_SPELLINGS.flatMap(([name, id]) => [['accountId', name, id], ['bookingId', name, id]] as const))('%s spelling a UUID otherwise (%s) is invalid_response naming it', (field, _name, id) => {
    const error = thrown(() => validateContract('ReportTransaction', entry({ type: 'Deposit', [field]: id })));
    expect(error).toMatchObject({ code: 'invalid_response', path: field, field });
    expect(error.message).toContain(JSON.stringify(id));
  });

  it.each([
    ['accountId', 'ACC-1'],
    ['accountId', 'account-1'],
    ['accountId', UUID],
    ['bookingId', 'B-LOST'],
    ['bookingId', UUID],
    // 32 hex digits without hyphens are an opaque id, not a UUID spelling (as the reconciler reads them).
    ['bookingId', UUID.replace(/-/g, '').toUpperCase()],
    ['bookingId', `x${UUID.toUpperCase()}`],
  ])('an opaque or canonical %s %s is accepted', (field, id) => {
    expect(validateContract('ReportTransaction', entry({ type: 'Deposit', [field]: id }))[field as 'accountId' | 'bookingId']).toBe(id);
  });
});

describe('a booking answer', () => {
  let server: FakeEarnServer;
  beforeEach(async () => {
    server = await FakeEarnServer.start();
  });
  afterEach(async () => {
    await server.close();
  });

  it.each(OTHER_SPELLINGS)('whose id spells a UUID otherwise (%s) is invalid_response naming id', async (_name, id) => {
    server.on('POST', '/v1/accounts/account-1/deposits', json(201, booking(id, 'Deposit', '0.5')));
    const error = await failure(new EarnClient(server.config()).deposit({ accountId: 'account-1', amount: '0.5', idempotencyKey: 'key-1' }));
    expect(error).toMatchObject({ code: 'invalid_response', path: 'id', field: 'id', status: 201, operation: 'POST /v1/accounts/{accountId}/deposits' });
    expect(error.message).toContain(JSON.stringify(id));
  });

  it.each(OTHER_SPELLINGS.flatMap(([name, id]) => [['id', name, id], ['accountId', name, id]] as const))('validated alone, with a %s spelling a UUID otherwise (%s), is invalid_response naming it', (field, _name, id) => {
    const error = thrown(() => validateContract('Booking', booking(UUID, 'Deposit', '0.5', { accountId: UUID, [field]: id })));
    expect(error).toMatchObject({ code: 'invalid_response', path: field, field });
  });

  // Passed before too: the answer's account must be the one asked for (checkBooking).
  it.each(OTHER_SPELLINGS)('whose account id spells a UUID otherwise (%s) is invalid_response naming accountId', async (_name, accountId) => {
    server.on('POST', '/v1/accounts/account-1/withdrawals', json(201, booking(UUID, 'Withdrawal', '0.5', { accountId })));
    const error = await failure(new EarnClient(server.config()).withdraw({ accountId: 'account-1', amount: '0.5', idempotencyKey: 'key-2' }));
    expect(error).toMatchObject({ code: 'invalid_response', path: 'accountId', field: 'accountId' });
  });

  it.each([['booking-1'], ['b-1'], [UUID], [UUID.replace(/-/g, '').toUpperCase()]])('with the opaque or canonical id %s is taken', async (id) => {
    server.on('POST', '/v1/accounts/account-1/deposits', json(201, booking(id, 'Deposit', '0.5')));
    expect((await new EarnClient(server.config()).deposit({ accountId: 'account-1', amount: '0.5', idempotencyKey: 'key-3' })).id).toBe(id);
  });

  it.each(OTHER_SPELLINGS)('asked for an account id spelling a UUID otherwise (%s) is refused before sending: invalid_input naming accountId', async (_name, accountId) => {
    const client = new EarnClient(server.config());
    const error = await failure(client.deposit({ accountId, amount: '0.5', idempotencyKey: 'key-4' }));
    expect(error).toMatchObject({ code: 'invalid_input', path: 'accountId', field: 'accountId' });
    expect(error.message).toContain(JSON.stringify(accountId));
    expect(server.requests).toHaveLength(0);
  });
});

describe('the contract document', () => {
  it('writes the rules where the ids are: the entry id canonical, the opaque ids by the opaque pattern', () => {
    const { Booking, ReportTransaction } = earnApiContract.components.schemas;
    expect(ReportTransaction.properties.id).toMatchObject({ format: 'uuid', pattern: CANONICAL_UUID_PATTERN });
    for (const schema of [ReportTransaction.properties.accountId, ReportTransaction.properties.bookingId, Booking.properties.id, Booking.properties.accountId]) {
      expect(schema).toMatchObject({ type: 'string', minLength: 1, maxLength: 128, pattern: OPAQUE_ID_PATTERN });
    }
  });

  it('the two patterns agree: canonical UUIDs pass both, other UUID spellings neither, opaque ids only the second', () => {
    const canonical = new RegExp(CANONICAL_UUID_PATTERN, 'u');
    const opaque = new RegExp(OPAQUE_ID_PATTERN, 'u');
    for (const [, id] of OTHER_SPELLINGS) expect([id, canonical.test(id), opaque.test(id)]).toEqual([id, false, false]);
    expect([canonical.test(UUID), opaque.test(UUID)]).toEqual([true, true]);
    for (const id of ['ACC-1', 'a', UUID.replace(/-/g, ''), `${UUID}x`, `x${UUID.toUpperCase()}`, `${UUID.toUpperCase()}\n`]) expect([id, canonical.test(id), opaque.test(id)]).toEqual([id, false, true]);
  });
});
