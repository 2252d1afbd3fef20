/**
 * The machine-readable summary of one reconciliation run (`summary.json`, and stdout with
 * `--json`), and its short human form for the terminal.
 */
import { formatUnits, toUnits } from '@earnbook/ledger';
import { BREAK_KINDS } from '@earnbook/reconcile';
import type { Break, BreakKind, ReconcileResult, SettlementInstruction, SettlementPosition } from '@earnbook/reconcile';
import { singleLine } from './terminal-text.js';


/** One currency's settlement: the computed position, the report's figure, and the instruction. */
export interface SettlementLine extends SettlementPosition {
  /** The report's `outstandingBalance` of the currency, or null if the report lacks it. */
  readonly reportedOutstanding: string | null;
  /** Whether the reconciler found the outstanding balance in dispute (an open break, beyond tolerance). */
  readonly disputed: boolean;
  /** The day's instruction of the currency, if a transfer is due. */
  readonly instruction: SettlementInstruction | null;
}

/** `summary.json`. */
export interface ReconcileSummary {
  readonly kind: 'earnbook_reconcile_summary';
  readonly version: 1;
  /** When the run ended (ISO-8601 UTC). */
  readonly generatedAt: string;
  readonly entity: string;
  readonly day: string;
  /** True when the day has no open break. */
  readonly clean: boolean;
  readonly report: {
    readonly id: string;
    readonly version: number;
    /** `created` the first time this report content was processed, `exists` on a re-run. */
    readonly status: 'created' | 'exists';
    readonly entries: number;
    readonly source: string;
    readonly contentHash: string;
    readonly generatedAt: string;
    readonly timeZone: string;
  };
  /** Report entries this run booked into the ledger. */
  readonly synced: ReconcileResult['synced'];
  /** Breaks this run closed because the report no longer shows them. */
  readonly resolvedBreaks: number;
  /** Open breaks of the day (all of them; `breaks` may list fewer). */
  readonly openBreaks: number;
  /** Open breaks per kind (every kind listed). */
  readonly breakCounts: Readonly<Record<BreakKind, number>>;
  /**
   * The open breaks, in the run's order: all of them, or the first 10,000 (the reconciler's
   * `resultBreaksMax`) when there are more; `earnbook breaks list` and the breaks.csv export have them all.
   */
  readonly breaks: readonly Break[];
  readonly settlement: readonly SettlementLine[];
  readonly instructions: readonly SettlementInstruction[];
}

/** Builds the summary of a run from the reconciler's result and the report it read. */
export function buildReconcileSummary(input: { result: ReconcileResult; generatedAt: string }): ReconcileSummary {
  const { result } = input;
  const loaded = result.report;
  // Every kind listed, in BREAK_KINDS order (the result's counts, which cover every open break).
  const breakCounts = Object.fromEntries(BREAK_KINDS.map((kind) => [kind, result.breakCounts[kind] ?? 0])) as Record<BreakKind, number>;
  const reported = new Map(loaded.header.balances.map((balance) => [balance.currency, formatUnits(toUnits(balance.outstandingBalance))]));
  const currencies = [...new Set([...result.positions.map((position) => position.currency), ...reported.keys()])].sort();
  const zero = formatUnits(0n);
  const settlement = currencies.map((currency): SettlementLine => {
    const position = result.positions.find((item) => item.currency === currency) ?? {
      currency,
      payables: zero,
      receivables: zero,
      net: zero,
      carriedIn: zero,
      outstanding: zero,
      settled: zero,
      carriedOut: zero,
    };
    return {
      ...position,
      reportedOutstanding: reported.get(currency) ?? null,
      // The reconciler decides what is disputed (it applies the tolerance); the summary only reports it.
      disputed: result.disputedCurrencies.includes(currency),
      instruction: result.instructions.find((item) => item.currency === currency) ?? null,
    };
  });
  return {
    kind: 'earnbook_reconcile_summary',
    version: 1,
    generatedAt: input.generatedAt,
    entity: result.entity,
    day: result.day,
    clean: result.clean,
    report: {
      id: result.reportId,
      version: result.reportVersion,
      status: result.reportStatus,
      entries: result.reportEntries,
      source: loaded.source,
      contentHash: loaded.contentHash,
      generatedAt: loaded.header.generatedAt,
      timeZone: loaded.header.timeZone,
    },
    synced: result.synced,
    resolvedBreaks: result.resolvedBreaks,
    openBreaks: result.openBreaks,
    breakCounts,
    breaks: result.breaks,
    settlement,
    instructions: result.instructions,
  };
}

/** An 18-decimal amount without its trailing zeros (exact: only zeros are dropped). */
export function shortAmount(amount: string): string {
  if (!/^-?\d+\.\d+$/.test(amount)) return amount;
  const trimmed = amount.replace(/0+$/, '').replace(/\.$/, '');
  return trimmed === '-0' ? '0' : trimmed;
}

function disputed(line: SettlementLine): string {
  if (!line.disputed) return '';
  return `; DISPUTED: the report says ${line.reportedOutstanding === null ? 'nothing' : shortAmount(line.reportedOutstanding)}, resolve the break before any transfer`;
}

/** What a settlement line means in words: who sends how much, or that it is carried. */
export function describeTransfer(line: SettlementLine): string {
  const settledUnits = toUnits(line.settled);
  const carriedUnits = toUnits(line.carriedOut);
  if (settledUnits === 0n) {
    return `${carriedUnits === 0n ? 'nothing to settle' : `below the threshold: ${shortAmount(line.carriedOut)} carried to the next day`}${disputed(line)}`;
  }
  const amount = shortAmount(settledUnits < 0n ? line.settled.slice(1) : line.settled);
  const who = settledUnits < 0n ? `partner sends ${amount} ${line.currency} to Tesseract` : `Tesseract sends ${amount} ${line.currency} to the partner`;
  const instruction = line.instruction === null ? '' : ` (instruction ${line.instruction.id}, ${line.instruction.status})`;
  return `${who}${instruction}${disputed(line)}`;
}

/**
 * The terminal summary: a headline, the report, the settlement per currency, the break counts.
 * Each line is a {@link singleLine}: the report id is the provider's text.
 */
export function formatReconcileText(summary: ReconcileSummary, files: readonly string[]): string {
  const lines: string[] = [];
  const open = summary.openBreaks;
  lines.push(`${summary.entity} ${summary.day}: ${summary.clean ? 'CLEAN' : `NOT CLEAN, ${open} open break${open === 1 ? '' : 's'}`}`);
  const { synced } = summary;
  lines.push(
    `report ${summary.report.id} version ${summary.report.version} (${summary.report.status === 'created' ? 'new' : 'already processed'}), ${summary.report.entries} entries; booked ${synced.interest} interest, ${synced.partnerMargin} partner margin, ${synced.fee} fee entries`,
  );
  if (summary.resolvedBreaks > 0) lines.push(`${summary.resolvedBreaks} earlier break${summary.resolvedBreaks === 1 ? '' : 's'} no longer found and closed`);
  if (summary.settlement.length === 0) lines.push('settlement: no currency moved');
  else {
    lines.push('settlement:');
    const width = Math.max(...summary.settlement.map((line) => line.currency.length));
    for (const line of summary.settlement) lines.push(`  ${line.currency.padEnd(width)}  outstanding ${shortAmount(line.outstanding)}: ${describeTransfer(line)}`);
  }
  const counted = Object.entries(summary.breakCounts).filter(([, count]) => count > 0);
  if (counted.length > 0) {
    lines.push('open breaks:');
    const width = Math.max(...counted.map(([kind]) => kind.length));
    for (const [kind, count] of counted) lines.push(`  ${kind.padEnd(width)}  ${count}`);
  }
  if (files.length > 0) lines.push(`wrote ${files.join(', ')}`);
  return `${lines.map(singleLine).join('\n')}\n`;
}
