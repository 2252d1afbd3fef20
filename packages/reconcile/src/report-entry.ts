/**
 * Checks of one report entry and of the report's header, run on every entry as it arrives and
 * before anything is written: the contract's schema (compiled ajv), then what the books need —
 * text that is well-formed and free of control characters (PostgreSQL refuses NUL; a lone
 * surrogate cannot be stored), currencies the ledger accepts, instants the calendar reads, one
 * balance row per currency.
 */
import { CONTRACT_IDEMPOTENCY_KEY_LENGTH_MAX, EarnApiError, validateContract } from '@earnbook/earn-client/contract';
import type { DailyReport } from '@earnbook/earn-client/contract';
import { KEY_LENGTH_MAX, LedgerError, accountingDayOf, parseCurrency, parseInstant } from '@earnbook/ledger';
import { ReconcileError } from './errors.js';
import { readFailure } from './input-guards.js';

/** One report entry, as the report gives it. */
export type ReportEntry = DailyReport['transactions'][number];

/** The report without its entries: what is known once the stream has ended. */
export type ReportHeader = Omit<DailyReport, 'transactions'>;

/** Characters a report's text may not hold: C0 controls (NUL included) and DEL. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** Any character either check above looks for: text without one needs neither (the common case, one cheap test). */
// eslint-disable-next-line no-control-regex
const SUSPECT = /[\u0000-\u001f\u007f\uD800-\uDFFF]/;

/**
 * Lengths of the strings the contract leaves unbounded in a report, as the books hold them: an
 * idempotency key as the API takes it (`CONTRACT_IDEMPOTENCY_KEY_LENGTH_MAX`, 255: it was the
 * ledger's id length, 200, until session 45, so a booking made under a longer key the API took
 * refused the whole day's report), an entity as the ledger's ids, an entry type and a zone name
 * as short names.
 */
export const REPORT_TEXT_LENGTHS_MAX: Readonly<Record<'idempotencyKey' | 'entity' | 'type' | 'timeZone', number>> = Object.freeze({
  idempotencyKey: CONTRACT_IDEMPOTENCY_KEY_LENGTH_MAX,
  entity: KEY_LENGTH_MAX,
  type: 64,
  timeZone: 64,
});

function rejected(source: string, path: string, field: string, problem: string, cause?: unknown): ReconcileError {
  return new ReconcileError('invalid_report', `report from ${source} is refused at ${path}: ${problem}`, { field, path, value: source, ...(cause === undefined ? {} : { cause }) });
}

/** The entry ids whose refusal by the contract names the id itself as `value` (not the report's source). */
const ENTRY_ID_FIELDS: ReadonlySet<string> = new Set(['id', 'accountId', 'bookingId']);

/**
 * What a contract failure's `value` holds: the refused id when the failure is an entry's id (the
 * contract refuses a UUID in another spelling: the entry id must be canonical lowercase, and an
 * account or booking id that spells a UUID must spell it so), else the
 * report's source, as for every other contract failure.
 */
export function contractFailureValue(source: string, entry: unknown, field: string | undefined, inner: string): string {
  if (field === undefined || inner !== field || !ENTRY_ID_FIELDS.has(field) || typeof entry !== 'object' || entry === null) return source;
  const id = (entry as Record<string, unknown>)[field];
  return typeof id === 'string' ? id : source;
}

/** Wraps a contract validation failure of `value` (an entry, or the report), prefixing the path of the entry. */
function contractFailure(source: string, prefix: string, cause: unknown, value?: unknown): ReconcileError {
  if (!(cause instanceof EarnApiError)) throw cause;
  const inner = cause.path === undefined || cause.path === '(root)' ? '' : cause.path;
  const path = prefix === '' ? inner || '/' : inner === '' ? prefix : `${prefix}.${inner}`;
  return new ReconcileError('invalid_report', `report from ${source} does not match the contract at ${path}: ${cause.message}`, {
    ...(cause.field === undefined ? {} : { field: cause.field }),
    path,
    value: contractFailureValue(source, value, cause.field, inner),
    cause,
  });
}

/** Refuses a string that is ill-formed UTF-16 or holds a control character. */
function checkText(source: string, path: string, field: string, value: string): void {
  if (LONE_SURROGATE.test(value)) throw rejected(source, path, field, 'the text is not well-formed (a lone surrogate)');
  if (CONTROL.test(value)) throw rejected(source, path, field, 'the text holds a control character');
}

/** Refuses a string the contract leaves unbounded when it is longer than the books hold. */
function checkLength(source: string, path: string, field: keyof typeof REPORT_TEXT_LENGTHS_MAX, value: unknown): void {
  const max = REPORT_TEXT_LENGTHS_MAX[field];
  if (typeof value === 'string' && value.length > max) throw rejected(source, path, field, `${field} has ${value.length} characters, more than ${max}`);
}

/** Checks every string of a JSON value, however deep; the path of a string is built only when it is suspect. */
function checkTexts(source: string, path: string, value: unknown): void {
  if (typeof value === 'string') {
    if (SUSPECT.test(value)) checkText(source, path, path.slice(path.lastIndexOf('.') + 1), value);
  } else if (Array.isArray(value)) {
    value.forEach((item, index) => checkTexts(source, `${path}[${index}]`, item));
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      if (SUSPECT.test(key)) checkText(source, `${path}.${key}`, key, key);
      if (typeof item === 'string' && !SUSPECT.test(item)) continue;
      checkTexts(source, `${path}.${key}`, item);
    }
  }
}

/**
 * Validates one entry at `index`: the contract's `ReportTransaction`, text, currency and
 * `createdAt`. Returns it typed; throws `invalid_report` naming `transactions[index].field`, or
 * `invalid_input` naming the part of the value that cannot be read (a revoked proxy, a getter
 * that throws).
 */
export function checkReportEntry(value: unknown, index: number, source: string): ReportEntry {
  try {
    return checkEntry(value, index, source, { textsWellFormed: false });
  } catch (failure) {
    throw readFailure(failure, value, { field: `transactions[${index}]`, nested: true });
  }
}

/**
 * {@link checkReportEntry}, skipping the text check when the caller knows every string of the
 * value is well-formed and free of control characters: it was parsed from valid UTF-8 JSON text
 * that holds no backslash (so no escape made a control character or a lone surrogate; raw
 * control characters are not JSON) and no DEL.
 */
export function checkEntry(value: unknown, index: number, source: string, options: { textsWellFormed: boolean }): ReportEntry {
  const prefix = `transactions[${index}]`;
  let entry: ReportEntry;
  try {
    // The contract skips its own well-formed check for a value parsed from text with no `\u`
    // escape; text with no backslash at all has none, and the empty text stands for it.
    entry = validateContract('ReportTransaction', value, { operation: 'daily report', ...(options.textsWellFormed ? { sourceText: '' } : {}) });
  } catch (cause) {
    throw contractFailure(source, prefix, cause, value);
  }
  checkLength(source, `${prefix}.type`, 'type', entry.type);
  checkLength(source, `${prefix}.idempotencyKey`, 'idempotencyKey', entry.idempotencyKey);
  if (!options.textsWellFormed) checkTexts(source, prefix, entry);
  try {
    parseCurrency(entry.currency, `${prefix}.currency`);
    parseInstant(entry.createdAt, `${prefix}.createdAt`);
  } catch (cause) {
    if (!(cause instanceof LedgerError)) throw cause;
    throw rejected(source, cause.field ?? prefix, (cause.field ?? '').slice(prefix.length + 1), cause.message, cause);
  }
  return entry;
}

/**
 * Validates the header (the report with no entries): the contract's `DailyReport`, text, the
 * currencies of `balances` and that each appears once (two rows would leave one unread). A part
 * of the value that cannot be read (a revoked proxy, a getter that throws) is `invalid_input`
 * naming it (`report.balances`).
 */
export function checkReportHeader(value: unknown, source: string): ReportHeader {
  return checkHeaderOf(value, source, 'report');
}

/** {@link checkReportHeader} of a report named `field` (`report.report` for a hand-made `LoadedReport`). */
export function checkHeaderOf(value: unknown, source: string, field: string): ReportHeader {
  try {
    return checkHeader(value, source);
  } catch (failure) {
    throw readFailure(failure, value, { field, nested: true });
  }
}

function checkHeader(value: unknown, source: string): ReportHeader {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw rejected(source, '/', 'report', 'the report is not a JSON object');
  let report: DailyReport;
  try {
    report = validateContract('DailyReport', { ...value, transactions: [] }, { operation: 'daily report' });
  } catch (cause) {
    throw contractFailure(source, '', cause);
  }
  const { transactions: _none, ...header } = report;
  checkLength(source, 'entity', 'entity', header.entity);
  checkLength(source, 'timeZone', 'timeZone', header.timeZone);
  checkTexts(source, 'report', header);
  // The report id becomes a key in the books: refused there with surrounding white space.
  if (header.id.trim() !== header.id) throw rejected(source, 'id', 'id', `the report id ${JSON.stringify(header.id)} has surrounding white space`);
  const currencies = new Set<string>();
  header.balances.forEach((balance, index) => {
    const path = `balances[${index}].currency`;
    try {
      parseCurrency(balance.currency, path);
    } catch (cause) {
      throw rejected(source, path, 'currency', (cause as Error).message, cause);
    }
    if (currencies.has(balance.currency)) throw rejected(source, path, 'currency', `${balance.currency} has a second balance row (one per currency)`);
    currencies.add(balance.currency);
  });
  return header;
}

/**
 * Checks the text of a top-level field the contract does not name (it tolerates unknown fields),
 * as {@link checkReportHeader} checks every field of a report held in memory; the streaming
 * reader checks each such field as it passes and keeps none of them.
 */
export function checkUnknownHeaderField(source: string, key: string, value: unknown): void {
  checkTexts(source, 'report', { [key]: value });
}

/** The accounting day of an entry's `createdAt` in the entity's zone. */
export function createdDay(entry: ReportEntry, timeZone: string): string {
  return accountingDayOf(parseInstant(entry.createdAt, 'createdAt'), timeZone);
}
