/**
 * `--faults`: what the demo turns on in the sandbox, on which day, and how each fault shows up on
 * the partner's side (a retry, a token refresh, a break kind and its resolution).
 */
import type { Sandbox } from '@earnbook/earn-sandbox';
import type { Break } from '@earnbook/reconcile';

/** The kinds of fault the demo injects. */
export type FaultKind =
  | 'server_errors'
  | 'rate_limits'
  | 'lost_response_recovered'
  | 'lost_response_gave_up'
  | 'early_token_expiry'
  | 'duplicate_report_entry'
  | 'interest_off_by_units'
  | 'restated_report';

/** Every kind, in the order they are reported. */
export const FAULT_KINDS: readonly FaultKind[] = Object.freeze([
  'server_errors',
  'rate_limits',
  'lost_response_recovered',
  'lost_response_gave_up',
  'early_token_expiry',
  'duplicate_report_entry',
  'interest_off_by_units',
  'restated_report',
]);

/** The break kind that shows each report-level fault on the partner's side. */
export const EXPECTED_BREAK_KIND: Readonly<Partial<Record<FaultKind, Break['kind']>>> = Object.freeze({
  lost_response_gave_up: 'missing_in_ledger',
  duplicate_report_entry: 'duplicate_in_report',
  interest_off_by_units: 'interest_mismatch',
  restated_report: 'restated_entry',
});

/** One fault: what was injected and how it was caught. */
export interface FaultRecord {
  readonly kind: FaultKind;
  /** Accounting day of the injection (the first day for rates). */
  day: string | null;
  entity: string | null;
  /** How many times it was injected (sandbox counters). */
  injected: number;
  /** How the partner's side caught it, in words; null if it was not caught. */
  caughtBy: string | null;
}

/** What the client saw on the wire, counted by a wrapper around `fetch`. */
export interface WireCounters {
  requests: number;
  serverErrors: number;
  rateLimited: number;
  unauthorized: number;
  networkErrors: number;
}

/** A `fetch` that counts the answers the client will retry or refresh on. */
export function countingFetch(counters: WireCounters): typeof globalThis.fetch {
  return async (input, init) => {
    counters.requests++;
    try {
      const response = await globalThis.fetch(input, init);
      if (response.status >= 500) counters.serverErrors++;
      else if (response.status === 429) counters.rateLimited++;
      else if (response.status === 401) counters.unauthorized++;
      return response;
    } catch (error) {
      counters.networkErrors++;
      throw error;
    }
  };
}

/** The demo's fault schedule, by day index (0 = the first day). */
export const FAULT_SCHEDULE = Object.freeze({
  /** From the first day on, after onboarding: rates of 5xx, 429 and lost booking answers. */
  rates: Object.freeze({ errorRate: 0.03, rateLimitRate: 0.03, loseBookingResponseRate: 0.01 }),
  earlyTokenExpiryDay: 1,
  lostResponseGaveUpDay: 1,
  duplicateReportEntryDay: 2,
  interestOffDay: 3,
  /** The provider restates this day's report after the partner's first nightly run of it. */
  restatedReportDay: 4,
});

/** Units of the 18th decimal the interest fault adds (the reconciler's tolerance is 1). */
export const INTEREST_OFF_UNITS = 5n;
/** Units the restated report changes an interest entry by. */
export const RESTATE_DELTA_UNITS = 1_000n;
/** How long after the first nightly run the provider publishes the restatement (sandbox clock). */
export const RESTATEMENT_DELAY_MS = 60_000;

/** Makes the empty fault records. */
export function newFaultRecords(): Map<FaultKind, FaultRecord> {
  return new Map(FAULT_KINDS.map((kind) => [kind, { kind, day: null, entity: null, injected: 0, caughtBy: null }]));
}

/**
 * Injects the faults scheduled before the day's activity (`phase: 'day'`) or before its midnight
 * (`phase: 'night'`).
 */
export function injectFaults(input: { readonly sandbox: Sandbox; readonly records: Map<FaultKind, FaultRecord>; readonly dayIndex: number; readonly day: string; readonly phase: 'day' | 'night'; readonly attemptsMax: number }): void {
  const { sandbox, records, dayIndex, day } = input;
  const mark = (kind: FaultKind, entity: string | null) => {
    const record = records.get(kind);
    if (record !== undefined && record.day === null) {
      record.day = day;
      record.entity = entity;
    }
  };
  if (input.phase === 'day') {
    if (dayIndex === 0) {
      sandbox.faults.set(FAULT_SCHEDULE.rates);
      mark('server_errors', null);
      mark('rate_limits', null);
      mark('lost_response_recovered', null);
    }
    if (dayIndex === FAULT_SCHEDULE.earlyTokenExpiryDay) {
      sandbox.faults.expireTokensEarly();
      mark('early_token_expiry', null);
    }
    if (dayIndex === FAULT_SCHEDULE.lostResponseGaveUpDay) {
      // Every attempt of the call loses its answer: the client gives up, the provider has the booking.
      sandbox.faults.loseNextBookingResponse({ responsesLost: input.attemptsMax, mode: 'bad-gateway', entity: 'defi' });
      mark('lost_response_gave_up', 'defi');
    }
    return;
  }
  if (dayIndex === FAULT_SCHEDULE.duplicateReportEntryDay) {
    sandbox.faults.duplicateReportEntry({ entity: 'lending' });
    mark('duplicate_report_entry', 'lending');
  }
  if (dayIndex === FAULT_SCHEDULE.interestOffDay) {
    sandbox.faults.interestOffByUnits({ units: INTEREST_OFF_UNITS, entity: 'defi' });
    mark('interest_off_by_units', 'defi');
  }
}

/**
 * After the partner's first nightly run of the day: on the scheduled day the provider restates
 * the day's `lending` report (a new version, published now, an interest entry changed). Answers
 * whether it did, so that the job runs again and takes the restatement as version 2.
 */
export async function publishScheduledRestatement(input: { readonly sandbox: Sandbox; readonly records: Map<FaultKind, FaultRecord>; readonly dayIndex: number; readonly day: string }): Promise<boolean> {
  if (input.dayIndex !== FAULT_SCHEDULE.restatedReportDay) return false;
  await input.sandbox.clock.advanceBy(RESTATEMENT_DELAY_MS);
  await input.sandbox.publishRestatement({ entity: 'lending', accountingDay: input.day, deltaUnits: RESTATE_DELTA_UNITS });
  const record = input.records.get('restated_report');
  if (record !== undefined && record.day === null) {
    record.day = input.day;
    record.entity = 'lending';
  }
  return true;
}
