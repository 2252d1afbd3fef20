/**
 * Charts as inline SVG for the HTML summaries: no script, no network, no library. Bars and lines
 * over accounting days, and a calendar of clean and broken nights. Amounts stay exact decimal
 * strings: positions are computed from their bigint minor units, and each mark carries its exact
 * amount in a `<title>` (a tooltip, and what a screen reader says).
 */
import { toUnits } from '@earnbook/ledger';
import { shortAmount } from './reconcile-summary.js';
import { HtmlFragment, html } from './summary-html.js';

/** One series of a chart: an amount (or null, no value) per label, in the labels' order. */
export interface ChartSeries {
  readonly name: string;
  readonly values: readonly (string | null)[];
}

/** Input of {@link barChart} and {@link lineChart}. */
export interface ChartInput {
  readonly title: string;
  /** The x axis: accounting days (`YYYY-MM-DD`), in order. */
  readonly labels: readonly string[];
  readonly series: readonly ChartSeries[];
  /** Said under the title, e.g. the currency. */
  readonly unit: string;
}

/** Series a chart may hold (one colour each). */
export const CHART_SERIES_MAX = 6;
/** Labels (days) a chart may hold. */
export const CHART_LABELS_MAX = 400;

const COLORS = Object.freeze(['#2f6fdf', '#e07b00', '#1d9a6c', '#b03aa8', '#6b7a90', '#c8322a']);
const WIDTH = 560;
const HEIGHT = 200;
const PLOT = Object.freeze({ left: 92, right: 12, top: 12, bottom: 30 });
/** Fixed-point resolution of a position as a share of the plot (positions only, never money). */
const SHARE_STEPS = 100_000n;

/** CSS for the charts; the page's stylesheet includes it once. */
export const CHART_STYLE = `
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 16px; }
figure.chart { margin: 0; background: #fff; border: 1px solid #d8dce3; padding: 10px 12px; min-width: 0; }
figure.chart figcaption { font-weight: 600; font-size: 14px; }
figure.chart .unit { color: #4a5263; font-weight: 400; }
figure.chart svg { display: block; width: 100%; height: auto; }
figure.chart text { font: 11px system-ui, sans-serif; fill: #4a5263; }
.legend { font-size: 12px; color: #4a5263; margin-top: 4px; }
.legend span { display: inline-block; margin-right: 12px; }
.legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; vertical-align: -1px; }
`;

function check(input: ChartInput): void {
  if (input.series.length === 0 || input.series.length > CHART_SERIES_MAX) throw new RangeError(`a chart holds 1 to ${CHART_SERIES_MAX} series, got ${input.series.length}`);
  if (input.labels.length === 0 || input.labels.length > CHART_LABELS_MAX) throw new RangeError(`a chart holds 1 to ${CHART_LABELS_MAX} labels, got ${input.labels.length}`);
  for (const series of input.series) {
    if (series.values.length !== input.labels.length) throw new RangeError(`series ${series.name} has ${series.values.length} values for ${input.labels.length} labels`);
  }
}

/** The value range of the chart in minor units, always including zero. */
function range(input: ChartInput): { top: bigint; bottom: bigint } {
  let top = 0n;
  let bottom = 0n;
  for (const series of input.series) {
    for (const value of series.values) {
      if (value === null) continue;
      const units = toUnits(value);
      if (units > top) top = units;
      if (units < bottom) bottom = units;
    }
  }
  if (top === bottom) top = bottom + 1n;
  return { top, bottom };
}

/** The y pixel of an amount in minor units. */
function yOf(units: bigint, scale: { top: bigint; bottom: bigint }): number {
  const share = ((scale.top - units) * SHARE_STEPS) / (scale.top - scale.bottom);
  return PLOT.top + (Number(share) / Number(SHARE_STEPS)) * (HEIGHT - PLOT.top - PLOT.bottom);
}

/**
 * An axis label: the amount cut (not rounded) to a few decimals by its size, so that it fits
 * beside the plot; the marks' tooltips keep every digit.
 */
function axisLabel(units: bigint): string {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(19, '0');
  const whole = digits.slice(0, -18);
  const decimals = whole.length >= 3 ? 2 : whole !== '0' ? 4 : 6;
  const text = shortAmount(`${negative ? '-' : ''}${whole}.${digits.slice(-18, -18 + decimals)}`);
  return text === '0' && units !== 0n ? `${negative ? '-' : ''}<0.000001` : text;
}

function axes(input: ChartInput, scale: { top: bigint; bottom: bigint }): HtmlFragment {
  const zero = yOf(0n, scale);
  const right = WIDTH - PLOT.right;
  const last = input.labels.length - 1;
  const xLabel = (index: number) => PLOT.left + ((index + 0.5) / input.labels.length) * (right - PLOT.left);
  const ticks = [...new Set([0, Math.floor(last / 2), last])];
  return html`<line x1="${PLOT.left}" y1="${zero.toFixed(1)}" x2="${right}" y2="${zero.toFixed(1)}" stroke="#8a93a3" stroke-width="1"/>
<line x1="${PLOT.left}" y1="${PLOT.top}" x2="${PLOT.left}" y2="${HEIGHT - PLOT.bottom}" stroke="#d8dce3" stroke-width="1"/>
<text x="${PLOT.left - 6}" y="${(PLOT.top + 4).toFixed(1)}" text-anchor="end">${axisLabel(scale.top)}</text>
<text x="${PLOT.left - 6}" y="${(HEIGHT - PLOT.bottom).toFixed(1)}" text-anchor="end">${axisLabel(scale.bottom)}</text>
${ticks.map((index) => html`<text x="${xLabel(index).toFixed(1)}" y="${HEIGHT - 10}" text-anchor="${index === 0 && last > 0 ? 'start' : index === last && last > 0 ? 'end' : 'middle'}">${input.labels[index] ?? ''}</text>`)}`;
}

function legend(input: ChartInput): HtmlFragment {
  if (input.series.length < 2) return html``;
  return html`<div class="legend">${input.series.map((series, index) => html`<span><i style="background:${COLORS[index % COLORS.length] ?? '#000'}"></i>${series.name}</span>`)}</div>`;
}

function frame(input: ChartInput, body: HtmlFragment, kind: string): HtmlFragment {
  return html`<figure class="chart" data-chart="${kind}">
<figcaption>${input.title} <span class="unit">${input.unit}</span></figcaption>
<svg viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${input.title} ${input.unit}" xmlns="http://www.w3.org/2000/svg">
${body}
</svg>
${legend(input)}
</figure>`;
}

/**
 * Bars per day, one per series side by side, up from zero for positive amounts and down for
 * negative ones.
 *
 * @example barChart({ title: 'Daily interest', unit: 'BTC', labels: ['2025-03-10'], series: [{ name: 'defi', values: ['0.0001'] }] })
 */
export function barChart(input: ChartInput): HtmlFragment {
  check(input);
  const scale = range(input);
  const zero = yOf(0n, scale);
  const slot = (WIDTH - PLOT.left - PLOT.right) / input.labels.length;
  const barWidth = Math.max(1, (slot * 0.8) / input.series.length);
  const bars = input.series.flatMap((series, seriesIndex) =>
    series.values.map((value, index) => {
      if (value === null || toUnits(value) === 0n) return html``;
      const y = yOf(toUnits(value), scale);
      const x = PLOT.left + index * slot + slot * 0.1 + seriesIndex * barWidth;
      return html`<rect x="${x.toFixed(1)}" y="${Math.min(y, zero).toFixed(1)}" width="${barWidth.toFixed(1)}" height="${Math.max(0.5, Math.abs(zero - y)).toFixed(1)}" fill="${COLORS[seriesIndex % COLORS.length] ?? '#000'}"><title>${input.labels[index] ?? ''} ${series.name}: ${value}</title></rect>`;
    }),
  );
  return frame(input, html`${axes(input, scale)}${bars}`, 'bar');
}

/** Lines over the days, one per series, with a dot per value (gaps where a value is null). */
export function lineChart(input: ChartInput): HtmlFragment {
  check(input);
  const scale = range(input);
  const slot = (WIDTH - PLOT.left - PLOT.right) / input.labels.length;
  const marks = input.series.map((series, seriesIndex) => {
    const color = COLORS[seriesIndex % COLORS.length] ?? '#000';
    const points = series.values.flatMap((value, index) => (value === null ? [] : [{ x: PLOT.left + (index + 0.5) * slot, y: yOf(toUnits(value), scale), value, label: input.labels[index] ?? '' }]));
    const path = points.map((point, index) => `${index === 0 ? 'M' : 'L'}${point.x.toFixed(1)} ${point.y.toFixed(1)}`).join(' ');
    return html`<path d="${path}" fill="none" stroke="${color}" stroke-width="2"/>
${points.map((point) => html`<circle cx="${point.x.toFixed(1)}" cy="${point.y.toFixed(1)}" r="2.5" fill="${color}"><title>${point.label} ${series.name}: ${point.value}</title></circle>`)}`;
  });
  return frame(input, html`${axes(input, scale)}${marks}`, 'line');
}

/** One night of one entity for {@link nightCalendar}. */
export interface NightCell {
  readonly day: string;
  readonly entity: string;
  /** `clean`: no break; `breaks`: the nightly job found breaks; `missing`: no reconciliation. */
  readonly status: 'clean' | 'breaks' | 'missing';
  /** The tooltip, e.g. the kinds of break. */
  readonly note: string;
}

const CELL = 16;
const NIGHT_COLORS = Object.freeze({ clean: '#3aa55d', breaks: '#d9432f', missing: '#d8dce3' });

/**
 * A calendar of nights: a row per entity, a square per accounting day, green when the night was
 * clean, red when it found breaks, grey when it did not run.
 */
export function nightCalendar(input: { readonly title: string; readonly days: readonly string[]; readonly entities: readonly string[]; readonly nights: readonly NightCell[] }): HtmlFragment {
  if (input.days.length === 0 || input.days.length > CHART_LABELS_MAX) throw new RangeError(`a calendar holds 1 to ${CHART_LABELS_MAX} days, got ${input.days.length}`);
  const byKey = new Map(input.nights.map((night) => [`${night.entity} ${night.day}`, night]));
  const left = 70;
  const width = left + input.days.length * CELL + 4;
  const height = 18 + input.entities.length * CELL + 4;
  const cells = input.entities.map((entity, row) =>
    input.days.map((day, column) => {
      const night = byKey.get(`${entity} ${day}`) ?? { day, entity, status: 'missing' as const, note: 'not reconciled' };
      return html`<rect x="${left + column * CELL}" y="${18 + row * CELL}" width="${CELL - 2}" height="${CELL - 2}" rx="2" fill="${NIGHT_COLORS[night.status]}" data-status="${night.status}"><title>${day} ${entity}: ${night.status === 'clean' ? 'clean' : night.note}</title></rect>`;
    }),
  );
  const dayNumbers = input.days.map((day, column) => (column % 7 === 0 || column === input.days.length - 1 ? html`<text x="${left + column * CELL + (CELL - 2) / 2}" y="12" text-anchor="middle">${day.slice(8)}</text>` : html``));
  const names = input.entities.map((entity, row) => html`<text x="${left - 6}" y="${18 + row * CELL + CELL - 5}" text-anchor="end">${entity}</text>`);
  return html`<figure class="chart calendar" data-chart="calendar">
<figcaption>${input.title} <span class="unit">${input.days[0] ?? ''} to ${input.days[input.days.length - 1] ?? ''}</span></figcaption>
<svg viewBox="0 0 ${width} ${height}" style="max-width:${Math.round(width * 1.25)}px" role="img" aria-label="${input.title}" xmlns="http://www.w3.org/2000/svg">
${dayNumbers}${names}${cells}
</svg>
<div class="legend"><span><i style="background:${NIGHT_COLORS.clean}"></i>clean</span><span><i style="background:${NIGHT_COLORS.breaks}"></i>breaks found</span><span><i style="background:${NIGHT_COLORS.missing}"></i>not reconciled</span></div>
</figure>`;
}

/** Charts side by side in a grid that wraps (never wider than the page). */
export function chartGrid(charts: readonly HtmlFragment[]): HtmlFragment {
  return new HtmlFragment(`<div class="charts">\n${charts.map((chart) => chart.text).join('\n')}\n</div>`);
}
