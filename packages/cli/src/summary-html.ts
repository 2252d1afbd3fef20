/**
 * `summary.html`: one self-contained page (inline CSS, no script, no external asset) that a
 * finance person can read: is the day clean, what is settled per currency and in which
 * direction, and which differences (breaks) are open. Every value is escaped: the page is built
 * with a template tag that escapes whatever is not itself a built fragment.
 */
import { BREAK_KINDS } from '@earnbook/reconcile';
import { describeTransfer, shortAmount } from './reconcile-summary.js';
import type { ReconcileSummary } from './reconcile-summary.js';
import type { Break, BreakKind } from '@earnbook/reconcile';

/** A fragment of HTML built by {@link html}; only these are inserted without escaping. */
export class HtmlFragment {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML content and quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (character) => ESCAPES[character] ?? character);
}

function render(value: unknown): string {
  if (value instanceof HtmlFragment) return value.text;
  if (value === null || value === undefined || value === false) return '';
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/** Template tag: interpolated values are escaped unless they are {@link HtmlFragment}s (arrays are joined). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): HtmlFragment {
  let out = strings[0] ?? '';
  values.forEach((value, index) => {
    out += render(value) + (strings[index + 1] ?? '');
  });
  return new HtmlFragment(out);
}

/** What each kind of break means, and what usually resolves it, in plain words. */
export const BREAK_KIND_DESCRIPTIONS: Readonly<Record<BreakKind, string>> = Object.freeze({
  missing_in_ledger: 'The report has a booking our books lack (often a crash between the booking call and storing its answer). The command "earnbook breaks repair" books it.',
  missing_in_report: 'Our books have a booking of the day that the report does not show.',
  duplicate_in_report: 'The report lists the same entry more than once.',
  unknown_entry_type: 'The report has an entry of a type we do not know; it was not booked.',
  currency_mismatch: 'The same entry has another currency in the report than in our books.',
  account_mismatch: 'The same entry is on another Earn account in the report than in our books.',
  amount_mismatch: 'The same entry has another amount in the report than in our books.',
  restated_entry: 'A restated report changed an entry that an earlier version of the report had.',
  day_mismatch: 'The entry falls on another accounting day in the report than in our books.',
  interest_mismatch: 'The interest the report credits differs from our recomputation by more than the tolerance.',
  unexpected_interest: 'The report credits interest to an account on which we expect none.',
  missing_interest: 'We expect interest on an account and the report credits none.',
  margin_mismatch: 'The partner margin in the report differs from our recomputation by more than the tolerance.',
  approval_required: 'The day\'s fees exceed the approval limit. No transfer is instructed until a person resolves the break, which approves them.',
  outstanding_balance_mismatch: 'The outstanding balance (settlement position) in the report differs from ours. No transfer is instructed until it is resolved.',
});

const STYLE = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; color: #1d2330; background: #f6f7f9; margin: 0; padding: 24px; }
main { max-width: 1200px; margin: 0 auto; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.scroll { overflow-x: auto; }
td.differs { background: #fde8e6; color: #8a1c10; font-weight: 600; }
p.sub { margin: 0 0 16px; color: #4a5263; }
.status { border-radius: 8px; padding: 14px 18px; margin: 12px 0 8px; font-size: 18px; font-weight: 600; }
.status.clean { background: #e3f4e8; border: 1px solid #8fcf9f; color: #165c2a; }
.status.breaks { background: #fde8e6; border: 1px solid #f0a39a; color: #8a1c10; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid #d8dce3; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #e5e8ed; vertical-align: top; }
th { background: #eef0f4; font-weight: 600; font-size: 13px; }
th.num { text-align: right; }
td.num { text-align: right; font-variant-numeric: tabular-nums; font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 13px; overflow-wrap: anywhere; }
td.code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 13px; word-break: break-all; }
td { overflow-wrap: anywhere; }
dl { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 4px 16px; background: #fff; border: 1px solid #d8dce3; padding: 12px 16px; margin: 0; }
dt { color: #4a5263; }
dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }
.note { color: #4a5263; font-size: 13px; }
.kind { font-weight: 600; }
@media print { body { background: #fff; padding: 0; } .status { border-width: 2px; } }
`;

function amountCell(amount: string | null, options: { readonly disputed?: boolean } = {}): HtmlFragment {
  if (amount === null) return html`<td class="num">–</td>`;
  return html`<td class="num${options.disputed === true ? ' differs' : ''}" title="${amount}">${shortAmount(amount)}</td>`;
}

function breakRow(item: Break): HtmlFragment {
  const reason = typeof item.details['reason'] === 'string' ? item.details['reason'] : '';
  return html`<tr>
<td class="num">${item.id}</td>
<td><span class="kind">${item.kind.replaceAll('_', ' ')}</span><br><span class="note">${BREAK_KIND_DESCRIPTIONS[item.kind] ?? ''}</span>${reason === '' ? '' : html`<br><span class="note">${reason}</span>`}</td>
<td class="code">${item.earnAccountId ?? '–'}</td>
<td>${item.currency ?? '–'}</td>
${amountCell(item.expected)}
${amountCell(item.actual)}
<td class="code">${item.providerId ?? '–'}</td>
</tr>`;
}

/**
 * Open breaks listed in `summary.html`: a person reads a page, not a day of them. A day on which
 * every entry differs (a provider's rounding changed) has one per Earn account: 99,000 rows made a
 * page no browser opens. The counts per kind cover all of them; every break is in
 * `earnbook breaks list` and the `breaks.csv` export (`summary.json` lists the first 10,000).
 */
export const SUMMARY_HTML_BREAKS_MAX = 1_000;

/** Renders `summary.html` for a run. */
export function renderSummaryHtml(summary: ReconcileSummary): string {
  const open = summary.openBreaks;
  const listed = summary.breaks.slice(0, SUMMARY_HTML_BREAKS_MAX);
  const title = `Reconciliation ${summary.entity} ${summary.day}`;
  const counted = BREAK_KINDS.filter((kind) => summary.breakCounts[kind] > 0);
  const page = html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${title}</title>
<style>${new HtmlFragment(STYLE)}</style>
</head>
<body>
<main>
<h1>${title}</h1>
<p class="sub">Entity <strong>${summary.entity}</strong>, accounting day <strong>${summary.day}</strong> (${summary.report.timeZone}). Generated ${summary.generatedAt}.</p>
${
  summary.clean
    ? html`<div class="status clean" id="status">Clean: our books match the provider's report. No open break.</div>`
    : html`<div class="status breaks" id="status">Not clean: ${open} open break${open === 1 ? '' : 's'}. The differences are listed below and must be resolved.</div>`
}

<h2>Settlement per currency</h2>
${
  summary.settlement.length === 0
    ? html`<p>No currency moved on this day: nothing to settle.</p>`
    : html`<div class="scroll"><table id="settlement">
<thead><tr><th>Currency</th><th class="num">Outstanding<br>(our books)</th><th class="num">Outstanding<br>(report)</th><th class="num">Settled today</th><th class="num">Carried to<br>next day</th><th>Transfer</th><th>Partner wallet</th></tr></thead>
<tbody>
${summary.settlement.map(
  (line) => html`<tr>
<td><strong>${line.currency}</strong></td>
${amountCell(line.outstanding)}
${amountCell(line.reportedOutstanding, { disputed: line.disputed })}
${amountCell(line.settled)}
${amountCell(line.carriedOut)}
<td>${describeTransfer(line)}</td>
<td class="code">${line.instruction?.wallet ?? '–'}</td>
</tr>`,
)}
</tbody>
</table></div>
<h3>How the outstanding balance is made up</h3>
<div class="scroll"><table id="netting">
<thead><tr><th>Currency</th><th class="num">Payables<br>(deposits + fees)</th><th class="num">Receivables<br>(withdrawals + margin)</th><th class="num">Net<br>(receivables − payables)</th><th class="num">Carried in<br>(previous day)</th><th class="num">Outstanding<br>(net + carried in)</th></tr></thead>
<tbody>
${summary.settlement.map(
  (line) => html`<tr>
<td><strong>${line.currency}</strong></td>
${amountCell(line.payables)}
${amountCell(line.receivables)}
${amountCell(line.net)}
${amountCell(line.carriedIn)}
${amountCell(line.outstanding)}
</tr>`,
)}
</tbody>
</table></div>
<p class="note">Outstanding balance: negative means the partner owes Tesseract, positive means Tesseract owes the partner. Amounts are shown without trailing zeros; the exact 18-decimal values are in summary.json.</p>`
}

<h2>Open breaks</h2>
${
  open === 0
    ? html`<p>None.</p>`
    : html`<p>${counted.map((kind, index) => html`${index === 0 ? '' : ', '}${summary.breakCounts[kind]} ${kind.replaceAll('_', ' ')}`)}.</p>
<div class="scroll"><table id="breaks">
<thead><tr><th class="num">Break</th><th>Kind</th><th>Earn account</th><th>Currency</th><th class="num">Expected (our books)</th><th class="num">Actual (report)</th><th>Provider id</th></tr></thead>
<tbody>
${listed.map(breakRow)}
</tbody>
</table></div>${
        listed.length < open
          ? html`
<p class="note" id="breaks-more">The first ${listed.length} of ${open} open breaks (in the run's order). All of them are in <code>earnbook breaks list</code> and in the breaks.csv export (<code>earnbook export --what breaks</code>).</p>`
          : ''
      }`
}

<h2>Report</h2>
<dl>
<dt>Report id</dt><dd class="code">${summary.report.id}</dd>
<dt>Version of the day</dt><dd>${summary.report.version} (${summary.report.status === 'created' ? 'processed by this run' : 'already processed before'})</dd>
<dt>Entries</dt><dd>${summary.report.entries}</dd>
<dt>Booked by this run</dt><dd>${summary.synced.interest} interest, ${summary.synced.partnerMargin} partner margin, ${summary.synced.fee} fee entries</dd>
<dt>Breaks closed by this run</dt><dd>${summary.resolvedBreaks}</dd>
<dt>Report generated</dt><dd>${summary.report.generatedAt}</dd>
<dt>Source</dt><dd class="code">${summary.report.source}</dd>
<dt>SHA-256</dt><dd class="code">${summary.report.contentHash}</dd>
</dl>
</main>
</body>
</html>
`;
  return page.text;
}
