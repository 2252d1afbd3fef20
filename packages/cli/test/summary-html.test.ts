import { describe, expect, it } from 'vitest';
import { escapeHtml, renderSummaryHtml } from '../src/index.js';
import type { ReconcileSummary } from '../src/index.js';

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

  it('escapes the five HTML-significant characters', () => {
    expect(escapeHtml(`a<b>&"c'`)).toBe('a&lt;b&gt;&amp;&quot;c&#39;');
  });
});
