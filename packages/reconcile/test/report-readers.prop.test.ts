/**
 * The two JSON readers agree: the streaming one (`readJsonChunks`, the bytes cut at random
 * places or into single bytes) and the in-memory one (`parseReport`, then `readReportEntries`),
 * on reports full of quotes, escapes, brackets, multi-byte characters and the word
 * `transactions`, each mutated by up to two byte insertions, replacements, deletions or
 * duplications. Both accept or both refuse (with a ReconcileError), with the same entries. This
 * found a byte order mark, unknown header fields with control characters and a second
 * `transactions` key read differently by the two (session 22).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ReconcileError, parseReport } from '../src/index.js';
import { readJsonChunks, readReportEntries } from '../src/report-stream.js';
import { BALANCES, HEADER, entry } from './report-readers.js';

type O = { ok: true; entries: unknown[] } | { ok: false; name: string };

async function stream(bytes: Buffer, cuts: number[]): Promise<O> {
  const points = [...new Set(cuts.filter((c) => c > 0 && c < bytes.length))].sort((a, b) => a - b);
  async function* chunks() {
    let from = 0;
    for (const p of [...points, bytes.length]) { yield Buffer.from(bytes.subarray(from, p)); from = p; }
  }
  const entries: unknown[] = [];
  try {
    await readJsonChunks(chunks(), 't', (b) => { entries.push(...b); });
    return { ok: true, entries };
  } catch (e) {
    return { ok: false, name: e instanceof ReconcileError ? `ReconcileError:${e.code}` : (e as Error).name + ':' + (e as Error).message };
  }
}
async function memory(bytes: Buffer): Promise<O> {
  const entries: unknown[] = [];
  try {
    await readReportEntries(parseReport(bytes, 't'), (b) => { entries.push(...b); });
    return { ok: true, entries };
  } catch (e) {
    return { ok: false, name: e instanceof ReconcileError ? `ReconcileError:${e.code}` : (e as Error).name + ':' + (e as Error).message };
  }
}

const TRICKY = ['"', '\\', '\\"', '\\\\', ']', '[', '{', '}', ',', ':', 'é', '€', '😀', 'a', ' ', '\\u0074', 'transactions'];
const tricky = fc.array(fc.constantFrom(...TRICKY), { maxLength: 6 }).map((p) => p.join(''));
const memo: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, tricky, fc.integer(), fc.boolean(), fc.constant(null), fc.array(tie('value'), { maxLength: 3 }), fc.dictionary(tricky, tie('value'), { maxKeys: 3 })),
})).value;
const doc = fc.record({
  entries: fc.array(fc.record({ key: tricky, memo }), { maxLength: 5 }),
  indent: fc.constantFrom(undefined, 1, '\t', '\r\n '),
  order: fc.constantFrom('tx-first', 'tx-middle', 'tx-last'),
});
const BYTES = [...'"\\,[]{}: x1\nnte.u0-/'.split('').map((c) => c.charCodeAt(0)), 0xff, 0xc3, 0x80, 0xe2];
const mutation = fc.array(fc.record({ at: fc.nat(), kind: fc.constantFrom('insert', 'replace', 'delete', 'dup'), byte: fc.constantFrom(...BYTES), len: fc.integer({ min: 1, max: 40 }) }), { maxLength: 2 });

function text(d: { entries: { key: string; memo: unknown }[]; indent: string | number | undefined; order: string }): string {
  const tx = d.entries.map((e, i) => entry(i, { idempotencyKey: e.key, memo: e.memo }));
  const { id, ...rest } = HEADER;
  const o = d.order === 'tx-first' ? { transactions: tx, id, ...rest, balances: BALANCES } : d.order === 'tx-middle' ? { id, ...rest, transactions: tx, balances: BALANCES } : { id, ...rest, balances: BALANCES, transactions: tx };
  return JSON.stringify(o, null, d.indent);
}

function mutate(bytes: Buffer, changes: { at: number; kind: string; byte: number; len: number }[]): Buffer {
  let b = bytes;
  for (const c of changes) {
    const at = c.at % (b.length + 1);
    if (c.kind === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from([c.byte]), b.subarray(at)]);
    else if (c.kind === 'replace') b = Buffer.concat([b.subarray(0, at), Buffer.from([c.byte]), b.subarray(at + 1)]);
    else if (c.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + c.len)]);
    else b = Buffer.concat([b.subarray(0, at + c.len), b.subarray(at)]);
  }
  return b;
}


describe('the streaming and the in-memory JSON readers, on mutated reports', () => {
  it('accept or refuse alike, with the same entries', { timeout: 60_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(doc, mutation, fc.array(fc.nat(), { maxLength: 10 }), fc.boolean(), async (d, changes, cuts, oneByte) => {
        const bytes = mutate(Buffer.from(text(d)), changes);
        const m = await memory(bytes);
        const s = await stream(bytes, oneByte ? Array.from({ length: bytes.length }, (_, i) => i) : cuts.map((c) => c % Math.max(1, bytes.length)));
        const outcome = (o: O) => (o.ok ? 'accepted' : o.name.startsWith('ReconcileError') ? 'refused' : o.name);
        expect(outcome(s), bytes.toString('utf8')).toBe(outcome(m));
        if (s.ok && m.ok) expect(s.entries).toEqual(m.entries);
      }),
      { numRuns: 3_000 },
    );
  });
});
