import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EarnApiError, EarnClient, parseDailyReport, validateDailyReport } from '../src/index.js';
import type { EntityConfigInput } from '../src/index.js';
import { ILL_FORMED, hostileString, isIllFormed } from '../../ledger/test/support/hostile-strings.js';
import { FakeEarnServer, json } from './support/fake-earn-server.js';
import { booking, dailyReport } from './support/fixtures.js';

let server: FakeEarnServer;

beforeAll(async () => {
  server = await FakeEarnServer.start();
  server
    .on('POST', '/v1/users', json(201, { id: 'u-1', createdAt: '2025-03-18T10:00:00Z' }))
    .on('POST', '/v1/accounts/acc-1/deposits', json(201, booking('b-1', 'Deposit', '1', { accountId: 'acc-1' })));
});
afterAll(async () => server.close());

/** One public string input of the client, given the string under test. */
type Input = (client: EarnClient, s: string) => Promise<unknown>;

const inputs: Record<string, Input> = {
  'getUser.userId': (client, s) => client.getUser({ userId: s }),
  'getAccount.accountId': (client, s) => client.getAccount({ accountId: s }),
  'listUserAccountsPage.cursor': (client, s) => client.listUserAccountsPage({ userId: 'u-1', cursor: s }),
  'getReportDownloadUri.reportId': (client, s) => client.getReportDownloadUri({ reportId: s }),
  'createUser.externalReference': (client, s) => client.createUser({ externalReference: s }),
  'createUser.idempotencyKey': (client, s) => client.createUser({ idempotencyKey: s }),
  'createAccount.userId': (client, s) => client.createAccount({ userId: s, productId: 'p' }),
  'deposit.accountId': (client, s) => client.deposit({ accountId: s, amount: '1', idempotencyKey: 'k' }),
  'deposit.amount': (client, s) => client.deposit({ accountId: 'acc-1', amount: s, idempotencyKey: 'k' }),
  'deposit.reference': (client, s) => client.deposit({ accountId: 'acc-1', amount: '1', idempotencyKey: 'k', reference: s }),
  'deposit.idempotencyKey': (client, s) => client.deposit({ accountId: 'acc-1', amount: '1', idempotencyKey: s }),
  'downloadReport.uri': (client, s) => client.downloadReport({ uri: s }),
};
const configInputs: Record<string, (s: string) => Partial<EntityConfigInput>> = {
  entityId: (s) => ({ entityId: s }),
  clientId: (s) => ({ clientId: s }),
  clientSecret: (s) => ({ clientSecret: s }),
  scope: (s) => ({ scope: s }),
  baseUrl: (s) => ({ baseUrl: s }),
  tokenUrl: (s) => ({ tokenUrl: s }),
};

/** A typed EarnApiError or a success; ill-formed text is refused before anything is sent. */
async function check(run: () => Promise<unknown>, s: string, label: string): Promise<void> {
  const sentBefore = server.requests.length + server.tokenRequests.length;
  const outcome = await run().then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (outcome !== undefined) expect(outcome, `${label}: ${String(outcome)}`).toBeInstanceOf(EarnApiError);
  if (isIllFormed(s)) {
    expect(outcome, `${label} accepted ${JSON.stringify(s).slice(0, 60)}`).toBeInstanceOf(EarnApiError);
    // A download URI is the provider's answer passed on: a bad one is `invalid_response`.
    expect(label === 'downloadReport.uri' ? ['invalid_response'] : ['invalid_input', 'invalid_config']).toContain((outcome as EarnApiError).code);
    expect(server.requests.length + server.tokenRequests.length, `${label} sent a request`).toBe(sentBefore);
  }
}

describe('hostile strings through the earn-client', () => {
  it.each(Object.keys(inputs))('%s refuses ill-formed text as invalid_input, sending nothing', async (name) => {
    const client = new EarnClient(server.config({ attemptsMax: 1 }));
    for (const s of ILL_FORMED) await check(() => (inputs[name] as Input)(client, s), s, name);
  });

  it.each(Object.keys(configInputs))('config %s refuses ill-formed text as invalid_config', async (name) => {
    for (const s of ILL_FORMED) await check(async () => new EarnClient(server.config((configInputs[name] as (s: string) => Partial<EntityConfigInput>)(s))), s, name);
  });

  it('any string into any input: a typed error or a success, never an untyped crash (property)', async () => {
    const client = new EarnClient(server.config({ attemptsMax: 1, timeoutMs: 2000 }));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...Object.keys(inputs)), hostileString(), async (name, s) => check(() => (inputs[name] as Input)(client, s), s, name)),
      { numRuns: 200 },
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...Object.keys(configInputs)), hostileString(), async (name, s) => check(async () => new EarnClient(server.config((configInputs[name] as (s: string) => Partial<EntityConfigInput>)(s))), s, name)),
      { numRuns: 200 },
    );
  });
});

describe('contract strings must be well-formed', () => {
  const withEntry = (change: Record<string, unknown>) => {
    const report = dailyReport() as { transactions: Record<string, unknown>[] };
    return { ...report, transactions: report.transactions.map((entry, index) => (index === 0 ? { ...entry, ...change } : entry)) };
  };

  it.each(['accountId', 'bookingId', 'idempotencyKey', 'userId'])('a report whose first entry has an ill-formed %s is invalid_response naming the path', (field) => {
    for (const bad of ILL_FORMED) {
      const report = withEntry({ [field]: bad });
      const error = (() => {
        try {
          validateDailyReport(report);
        } catch (caught) {
          return caught as EarnApiError;
        }
        return undefined;
      })();
      expect(error).toMatchObject({ code: 'invalid_response', path: `transactions[0].${field}`, field });
      // The same through the text (escapes), as a download or a file reads it.
      expect(() => parseDailyReport(JSON.stringify(report))).toThrow(/well-formed text/);
    }
  });

  it('an ill-formed key is refused too; a report without escapes skips the walk', () => {
    const report = withEntry({ '\ud800extra': 'x' });
    expect(() => validateDailyReport(report)).toThrow(/lone UTF-16 surrogate in a key/);
    expect(parseDailyReport(JSON.stringify(dailyReport())).id).toBe(dailyReport().id);
  });

  it('a response body with an escaped lone surrogate is invalid_response', async () => {
    server.on('GET', '/v1/users/u-bad', (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{"id":"u-\\ud800","createdAt":"2025-03-18T10:00:00Z"}');
    });
    const error = await new EarnClient(server.config()).getUser({ userId: 'u-bad' }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'invalid_response', path: 'id' });
  });
});
