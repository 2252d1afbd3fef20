/**
 * A hand-made `ReportFile` (the type is public; `openReportFile` is one way to make one) given to
 * `readReportEntries` (and `reconcileDay`, which reads it the same way): its `path` and `bytesMax`
 * are used by the streaming read without another check, so they are checked when the input is
 * read. A path that is not text was a raw TypeError thrown by the refusal that quoted it; a
 * `bytesMax` that is not a number was a raw TypeError, or, as NaN, silently no bound at all.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPORT_BYTES_MAX, ReconcileError, readReportEntries } from '../src/index.js';
import type { ReportFile } from '../src/index.js';

const folder = mkdtempSync(join(tmpdir(), 'earnbook-hand-made-report-file-'));
const path = join(folder, 'report.json');
const report = {
  id: 'r-1',
  type: 'Report',
  entity: 'defi',
  accountingDay: '2025-03-18',
  timeZone: 'UTC',
  generatedAt: '2025-03-19T01:00:00.000Z',
  balances: [],
  transactions: [],
};
writeFileSync(path, JSON.stringify(report));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

function revoked(): never {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy as never;
}

const file = (change: Record<string, unknown>): ReportFile => ({ kind: 'file', path, format: 'json', source: 'hand-made', ...change }) as never;

async function refusal(promise: Promise<unknown>): Promise<ReconcileError> {
  const error = await promise.then(
    () => expect.fail('expected a refusal'),
    (caught: unknown) => caught,
  );
  expect(error, String(error)).toBeInstanceOf(ReconcileError);
  return error as ReconcileError;
}

describe('a hand-made report file', () => {
  it('is read when well made, its bytesMax above the ceiling kept to the ceiling as before', async () => {
    for (const change of [{}, { bytesMax: REPORT_BYTES_MAX * 2 }, { bytesMax: 1_000 }]) {
      const read = await readReportEntries(file(change), () => undefined);
      expect(read).toMatchObject({ entries: 0, source: 'hand-made' });
    }
    expect(await refusal(readReportEntries(file({ bytesMax: 10 }), () => undefined))).toMatchObject({ code: 'invalid_report', field: 'reportFile' });
  });

  it('whose path is not text is invalid_input naming report.path', async () => {
    for (const bad of [revoked(), 42, '', { toString: () => path }]) {
      expect(await refusal(readReportEntries(file({ path: bad }), () => undefined))).toMatchObject({ code: 'invalid_input', field: 'report.path' });
    }
  });

  it('whose bytesMax is not a positive number is invalid_input naming report.bytesMax (NaN was no bound at all)', async () => {
    for (const bad of [Number.NaN, 10n, '10', 0, -1, revoked()]) {
      expect(await refusal(readReportEntries(file({ bytesMax: bad }), () => undefined))).toMatchObject({ code: 'invalid_input', field: 'report.bytesMax' });
    }
  });
});
