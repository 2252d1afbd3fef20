/**
 * Runs the back-office service against an in-process sandbox, on loopback:
 *
 *   pnpm --filter @earnbook/examples back-office [-- --port 3000 --database back-office.sqlite]
 *
 * It prints curl commands to try. Stop it with Ctrl-C. Against the real Earn API, build the
 * `EarnFacade` from your two credential sets instead of `sandbox.clientConfig(...)`.
 */
import { parseArgs } from 'node:util';
import { EarnFacade } from '@earnbook/earn-client';
import { startSandbox } from '@earnbook/earn-sandbox';
import { accountingDayOf } from '@earnbook/ledger';
import { openPartnerBooks } from '../../src/lib/partner-books.js';
import { syncProducts } from '@earnbook/reconcile';
import { buildBackOffice } from './back-office.js';

const args = process.argv.slice(2);
const { values } = parseArgs({ args: args[0] === '--' ? args.slice(1) : args, options: { port: { type: 'string', default: '3000' }, database: { type: 'string', default: ':memory:' } } });
const sandbox = await startSandbox({ startAt: new Date() });
const partner = await openPartnerBooks({ database: values.database ?? ':memory:', ifMissing: 'create', entities: sandbox.config.entities.map((entity) => ({ id: entity.id, timeZone: entity.timeZone })) });
const earn = new EarnFacade({ entities: Object.fromEntries(sandbox.config.entities.map((entity) => [entity.id, sandbox.clientConfig(entity.id)])) });
// The sandbox's entities share one zone: today's accounting day there is when the products take effect.
await syncProducts({ source: earn, books: partner.books, effectiveDay: accountingDayOf(new Date(), sandbox.config.entities[0]?.timeZone ?? 'UTC') });
const app = buildBackOffice({ earn, books: partner.books, logger: false });
const url = await app.listen({ host: '127.0.0.1', port: Number(values.port) });
console.log(`back office listening on ${url} (Earn sandbox on ${sandbox.baseUrl}; books ${partner.description})

  curl -s ${url}/products
  curl -s -X POST ${url}/users -H 'content-type: application/json' -d '{"partnerUserId":"customer-42"}'
  curl -s -X POST ${url}/accounts -H 'content-type: application/json' -d '{"partnerUserId":"customer-42","productId":"btc-flex"}'
  curl -s -X POST ${url}/deposits -H 'content-type: application/json' -H 'idempotency-key: dep-1' -d '{"earnAccountId":"<earnAccountId>","amount":"0.5"}'
  curl -s -X POST ${url}/withdrawals -H 'content-type: application/json' -H 'idempotency-key: wd-1' -d '{"earnAccountId":"<earnAccountId>","amount":"0.2"}'
  curl -s ${url}/balances/<earnAccountId>
  curl -s '${url}/history/<earnAccountId>?limit=2'
`);
const stop = async () => {
  await app.close();
  await partner.close();
  await sandbox.close();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
