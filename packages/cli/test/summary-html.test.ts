import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHART_SERIES_MAX, SUMMARY_HTML_BREAKS_MAX, barChart, escapeHtml, lineChart, nightCalendar, renderSummaryHtml } from '../src/index.js';
import type { ReconcileSummary } from '../src/index.js';
import { CHROMIUM, inkOf, renderInChromium, warnIfNoChromium } from './chromium.js';

const hostile = `<script>alert('x')</script>&"`;

describe('summary.html', () => {
  it('escapes every value, whatever field it comes from', () => {
    const summary = {
      kind: 'earnbook_reconcile_summary',
      version: 1,
      generatedAt: hostile,
      entity: hostile,
      day: '2025-03-18',
      clean: false,
      report: { id: hostile, version: 1, status: 'created', entries: 1, source: hostile, contentHash: hostile, generatedAt: hostile, timeZone: hostile },
      synced: { interest: 0, partnerMargin: 0, fee: 0 },
      resolvedBreaks: 0,
      openBreaks: 1,
      breakCounts: { missing_in_ledger: 1 },
      breaks: [
        { id: 1, entity: hostile, accountingDay: '2025-03-18', kind: 'missing_in_ledger', providerId: hostile, earnAccountId: hostile, currency: hostile, expected: hostile, actual: hostile, details: { reason: hostile }, status: 'open', resolutionReason: null, resolutionTransactionId: null, reportVersion: 1 },
      ],
      settlement: [
        {
          currency: hostile,
          payables: '0.000000000000000000',
          receivables: '0.000000000000000000',
          net: '0.000000000000000000',
          carriedIn: '0.000000000000000000',
          outstanding: '-1.000000000000000000',
          settled: '-1.000000000000000000',
          carriedOut: '0.000000000000000000',
          reportedOutstanding: '-1.000000000000000000',
          instruction: { id: 1, entity: hostile, currency: hostile, accountingDay: '2025-03-18', direction: 'to_provider', amount: '1.000000000000000000', wallet: hostile, status: 'pending', transactionHash: null, ledgerTransactionId: null },
        },
      ],
      instructions: [],
    } as unknown as ReconcileSummary;
    const page = renderSummaryHtml(summary);
    expect(page).not.toContain('<script');
    expect(page).not.toContain(`alert('x')`);
    expect(page).toContain('&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;');
    // The only tags are the page's own.
    const tags = new Set([...page.matchAll(/<\/?([a-zA-Z0-9!]+)/g)].map((match) => match[1]?.toLowerCase()));
    expect([...tags].sort()).toEqual(['!doctype', 'body', 'br', 'dd', 'div', 'dl', 'dt', 'h1', 'h2', 'h3', 'head', 'html', 'main', 'meta', 'p', 'span', 'strong', 'style', 'table', 'tbody', 'td', 'th', 'thead', 'title', 'tr']);
  });

  it(`lists the first ${SUMMARY_HTML_BREAKS_MAX} open breaks and says where all of them are; the counts cover every one`, () => {
    // `listed`: the result lists the first of a large day's breaks (the reconciler's resultBreaksMax) and counts them all.
    const summary = (breaks: number, listed = breaks) =>
      ({
        kind: 'earnbook_reconcile_summary',
        version: 1,
        generatedAt: '2025-03-19T06:00:00.000Z',
        entity: 'defi',
        day: '2025-03-18',
        clean: false,
        report: { id: 'r', version: 1, status: 'created', entries: breaks, source: 'file', contentHash: 'h', generatedAt: '2025-03-19T00:00:00.000Z', timeZone: 'UTC' },
        synced: { interest: 0, partnerMargin: 0, fee: 0 },
        resolvedBreaks: 0,
        openBreaks: breaks,
        breakCounts: { interest_mismatch: breaks },
        breaks: Array.from({ length: listed }, (_, index) => ({
          id: index + 1, entity: 'defi', accountingDay: '2025-03-18', kind: 'interest_mismatch', providerId: null, earnAccountId: `ea-${index + 1}`, currency: 'BTC',
          expected: '0.000000000000000001', actual: '0.000000000000000002', details: {}, status: 'open', resolutionReason: null, resolutionTransactionId: null, reportVersion: 1,
        })),
        settlement: [],
        instructions: [],
      }) as unknown as ReconcileSummary;
    const rows = (page: string) => (page.split('<table id="breaks">')[1]?.split('</table>')[0]?.match(/<tr>/g) ?? []).length - 1;
    const all = renderSummaryHtml(summary(SUMMARY_HTML_BREAKS_MAX));
    expect(rows(all)).toBe(SUMMARY_HTML_BREAKS_MAX);
    expect(all).not.toContain('breaks-more');
    const many = renderSummaryHtml(summary(SUMMARY_HTML_BREAKS_MAX * 3 + 1, SUMMARY_HTML_BREAKS_MAX * 2));
    expect(rows(many)).toBe(SUMMARY_HTML_BREAKS_MAX);
    expect(many).toContain(`ea-${SUMMARY_HTML_BREAKS_MAX}<`);
    expect(many).not.toContain(`ea-${SUMMARY_HTML_BREAKS_MAX + 1}<`);
    expect(many).toContain(`Not clean: ${SUMMARY_HTML_BREAKS_MAX * 3 + 1} open breaks`);
    expect(many).toContain(`${SUMMARY_HTML_BREAKS_MAX * 3 + 1} interest mismatch`);
    expect(many).toMatch(new RegExp(`id="breaks-more">The first ${SUMMARY_HTML_BREAKS_MAX} of ${SUMMARY_HTML_BREAKS_MAX * 3 + 1} open breaks`));
  });

  it('escapes the five HTML-significant characters', () => {
    expect(escapeHtml(`a<b>&"c'`)).toBe('a&lt;b&gt;&amp;&quot;c&#39;');
  });
});

describe('svg charts', () => {
  const labels = ['2025-03-10', '2025-03-11', '2025-03-12'];

  it('draw a bar per non-zero value, with its exact amount in the tooltip, escaping names', () => {
    const chart = barChart({ title: 'Interest <b>', unit: 'BTC', labels, series: [{ name: hostile, values: ['0.000000000000000001', null, '-2.5'] }] }).text;
    expect(chart.match(/<rect /g)).toHaveLength(2);
    expect(chart).toContain('2025-03-10 &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;: 0.000000000000000001</title>');
    expect(chart).not.toContain('<script');
    expect(chart).toContain('Interest &lt;b&gt;');
  });

  it('draw lines with a dot per value and a calendar with a square per night', () => {
    const chart = lineChart({ title: 'Outstanding', unit: 'ETH', labels, series: [{ name: 'defi', values: ['-1', '0', '3'] }, { name: 'lending', values: ['1', '1', null] }] }).text;
    expect(chart.match(/<circle /g)).toHaveLength(5);
    expect(chart).toContain('class="legend"');
    const calendar = nightCalendar({ title: 'Nights', days: labels, entities: ['defi', 'lending'], nights: [{ day: labels[0] as string, entity: 'defi', status: 'breaks', note: 'amount mismatch' }, { day: labels[1] as string, entity: 'defi', status: 'clean', note: '' }] }).text;
    expect(calendar.match(/data-status="breaks"/g)).toHaveLength(1);
    expect(calendar.match(/data-status="clean"/g)).toHaveLength(1);
    expect(calendar.match(/data-status="missing"/g)).toHaveLength(4);
  });

  it('refuse a series that does not match the labels, and too many series', () => {
    expect(() => barChart({ title: 't', unit: 'u', labels, series: [{ name: 'a', values: ['1'] }] })).toThrow(/3 labels/);
    const series = Array.from({ length: CHART_SERIES_MAX + 1 }, (_, index) => ({ name: String(index), values: ['1', '1', '1'] }));
    expect(() => lineChart({ title: 't', unit: 'u', labels, series })).toThrow(RangeError);
    expect(() => barChart({ title: 't', unit: 'u', labels, series: [{ name: 'a', values: ['1', 'x', '1'] }] })).toThrow();
  });
});

warnIfNoChromium('summary-html');

describe.skipIf(CHROMIUM === undefined)('summary.html in headless Chromium at 1280 px', () => {
  it('is not blank and nothing is cut off or overflows, with long amounts and many breaks', async () => {
    const long = '-123456789012345678.123456789012345678';
    const breaks = Array.from({ length: 12 }, (_, index) => ({
      id: index + 1,
      entity: 'defi',
      accountingDay: '2025-03-18',
      kind: 'amount_mismatch',
      providerId: `booking-${'x'.repeat(60)}-${index}`,
      earnAccountId: `acc-${'0123456789abcdef'.repeat(3)}`,
      currency: 'USDC',
      expected: long,
      actual: '0.000000000000000001',
      details: { reason: 'the report and our books differ' },
      status: 'open',
      resolutionReason: null,
      resolutionTransactionId: null,
      reportVersion: 1,
    }));
    const line = { currency: 'USDC', payables: long, receivables: long, net: long, carriedIn: long, outstanding: long, settled: long, carriedOut: long, reportedOutstanding: long, disputed: true, instruction: null };
    const summary = {
      kind: 'earnbook_reconcile_summary',
      version: 1,
      generatedAt: '2025-03-19T00:10:00.000Z',
      entity: 'defi',
      day: '2025-03-18',
      clean: false,
      report: { id: 'r'.repeat(80), version: 1, status: 'created', entries: 12, source: `/var/reports/${'deep/'.repeat(30)}report.json`, contentHash: 'f'.repeat(64), generatedAt: '2025-03-19T00:05:00.000Z', timeZone: 'Europe/Berlin' },
      synced: { interest: 0, partnerMargin: 0, fee: 0 },
      resolvedBreaks: 0,
      breakCounts: { amount_mismatch: 12 },
      breaks,
      settlement: [line, { ...line, currency: 'BTC' }],
      instructions: [],
    } as unknown as ReconcileSummary;
    const directory = await mkdtemp(join(tmpdir(), 'earnbook-summary-'));
    try {
      const path = join(directory, 'summary.html');
      await writeFile(path, renderSummaryHtml(summary));
      const { screenshot, layout } = await renderInChromium(path, { width: 1280, height: 900 });
      expect(layout.viewportWidth).toBe(1280);
      expect(layout.overflowing).toEqual([]);
      expect(layout.documentWidth).toBeLessThanOrEqual(1280);
      const ink = inkOf(screenshot);
      expect(ink.share).toBeGreaterThan(0.05);
      expect(ink.colors).toBeGreaterThan(20);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  }, 120_000);
});
