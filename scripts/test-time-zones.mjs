// Runs the time-sensitive tests (calendar, interest, ledger day stamping) under several process
// time zones: their results must not depend on TZ. SQLite only, to stay fast; the full suite
// already runs both dialects.
import { spawnSync } from 'node:child_process';

const zones = ['UTC', 'America/New_York', 'Asia/Kolkata'];
for (const zone of zones) {
  console.log(`\n== TZ=${zone}`);
  const result = spawnSync('npx', ['vitest', 'run', '--project', 'ledger', 'test/calendar', 'test/interest', 'test/ledger.test.ts'], {
    stdio: 'inherit',
    env: { ...process.env, TZ: zone, EARNBOOK_DIALECTS: 'sqlite' },
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
