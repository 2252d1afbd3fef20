/**
 * Runs the back-office service against an in-process sandbox, on loopback:
 *
 *   pnpm --filter @earnbook/examples back-office [-- --port 3000 --database back-office.sqlite]
 *
 * Books `--database` already holds are reopened in the zones they keep, with the sandbox in those
 * zones; new books are started in the sandbox's zone (UTC).
 * It prints curl commands to try. Stop it with Ctrl-C. Against the real Earn API, build the
 * `EarnFacade` from your two credential sets instead of `sandbox.clientConfig(...)`.
 */
import { parseArgs } from 'node:util';
import { EarnFacade } from '@earnbook/earn-client';
import { startSandbox } from '@earnbook/earn-sandbox';
import { accountingDayOf } from '@earnbook/ledger';
import { keptEntities, openPartnerBooks } from '../../src/lib/partner-books.js';
import { syncProducts } from '@earnbook/reconcile';
import { buildBackOffice } from './back-office.js';

const args = process.argv.slice(2);
const { values } = parseArgs({ args: args[0] === '--' ? args.slice(1) : args, options: { port: { type: 'string', default: '3000' }, database: { type: 'string', default: ':memory:' } } });
const database = values.database ?? ':memory:';
// Books the database already keeps are reopened with their entities, in the zones they keep (the
// demo's keep Europe/Berlin): the sandbox stands in for the provider, whose accounting day is the
// one agreed with the partner, so it keeps those zones too. Opening them in the sandbox's default
// (UTC) would be the ledger's entity_configuration_changed. New books get the sandbox's entities.
const kept = await keptEntities({ database });
const sandbox = await startSandbox({ startAt: new Date(), ...(kept === undefined ? {} : { entities: kept.map((entity) => ({ id: entity.id, timeZone: entity.timeZone })) }) });
const partner = await openPartnerBooks({ database, ifMissing: 'create', entities: sandbox.config.entities.map((entity) => ({ id: entity.id, timeZone: entity.timeZone })) });
const earn = new EarnFacade({ entities: Object.fromEntries(sandbox.config.entities.map((entity) => [entity.id, sandbox.clientConfig(entity.id)])) });
// The products take effect on today's accounting day; where the entities keep different zones,
// on the earliest of their days, so that every entity has its products in force today.
const now = new Date();
const today = sandbox.config.entities.map((entity) => accountingDayOf(now, entity.timeZone)).sort()[0] ?? accountingDayOf(now, sandbox.config.timeZone);
await syncProducts({ source: earn, books: partner.books, effectiveDay: today });
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
