/**
 * The demo's summary, for the terminal (a table per entity and currency) and as one
 * self-contained HTML page (inline CSS, no script) that links each night's reconciliation page.
 */
import { CHART_STYLE, barChart, chartGrid, escapeHtml, lineChart, nightCalendar } from '@earnbook/cli';
import type { HtmlFragment, NightCell } from '@earnbook/cli';
import { formatUnits, toUnits } from '@earnbook/ledger';
import { displayAmount } from './figures.js';
import type { CurrencyFigures } from './figures.js';
import type { DemoResult } from './main.js';

/** Decimal places shown in the tables; the exact 18-decimal figures are in summary.json and the CSVs. */
export const DISPLAY_DECIMALS = 6;

function settlementText(figure: CurrencyFigures): string {
  const parts: string[] = [];
  if (toUnits(figure.settledToProvider) !== 0n) parts.push(`paid ${displayAmount(figure.settledToProvider, DISPLAY_DECIMALS)}`);
  if (toUnits(figure.settledFromProvider) !== 0n) parts.push(`got ${displayAmount(figure.settledFromProvider, DISPLAY_DECIMALS)}`);
  return parts.length === 0 ? '-' : parts.join(' / ');
}

function table(header: readonly string[], rows: readonly (readonly string[])[], rightAligned: ReadonlySet<number>): string[] {
  const widths = header.map((title, index) => Math.max(title.length, ...rows.map((row) => (row[index] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((cell, index) => (rightAligned.has(index) ? cell.padStart(widths[index] ?? 0) : cell.padEnd(widths[index] ?? 0))).join('  ').trimEnd();
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)];
}

/** The terminal summary, as lines. */
export function renderDemoText(result: DemoResult): string[] {
  const lines: string[] = [];
  const activity = [...result.counters.values()];
  const total = (key: 'bookings' | 'refused' | 'accountsOpened' | 'unknownOutcome') => activity.reduce((sum, counter) => sum + counter[key], 0);
  lines.push('');
  lines.push(
    `${result.users} end users, ${result.users * 2} Earn users, ${total('accountsOpened')} Earn accounts; ${total('bookings')} bookings, ${total('refused')} withdrawals refused by the provider (insufficient_balance)${total('unknownOutcome') > 0 ? `, ${total('unknownOutcome')} with a lost answer` : ''}`,
  );
  lines.push(`${result.days.length} accounting days ${result.days[0] ?? ''} → ${result.days[result.days.length - 1] ?? ''} in ${result.options.zone}; ${result.nights.length} nightly reconciliations`);
  lines.push('');
  const rows = result.figures.map((figure) => [
    figure.entity,
    figure.currency,
    displayAmount(figure.deposits, DISPLAY_DECIMALS),
    displayAmount(figure.withdrawals, DISPLAY_DECIMALS),
    displayAmount(figure.interest, DISPLAY_DECIMALS),
    displayAmount(figure.partnerMargin, DISPLAY_DECIMALS),
    settlementText(figure),
    displayAmount(figure.outstanding, DISPLAY_DECIMALS),
    figure.providerOutstanding === null ? '?' : toUnits(figure.providerOutstanding) === toUnits(figure.outstanding) ? 'same' : displayAmount(figure.providerOutstanding, DISPLAY_DECIMALS),
    `${figure.breaksFound}${figure.breaksOpen > 0 ? ` (${figure.breaksOpen} open)` : ''}`,
  ]);
  lines.push(...table(['entity', 'currency', 'deposits', 'withdrawals', 'interest', 'margin', 'settlements', 'outstanding', 'provider', 'breaks'], rows, new Set([2, 3, 4, 5, 7, 9])));
  lines.push(`(amounts rounded to ${DISPLAY_DECIMALS} decimals; exact 18-decimal figures in summary.json and the CSV files. Settlements: paid = partner → provider, got = provider → partner. Outstanding: negative = the partner owes, carried below the minimum settlement.)`);
  const withBreaks = result.nights.filter((night) => night.breaks.length > 0);
  if (result.faults.length > 0) {
    lines.push('');
    lines.push('faults injected, and how each was caught:');
    lines.push(
      ...table(
        ['fault', 'day', 'injected', 'caught by'],
        result.faults.map((fault) => [fault.kind.replaceAll('_', ' '), fault.day === null ? '-' : `${fault.day}${fault.entity === null ? '' : ` ${fault.entity}`}`, String(fault.injected), fault.caughtBy ?? (fault.day === null ? 'not injected (run more days)' : fault.injected === 0 ? 'not drawn in this run (a rate; run more users or days)' : 'NOT CAUGHT')]),
        new Set([2]),
      ),
    );
  }
  lines.push('');
  const breaksTotal = withBreaks.reduce((sum, night) => sum + night.breaks.length, 0);
  lines.push(`breaks: ${breaksTotal} found on ${withBreaks.length} of ${result.nights.length} nights, ${result.unexplainedBreaks} not explained by an injected fault; open at the end: ${result.figures.reduce((sum, figure) => sum + figure.breaksOpen, 0)}`);
  lines.push(`bookings on both sides: ${[...result.bookings].map(([entity, count]) => `${entity} provider ${count.provider} / partner ${count.partner}`).join(', ')}`);
  lines.push(`ledger verified: ${result.verify.transactions} transactions, ${result.verify.entries} entries, ${result.verify.accounts} accounts; every invariant holds`);
  lines.push(`HTTP: ${result.wire.requests} requests to the provider${result.wire.serverErrors + result.wire.rateLimited + result.wire.unauthorized > 0 ? ` (${result.wire.serverErrors} 5xx, ${result.wire.rateLimited} 429, ${result.wire.unauthorized} 401 retried)` : ''}`);
  lines.push('');
  lines.push(`outputs in ${result.outputs.directory}:`);
  lines.push(`  summary.html, summary.json, nights/ (one reconciliation page per entity and night)`);
  lines.push(`  audit/: ${result.manifest.files.map((file) => `${file.name} (${file.rows} rows)`).join(', ')}, manifest.json`);
  lines.push(`  hledger: ${!result.hledger.checked ? result.hledger.reason : result.hledger.mismatches.length === 0 ? `journal.hledger checked: hledger's balances equal the ledger's on all ${result.hledger.accounts} accounts` : `hledger DISAGREES on ${result.hledger.mismatches.length} balances`}`);
  lines.push(`  books: ${result.databaseDescription}`);
  lines.push(`wall time ${(result.wallTimeMs / 1000).toFixed(1)} s (${Object.entries(result.phaseMs).map(([phase, ms]) => `${phase} ${(ms / 1000).toFixed(1)} s`).join(', ')})`);
  return lines;
}

function cell(value: string, numeric = false): string {
  return `<td${numeric ? ' class="num"' : ''}>${escapeHtml(value)}</td>`;
}

/** An amount rounded for the table, the exact figure in its tooltip. */
function amountCell(amount: string): string {
  return `<td class="num" title="${escapeHtml(amount)}">${escapeHtml(displayAmount(amount, DISPLAY_DECIMALS))}</td>`;
}

const STYLE = `
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; color: #1d2330; background: #f6f7f9; margin: 0; padding: 24px; }
main { max-width: 1200px; margin: 0 auto; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid #d8dce3; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #e5e8ed; vertical-align: top; }
th { background: #eef0f4; font-size: 13px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.scroll { overflow-x: auto; max-width: 100%; }
table.figures { font-size: 13px; }
table.figures th, table.figures td { padding: 5px 6px; }
td.num { text-align: right; font-variant-numeric: tabular-nums; font-family: ui-monospace, Menlo, Consolas, monospace; white-space: nowrap; }
td.hash { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; word-break: break-all; }
.note { color: #4a5263; font-size: 13px; }
.clean { color: #165c2a; } .breaks { color: #8a1c10; }
`;

/** The charts: per currency, interest and settlements per day and the outstanding balance; a calendar of nights. */
export function renderDemoCharts(result: DemoResult): string {
  const labels = result.chartDays;
  const currencies = [...new Set(result.daily.map((series) => series.currency))].sort();
  const sections = currencies.map((currency) => {
    const ofCurrency = result.daily.filter((series) => series.currency === currency);
    const settlements = ofCurrency.map((series) => {
      const perDay = new Map<string, bigint>();
      for (const night of result.nights) {
        if (night.entity !== series.entity) continue;
        for (const instruction of night.instructions) {
          if (instruction.currency !== currency) continue;
          // Received from the provider is up, paid to it is down.
          const units = instruction.direction === 'to_provider' ? -toUnits(instruction.amount) : toUnits(instruction.amount);
          perDay.set(night.day, (perDay.get(night.day) ?? 0n) + units);
        }
      }
      return { name: series.entity, values: labels.map((day) => (perDay.has(day) ? formatUnits(perDay.get(day) ?? 0n) : null)) };
    });
    const charts: HtmlFragment[] = [
      barChart({ title: 'Interest credited to users per day', unit: currency, labels, series: ofCurrency.map((series) => ({ name: series.entity, values: labels.map((day) => series.interestCredited.get(day) ?? null) })) }),
      barChart({ title: 'Settlements per day (up: received, down: paid)', unit: currency, labels, series: settlements }),
      lineChart({ title: 'Outstanding balance at the end of the day', unit: currency, labels, series: ofCurrency.map((series) => ({ name: series.entity, values: labels.map((day) => series.outstanding.get(day) ?? null) })) }),
    ];
    return `<h3>${escapeHtml(currency)}</h3>\n${chartGrid(charts).text}`;
  });
  const entities = [...new Set(result.nights.map((night) => night.entity))];
  const nights: NightCell[] = result.nights.map((night) => ({
    day: night.day,
    entity: night.entity,
    status: night.breaks.length === 0 ? 'clean' : 'breaks',
    note: night.breaks.map((found) => found.kind.replaceAll('_', ' ')).join(', '),
  }));
  const calendar = nightCalendar({ title: 'Nights', days: result.days, entities, nights });
  return `${calendar.text}\n${sections.join('\n')}`;
}

/** The self-contained summary page. */
export function renderDemoHtml(result: DemoResult): string {
  const figureRows = result.figures
    .map(
      (figure) =>
        `<tr>${cell(figure.entity)}${cell(figure.currency)}${amountCell(figure.deposits)}${amountCell(figure.withdrawals)}${amountCell(figure.interest)}${amountCell(figure.partnerMargin)}${amountCell(figure.settledToProvider)}${amountCell(figure.settledFromProvider)}${amountCell(figure.outstanding)}${figure.providerOutstanding === null ? cell('?', true) : amountCell(figure.providerOutstanding)}${cell(`${figure.breaksFound} (${figure.breaksOpen} open)`, true)}</tr>`,
    )
    .join('\n');
  const faultRows = result.faults.map((fault) => `<tr>${cell(fault.kind.replaceAll('_', ' '))}${cell(fault.day ?? '-')}${cell(fault.entity ?? '-')}${cell(String(fault.injected), true)}${cell(fault.caughtBy ?? 'not caught')}</tr>`).join('\n');
  const nightRows = result.nights
    .map(
      (night) =>
        `<tr>${cell(night.day)}${cell(night.entity)}<td class="${night.breaks.length === 0 ? 'clean' : 'breaks'}">${escapeHtml(night.breaks.length === 0 ? 'clean' : night.breaks.map((found) => `${found.kind}: ${found.resolution}`).join('; '))}</td>${cell(
          night.instructions.map((instruction) => `${instruction.currency} ${instruction.direction === 'to_provider' ? 'paid' : 'received'} ${displayAmount(instruction.amount, 8)}`).join(', ') || '-',
        )}<td><a href="${escapeHtml(night.page.split('\\').join('/'))}">page</a></td></tr>`,
    )
    .join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>earnbook demo ${escapeHtml(result.days[0] ?? '')} to ${escapeHtml(result.days[result.days.length - 1] ?? '')}</title>
<style>${STYLE}${CHART_STYLE}</style>
</head>
<body>
<main>
<h1>earnbook demo</h1>
<p class="note">${escapeHtml(`${result.users} end users, ${result.days.length} accounting days ${result.days[0] ?? ''} to ${result.days[result.days.length - 1] ?? ''} in ${result.options.zone}, seed ${result.options.seed}${result.options.faults ? ', faults on' : ''}. Books: ${result.databaseDescription}. Wall time ${(result.wallTimeMs / 1000).toFixed(1)} s.`)}</p>
<h2>Per entity and currency</h2>
<div class="scroll"><table class="figures">
<thead><tr><th>Entity</th><th>Currency</th><th>Deposits</th><th>Withdrawals</th><th>Interest</th><th>Partner margin</th><th>Paid to provider</th><th>Received from provider</th><th>Outstanding (our books)</th><th>Outstanding (provider)</th><th>Breaks</th></tr></thead>
<tbody>
${figureRows}
</tbody>
</table></div>
<p class="note">Amounts rounded to ${DISPLAY_DECIMALS} decimals (hover for the exact figure); exact figures in summary.json and audit/. Outstanding: negative means the partner owes the provider (carried below the minimum settlement).</p>
<h2>Day by day</h2>
${renderDemoCharts(result)}
<p class="note">Hover a bar, dot or square for its day and exact amount.</p>
${result.faults.length === 0 ? '' : `<h2>Faults injected and how each was caught</h2>\n<table>\n<thead><tr><th>Fault</th><th>Day</th><th>Entity</th><th>Injected</th><th>Caught by</th></tr></thead>\n<tbody>\n${faultRows}\n</tbody>\n</table>`}
<h2>Nights</h2>
<table>
<thead><tr><th>Day</th><th>Entity</th><th>Breaks</th><th>Settlements</th><th>Reconciliation</th></tr></thead>
<tbody>
${nightRows}
</tbody>
</table>
<h2>Audit export</h2>
<table>
<thead><tr><th>File</th><th>Rows</th><th>Bytes</th><th>SHA-256</th></tr></thead>
<tbody>
${result.manifest.files.map((file) => `<tr>${cell(`audit/${file.name}`)}${cell(String(file.rows), true)}${cell(String(file.bytes), true)}<td class="hash">${escapeHtml(file.sha256)}</td></tr>`).join('\n')}
</tbody>
</table>
</main>
</body>
</html>
`;
}
