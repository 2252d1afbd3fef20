#!/usr/bin/env node
// The consumer test: packs every published package, installs the tarballs with npm into a fresh
// project outside the workspace, type-checks a small consumer (strict; nodenext, then bundler),
// and runs it with plain `node` (no tsx, no loader) on SQLite, then on PostgreSQL when it is up.
// The embedding example it runs is the one in README.md ("Use it in your service"), verbatim.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const PUBLISHED = ['ledger', 'earn-client', 'reconcile', 'earn-sandbox', 'cli'];
// The scope is one setting (scripts/set-scope.mjs): read it, never assume it.
const SCOPE = JSON.parse(readFileSync(join(ROOT, 'packages', 'ledger', 'package.json'), 'utf8')).name.split('/')[0];
const CONSUMER = join(ROOT, 'examples', 'consumer');
const PG_URL = process.env.EARNBOOK_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const keep = process.argv.includes('--keep');

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });
  if (result.status !== 0 && !options.allowFailure) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
  }
  return result;
}
const pnpm = (args, options) => (process.env.npm_execpath?.includes('pnpm') ? run(process.execPath, [process.env.npm_execpath, ...args], options) : run('npx', ['-y', 'pnpm@10.34.8', ...args], options));
function expectIn(text, pattern, what) {
  if (!pattern.test(text)) throw new Error(`${what}: expected ${pattern} in:\n${text}`);
  console.log(`  ok ${what}`);
}

/** The embedding example of the README, between its markers. */
function readmeExample() {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const match = /<!-- consumer-example:start -->\s*```ts\n([\s\S]*?)```\s*<!-- consumer-example:end -->/.exec(readme);
  if (match === null) throw new Error('README.md has no consumer-example block');
  return match[1];
}

const work = mkdtempSync(join(tmpdir(), 'earnbook-consumer-'));
try {
  console.log(`== build and pack (${work})`);
  pnpm(['run', 'build'], { cwd: ROOT });
  const tarballs = join(work, 'tarballs');
  mkdirSync(tarballs);
  for (const name of PUBLISHED) pnpm(['pack', '--pack-destination', tarballs], { cwd: join(ROOT, 'packages', name) });
  const files = readdirSync(tarballs);
  const tarballOf = (name) => {
    const file = files.find((candidate) => candidate.startsWith(`${SCOPE.slice(1)}-${name}-`));
    if (file === undefined) throw new Error(`no tarball for ${name} in ${files.join(', ')}`);
    return `file:${join(tarballs, file)}`;
  };
  for (const file of files) {
    const listing = run('tar', ['-tzf', join(tarballs, file)]).stdout;
    if (/\/(test|bench|src)\//.test(listing) || /\.tsbuildinfo/.test(listing)) throw new Error(`${file} ships tests, benches, sources or build info:\n${listing}`);
  }
  console.log(`  ok ${files.length} tarballs, dist only`);

  const project = join(work, 'consumer');
  mkdirSync(join(project, 'src'), { recursive: true });
  const dependencies = Object.fromEntries(PUBLISHED.map((name) => [`${SCOPE}/${name}`, tarballOf(name)]));
  // overrides: every @earnbook/* dependency, at any depth, is the local tarball, never the registry.
  writeFileSync(join(project, 'package.json'), `${JSON.stringify({ name: 'earnbook-consumer', private: true, type: 'module', dependencies, overrides: dependencies }, null, 2)}\n`);
  cpSync(join(CONSUMER, 'src', 'surface.ts'), join(project, 'src', 'surface.ts'));
  writeFileSync(join(project, 'src', 'embed.ts'), readmeExample());
  const npmInstall = (args) => run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...args], { cwd: project });
  console.log('== npm install (tarballs, better-sqlite3; no pg yet)');
  npmInstall(['better-sqlite3@^12.6.2', 'typescript@5.9.3', '@types/node@^20.19.0']);

  const tsconfig = (module, moduleResolution) => ({
    compilerOptions: { target: 'ES2022', module, moduleResolution, strict: true, noUncheckedIndexedAccess: true, exactOptionalPropertyTypes: true, skipLibCheck: false, types: ['node'], outDir: 'dist', rootDir: 'src' },
    include: ['src'],
  });
  // node10 (TypeScript's old `node` resolution, which ignores `exports`) finds the entry points
  // through `main`/`types`/`typesVersions`; nodenext runs last and emits what plain node runs.
  for (const [module, moduleResolution] of [['esnext', 'bundler'], ['esnext', 'node10'], ['nodenext', 'nodenext']]) {
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify(tsconfig(module, moduleResolution), null, 2));
    const started = Date.now();
    run(process.execPath, [join(project, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], { cwd: project });
    console.log(`  ok tsc strict, module ${module}, moduleResolution ${moduleResolution} (${Date.now() - started} ms; the last one emits dist/)`);
  }

  console.log('== plain node: every entry point; the postgres subpath without pg');
  const surface = run(process.execPath, ['dist/surface.js'], { cwd: project }).stdout;
  expectIn(surface, /^contract ok$/m, 'contract subpath');
  expectIn(surface, /^client function function reconcile function cli \d+\.\d+\.\d+ sandbox function$/m, 'main entry points');
  expectIn(surface, /^@[^/]+\/ledger\/sqlite loaded$/m, 'sqlite subpath with better-sqlite3');
  expectIn(surface, /^@[^/]+\/ledger\/postgres driver_missing pg: .*npm install pg/m, 'typed driver_missing error naming pg');

  const { DATABASE_URL: _unset, ...baseEnv } = process.env;
  const runEmbed = (cwd, env) => {
    mkdirSync(cwd, { recursive: true });
    cpSync(join(CONSUMER, 'report.json'), join(cwd, 'report.json'));
    return run(process.execPath, [join(project, 'dist', 'embed.js')], { cwd, env: { ...baseEnv, ...env } }).stdout;
  };
  const checkEmbed = (out, dialect) => {
    expectIn(out, /^balance 1\.000000000000000000$/m, `${dialect}: balance after the deposit`);
    expectIn(out, /^breaks 0 interest 1$/m, `${dialect}: report reconciled clean, interest booked`);
    expectIn(out, /^exported journal\.csv:\d+ balances\.csv:\d+$/m, `${dialect}: audit CSV exported`);
  };
  console.log('== README example on SQLite (plain node)');
  const sqliteRun = join(work, 'run-sqlite');
  checkEmbed(runEmbed(sqliteRun, {}), 'sqlite');
  const journal = readFileSync(join(sqliteRun, 'audit', 'journal.csv'), 'utf8');
  expectIn(journal, /bk-1/, 'sqlite: the deposit is in journal.csv');

  console.log('== the installed earnbook bin (plain node)');
  const bin = join(project, 'node_modules', '.bin', 'earnbook');
  expectIn(run(bin, ['--help']).stdout, /Usage: earnbook/, 'earnbook --help');
  const again = run(bin, ['reconcile', '--entity', 'lending', '--day', '2025-03-18', '--report-file', 'report.json', '--database', 'books.sqlite', '--out', 'out'], { cwd: sqliteRun, env: baseEnv, allowFailure: true });
  expectIn(`${again.status} ${again.stdout}`, /^0 lending 2025-03-18: CLEAN/, 'earnbook reconcile on the same books: clean (exit 0)');
  // The packed worker threads (a day this small uses them only when asked): the interest's and
  // the books' (a worker that fails is logged before the run falls back to its own thread); on
  // a re-run the sync books nothing, so both days the books' worker read are taken.
  const check = join(project, 'worker-check.mjs');
  writeFileSync(
    check,
    `import { EarnBooks, Ledger } from '${SCOPE}/ledger';\nimport { openSqliteDatabase } from '${SCOPE}/ledger/sqlite';\nimport { Reconciler, openReportFile } from '${SCOPE}/reconcile';\n` +
      `const warnings = [];\nconst taken = [];\nconst logger = { info() {}, debug: (fields) => void (fields.event === 'reconcile.books_prefetched' && taken.push(...fields.taken)), error() {}, warn: (fields) => void warnings.push(fields) };\n` +
      `const ledger = await Ledger.open({ storage: openSqliteDatabase({ filename: 'books.sqlite' }), ifMissing: 'fail', logger });\n` +
      `const reconciler = await Reconciler.open({ books: new EarnBooks(ledger), workerThreads: 'always' });\n` +
      `const result = await reconciler.reconcileDay({ entity: 'lending', day: '2025-03-18', report: await openReportFile('report.json') });\n` +
      `console.log('worker', warnings.length === 0 ? 'ran' : JSON.stringify(warnings), 'breaks', result.breaks.length, 'books days', taken.length);\nawait ledger.close();\n`,
  );
  expectIn(run(process.execPath, [check], { cwd: sqliteRun, env: baseEnv }).stdout, /^worker ran breaks 0 books days 2$/m, 'the packed workers ran (no fallback logged; both days taken from the books worker)');

  if (run('pg_isready', ['-d', PG_URL, '-q'], { allowFailure: true }).status === 0) {
    console.log('== npm install pg; README example on PostgreSQL (a fresh database of its own)');
    npmInstall(['pg@^8.23.1']);
    const database = `earnbook_consumer_${process.pid}_${Date.now()}`;
    const admin = new URL(PG_URL);
    run('psql', [admin.href, '-v', 'ON_ERROR_STOP=1', '-qc', `CREATE DATABASE ${database}`]);
    try {
      const url = new URL(PG_URL);
      url.pathname = `/${database}`;
      checkEmbed(runEmbed(join(work, 'run-postgres'), { DATABASE_URL: url.href }), 'postgres');
      const surfaceWithPg = run(process.execPath, ['dist/surface.js'], { cwd: project }).stdout;
      expectIn(surfaceWithPg, /^@[^/]+\/ledger\/postgres loaded$/m, 'postgres subpath once pg is installed');
    } finally {
      run('psql', [admin.href, '-qc', `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`], { allowFailure: true });
    }
  } else if (process.env.CI === 'true') {
    throw new Error(`PostgreSQL is not reachable at ${PG_URL}: CI runs the consumer against it`);
  } else {
    console.log(`warning: PostgreSQL is not reachable at ${PG_URL}; the PostgreSQL consumer run was skipped`);
  }
  console.log('consumer test: passed');
} finally {
  if (keep) console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
