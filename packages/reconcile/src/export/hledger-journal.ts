/**
 * The journal as a plain-text accounting journal that hledger and ledger-cli read unchanged, so
 * that an auditor can recompute every balance with an independent tool
 * (`hledger -f journal.hledger bal`, `ledger -f journal.hledger bal`).
 */
import { assertInvariant, formatUnits, isAccountKind } from '@earnbook/ledger';
import type { AccountKind, LedgerDatabase } from '@earnbook/ledger';
import type { Kysely } from 'kysely';
import { canonicalAmount, canonicalUnits } from './csv-cells.js';
import { openTextSink } from './csv-sink.js';
import type { ExportOutput, TextSink } from './csv-sink.js';
import { asError, exportFailure } from './export-failure.js';
import { checkTemporaryDirectory } from './export-folders.js';
import { assertEntityExists, checkOutput, checkDayRange, checkFlag, checkPageSize, checkScope, ledgerView } from './export-options.js';
import type { CheckedScope, ExportDayRange, ExportPaging, ExportScope, LedgerReader } from './export-options.js';
import { selectAccountNamesByIdPage, selectCurrencies, selectEntityIds, selectEntriesOfTransactions, selectEntryCounts, selectTransactionsPage } from './export-queries.js';
import type { TransactionKey } from './export-queries.js';
import { ExternalSorter } from '../external-sort.js';
import { interestDayOf } from './journal-csv.js';
import { DebitCreditAccumulator } from './export-result.js';
import type { DebitCreditTotals, ExportResult } from './export-result.js';

/** Transactions read per page, whatever `pageSize` says. */
export const HLEDGER_TRANSACTIONS_PER_PAGE_MAX = 1_000;

/**
 * Entries read per page: a page of transactions is cut before its entries pass this bound (a
 * compound transaction of the accounting cycle or the report sync holds up to 1,001 entries, so
 * a page of 1,000 of them would be a million rows). One transaction is always taken whole.
 */
export const HLEDGER_ENTRIES_PER_PAGE_MAX = 10_000;

/** Options of {@link exportHledgerJournal}. */
export type HledgerJournalOptions = ExportScope &
  ExportDayRange &
  ExportPaging &
  ExportOutput & {
    readonly db: LedgerReader;
    /** Called after each page with the transactions written so far (for a progress display). */
    readonly onRows?: (rows: number) => void;
    /**
     * An existing folder where the external sort of account names spills its runs (removed when
     * the export ends, whether it succeeded or failed); default the system's temporary folder.
     */
    readonly temporaryDirectory?: string;
  };

/** The result of {@link exportHledgerJournal}: `rows` counts transactions. */
export interface HledgerJournalResult extends ExportResult<DebitCreditTotals> {
  /** Posting lines written (one per journal entry). */
  readonly postings: number;
}

/** Characters left as they are in account names; every other one is percent-encoded (UTF-8). */
const ACCOUNT_NAME_SAFE = /[A-Za-z0-9_.\-/]/;
const TEXT_UNSAFE = /[%;\u0000-\u001f\u007f]/g;
/**
 * Characters a tag value may not hold as they are: those of {@link TEXT_UNSAFE}, and `,` (ends a
 * tag: hledger reads `, date:DAY` after it as a posting date), `[` and `]` (hledger reads `[DAY]`
 * in a posting comment as a posting date) and `:` (starts a tag, and ledger-cli's `:tag:` form).
 */
const TAG_VALUE_UNSAFE = /[%;,[\]:\u0000-\u001f\u007f]/g;

function percentEncode(character: string): string {
  return [...Buffer.from(character, 'utf8')].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join('');
}

/**
 * One component of an account name, percent-encoded outside `[A-Za-z0-9_.-/]` (and `:` too unless
 * `keepColons`), so that no name holds two spaces, a tab, a `;` or brackets, which both tools
 * read as syntax, and two different codes can never meet in one name.
 */
export function hledgerAccountPart(text: string, options: { keepColons: boolean }): string {
  let out = '';
  for (const character of text) out += ACCOUNT_NAME_SAFE.test(character) || (options.keepColons && character === ':') ? character : percentEncode(character);
  return out;
}

/**
 * The account name of a ledger account: `<entity>:<account kind>[:<rest of the code>]`, the kind
 * said once. A system account's code is its kind (`defi:settlement`); a user account's code
 * `user:<Earn account id>` drops its `user:` (`defi:user:acc-1`). Any other code follows the kind
 * after a `=` (`defi:adjustment:=q1-fix`), a character the encoded parts never hold, so two
 * different accounts never share a name. The code keeps its `:` (sub-accounts), entity and
 * kind do not.
 *
 * @example hledgerAccountName({ entity: 'defi', kind: 'user', code: 'user:acc-1' }) // "defi:user:acc-1"
 */
export function hledgerAccountName(account: { entity: string; kind: string; code: string }): string {
  const base = `${hledgerAccountPart(account.entity, { keepColons: false })}:${hledgerAccountPart(account.kind, { keepColons: false })}`;
  if (account.code === account.kind) return base;
  const prefix = `${account.kind}:`;
  const rest = account.code.startsWith(prefix) ? account.code.slice(prefix.length) : '';
  // A rest that would make an empty or ambiguous component (`user:`, `user::x`) takes the `=` form.
  if (rest.length > 0 && !rest.startsWith(':') && !rest.endsWith(':') && !rest.includes('::')) return `${base}:${hledgerAccountPart(rest, { keepColons: true })}`;
  return `${base}:=${hledgerAccountPart(account.code, { keepColons: true })}`;
}

/** hledger's account types: Asset, Liability, Equity, Revenue, eXpense. */
export type HledgerAccountType = 'A' | 'L' | 'E' | 'R' | 'X';

/**
 * The hledger account type of each account kind, so that `hledger bs` (balance sheet) and
 * `hledger is` (income statement) sort the accounts: Earn assets, the outstanding balance with
 * the provider and the treasury are assets; the users' balances (on Earn and outside it) are
 * liabilities, what the partner owes its users; partner margin is revenue; fees are expenses;
 * adjustments agreed with finance are equity.
 */
export const HLEDGER_ACCOUNT_TYPES: Readonly<Record<AccountKind, HledgerAccountType>> = Object.freeze({
  user: 'L',
  earn_assets: 'A',
  customer_funds: 'L',
  settlement: 'A',
  partner_margin_income: 'R',
  fee_expense: 'X',
  treasury: 'A',
  adjustment: 'E',
});

/** The hledger type of an account kind (an unknown kind is a broken invariant of the books). */
export function hledgerAccountType(kind: string): HledgerAccountType {
  assertInvariant(isAccountKind(kind), `account kind ${JSON.stringify(kind)} has no hledger type`);
  return HLEDGER_ACCOUNT_TYPES[kind];
}

/** A currency as a commodity symbol: bare when only letters, else double-quoted (as both tools require). */
export function hledgerCommodity(currency: string): string {
  assertInvariant(/^[A-Za-z0-9]{1,32}$/.test(currency), `currency ${JSON.stringify(currency)} cannot be a commodity symbol`);
  return /^[A-Za-z]+$/.test(currency) ? currency : `"${currency}"`;
}

/** Free text on one line: `%`, `;` and control characters percent-encoded (`;` starts a comment). */
function journalText(text: string): string {
  return text.replace(TEXT_UNSAFE, percentEncode);
}

/**
 * Text from outside the books as a tag value (`; provider_id: <value>`): `%`, `;`, `,`, `[`, `]`,
 * `:` and control characters percent-encoded, so that no value can add a tag, or a posting date,
 * that the books never wrote.
 *
 * @example hledgerTagValue('line-1, date:2031-01-01') // "line-1%2C date%3A2031-01-01"
 */
export function hledgerTagValue(text: string): string {
  return text.replace(TAG_VALUE_UNSAFE, percentEncode);
}

/** What {@link transactionLines} needs of a transaction. */
interface JournalTransaction {
  readonly id: number;
  readonly entity: string;
  readonly accounting_day: string;
  readonly occurred_at: string;
  readonly kind: string;
  readonly provider_id: string | null;
  readonly reverses_transaction_id: number | null;
  readonly description: string | null;
  readonly metadata: string | null;
}

/** What {@link transactionLines} needs of an entry. */
interface JournalEntry {
  readonly entity: string;
  readonly currency: string;
  readonly amount: string;
  readonly account: string;
  readonly account_kind: string;
  /** The entry's own provider id (a line of a compound transaction), else null. */
  readonly provider_id: string | null;
}

/**
 * The lines of one transaction, adding each entry to `totals`. Interest and partner margin
 * keep the day that earned them as the secondary date (`DAY=INTEREST_DAY`) and an
 * `interest_day` tag, the primary date staying the accounting day they were credited.
 */
function transactionLines(transaction: JournalTransaction, entries: readonly JournalEntry[], totals: DebitCreditAccumulator): string[] {
  assertInvariant(entries.length >= 2, `transaction ${transaction.id} has ${entries.length} entries`);
  const interestDay = interestDayOf(transaction);
  let title = `${transaction.accounting_day}${interestDay === '' ? '' : `=${interestDay}`} (${transaction.id}) ${journalText(transaction.kind)}`;
  if (transaction.provider_id !== null) title += ` ${journalText(transaction.provider_id)}`;
  if (transaction.description !== null && transaction.description.length > 0) title += ` - ${journalText(transaction.description)}`;
  // occurred_at is the ledger's canonical instant (`2025-03-19T08:00:00.000Z`): its `:` stay.
  const lines = [title, `    ; occurred_at: ${journalText(transaction.occurred_at)}`, `    ; entity: ${hledgerTagValue(transaction.entity)}`];
  if (interestDay !== '') lines.push(`    ; interest_day: ${interestDay}`);
  if (transaction.provider_id !== null) lines.push(`    ; provider_id: ${hledgerTagValue(transaction.provider_id)}`);
  if (transaction.reverses_transaction_id !== null) lines.push(`    ; reverses_transaction_id: ${transaction.reverses_transaction_id}`);
  const balance = new Map<string, bigint>();
  for (const entry of entries) {
    const amount = canonicalAmount(entry.amount, 'amount');
    const units = canonicalUnits(amount);
    balance.set(entry.currency, (balance.get(entry.currency) ?? 0n) + units);
    totals.addSigned(entry.entity, entry.currency, units);
    lines.push(`    ${hledgerAccountName({ entity: entry.entity, kind: entry.account_kind, code: entry.account })}  ${amount} ${hledgerCommodity(entry.currency)}`);
    // An indented comment line after a posting is that posting's comment (its tag) in both tools.
    if (entry.provider_id !== null) lines.push(`      ; provider_id: ${hledgerTagValue(entry.provider_id)}`);
  }
  for (const [currency, sum] of balance) assertInvariant(sum === 0n, `transaction ${transaction.id} does not balance in ${currency}: ${formatUnits(sum)}`);
  lines.push('');
  return lines;
}

/**
 * Asserts that a transaction comes after the previous one in (accounting day, id) byte order. The
 * database reads the days in its own collation (through the index); every collation orders
 * canonical `YYYY-MM-DD` days as bytes, and this proves it for each row rather than assuming it:
 * a database that disagreed would fail the export instead of writing a different file.
 */
function assertAfter(previous: TransactionKey | undefined, transaction: { readonly accounting_day: string; readonly id: number }): void {
  if (previous === undefined) return;
  const day = transaction.accounting_day;
  assertInvariant(
    /^\d{4}-\d{2}-\d{2}$/.test(day) && (day > previous.accounting_day || (day === previous.accounting_day && transaction.id > previous.id)),
    `transaction ${transaction.id} (${JSON.stringify(day)}) was read after transaction ${previous.id} (${previous.accounting_day}): not in byte order`,
  );
}

/** The first transactions of a page whose entries stay within {@link HLEDGER_ENTRIES_PER_PAGE_MAX} (at least one). */
async function withinEntryBound<T extends { readonly id: number }>(db: Kysely<LedgerDatabase>, page: readonly T[]): Promise<readonly T[]> {
  const counts = await selectEntryCounts(db, page.map((transaction) => transaction.id));
  let entries = 0;
  for (const [index, transaction] of page.entries()) {
    entries += counts.get(transaction.id) ?? 0;
    if (entries > HLEDGER_ENTRIES_PER_PAGE_MAX && index > 0) return page.slice(0, index);
  }
  return page;
}

/**
 * The metadata tags the journal writes, declared with `tag` directives so that
 * `ledger --pedantic` (which refuses an undeclared tag) reads the file; hledger accepts the
 * directive too.
 */
const JOURNAL_TAGS: readonly string[] = Object.freeze(['occurred_at', 'entity', 'interest_day', 'provider_id', 'reverses_transaction_id']);

/** An account's (entity, kind, code), as the external sort of {@link writeAccountDeclarations} stores it. */
type AccountNameParts = readonly [entity: string, kind: string, code: string];

/**
 * The sort key of an account's name parts: joined by NUL, which none of them holds (the ledger
 * refuses it in text, and PostgreSQL cannot store it), and which sorts before every other
 * character, so that the keys' code point order is the parts' byte order, part by part.
 */
function accountNameSortKey(parts: AccountNameParts): string {
  return `${parts[0]}\u0000${parts[1]}\u0000${parts[2]}`;
}

/** An `account` directive with its type tag on the next, indented line. */
function accountDirective(name: string, type: HledgerAccountType): string {
  // Not `account NAME  ; type: T` on one line: ledger-cli does not count that as declaring NAME,
  // and `ledger --pedantic` then refuses every posting to it. hledger reads the tag either way.
  return `account ${name}\n    ; type: ${type}`;
}

/**
 * Writes an `account` directive with its `type:` tag for every account of the scope, the
 * (entity, kind) parent first, so that `hledger bs` / `hledger is` classify them and
 * `hledger check accounts` (strict mode) and `ledger --pedantic` find every posted account
 * declared.
 */
async function writeAccountDeclarations(db: Kysely<LedgerDatabase>, input: { scope: CheckedScope; pageSize: number; sink: TextSink; temporaryDirectory: string | undefined }): Promise<number> {
  // The names in (entity, kind, code) byte order, through an external sort: bounded memory
  // whatever the number of accounts (see selectAccountNamesByIdPage for why not the database's).
  const sorter = new ExternalSorter<AccountNameParts>({ key: accountNameSortKey, directoryField: 'temporaryDirectory', ...(input.temporaryDirectory === undefined ? {} : { directory: input.temporaryDirectory }) });
  try {
    let afterId = 0;
    for (;;) {
      const page = await selectAccountNamesByIdPage(db, { scope: input.scope, afterId, pageSize: input.pageSize });
      await sorter.addAll(page.map((account): AccountNameParts => [account.entity, account.kind, account.code]));
      const last = page[page.length - 1];
      if (page.length < input.pageSize || last === undefined) break;
      afterId = last.id;
    }
    let parent = '';
    let previous: string | undefined;
    let declared = 0;
    for await (const batch of sorter.sortedBatches()) {
      const lines: string[] = [];
      for (const parts of batch) {
        // An account exists once per currency; its name in a plain-text journal does not carry it.
        const key = accountNameSortKey(parts);
        if (key === previous) continue;
        previous = key;
        const [entity, kind, code] = parts;
        const type = hledgerAccountType(kind);
        const group = hledgerAccountName({ entity, kind, code: kind });
        if (group !== parent) {
          lines.push(accountDirective(group, type));
          parent = group;
          declared += 1;
        }
        const name = hledgerAccountName({ entity, kind, code });
        if (name !== group) {
          lines.push(accountDirective(name, type));
          declared += 1;
        }
      }
      if (lines.length > 0 && !input.sink.write(`${lines.join('\n')}\n`)) await input.sink.drain();
    }
    if (declared > 0 && !input.sink.write('\n')) await input.sink.drain();
    return declared;
  } finally {
    await sorter.close();
  }
}

/**
 * Streams the journal transactions of the scope in the day range as an hledger / ledger-cli
 * journal:
 *
 * - a comment header with the parameters, and a `commodity` directive with an 18-decimal
 *   `format` per currency of the scope's accounts (both tools then print full precision), and a
 *   `tag` directive per metadata tag below;
 * - an `account` directive with its type (`A`, `L`, `E`, `R`, `X`: {@link HLEDGER_ACCOUNT_TYPES})
 *   as a `; type: T` tag on the next line, for every account of the scope in (entity, kind,
 *   code) order, so `hledger bs` and `hledger is` show a balance sheet and an income statement,
 *   and the file passes `hledger check --strict` and `ledger --pedantic`;
 * - per transaction, in (entity, accounting day, id) order: `DAY[=INTEREST_DAY] (ID) KIND [PROVIDER ID] [- DESCRIPTION]`,
 *   the date being the accounting day (for interest and margin, the day credited, with the day
 *   that earned it as the secondary date); comment tags `occurred_at`, `entity` and, when there
 *   is one, `interest_day`, `provider_id` and `reverses_transaction_id`; then one posting per
 *   entry, `    <account name>  <amount> <commodity>`, debits positive and credits negative, so
 *   that each transaction sums to zero per commodity (checked before writing); a line of a
 *   compound transaction (interest booked by the accounting cycle or the report sync) carries
 *   its own provider id as a posting tag on the next line, `      ; provider_id: <id>`.
 *
 * Text is ordered in UTF-8 byte order (entity ids, kinds, codes, currencies) on every dialect and
 * whatever the database's collation, so SQLite and PostgreSQL books give byte-identical files.
 *
 * No balance assertions are written: the ledger accepts back-dated postings, and the tools check
 * assertions in date order. Compare the tools' balances with `balances.csv` instead.
 *
 * @example
 * await exportHledgerJournal({ db: ledger.db, entity: 'defi', fromDay: '2025-03-01', toDay: '2025-03-31', output: createWriteStream('journal.hledger') });
 */
export async function exportHledgerJournal(options: HledgerJournalOptions): Promise<HledgerJournalResult> {
  const scope = checkScope(options);
  const range = checkDayRange(options);
  const pageSize = Math.min(checkPageSize(options.pageSize), HLEDGER_TRANSACTIONS_PER_PAGE_MAX);
  const endOutput = checkFlag(options.endOutput, 'endOutput', true);
  checkOutput(options.output);
  const temporaryDirectory = await checkTemporaryDirectory(options.temporaryDirectory);
  const db = ledgerView(options.db);
  await assertEntityExists(db, scope);
  const sink = openTextSink({ output: options.output, endOutput });
  const totals = new DebitCreditAccumulator();
  let rows = 0;
  let postings = 0;
  try {
    const currencies = await selectCurrencies(db, scope);
    const header = [
      `; earnbook journal export: ${scope.entity === undefined ? 'all entities' : `entity ${journalText(scope.entity)}`}, accounting days ${range.fromDay} to ${range.toDay}`,
      '; Dates are accounting days; interest and margin carry the day that earned them as the secondary date (DAY=EARNED).',
      '; Debits are positive, credits negative; each transaction sums to zero per commodity.',
      '; Account names are <entity>:<account kind>[:<code>], other characters than [A-Za-z0-9_.-/:] percent-encoded.',
      '',
      ...currencies.flatMap((currency) => [`commodity ${hledgerCommodity(currency)}`, `    format 1.${'0'.repeat(18)} ${hledgerCommodity(currency)}`, '']),
      ...JOURNAL_TAGS.map((tag) => `tag ${tag}`),
      '',
    ];
    if (!sink.write(`${header.join('\n')}\n`)) await sink.drain();
    await writeAccountDeclarations(db, { scope, pageSize, sink, temporaryDirectory });
    // One entity after the other, in byte order: each one's transactions are read in the order of
    // the (entity, accounting day, id) index (see selectTransactionsPage).
    for (const entity of await selectEntityIds(db, scope)) {
      let after: TransactionKey | undefined;
      for (;;) {
        const page = await selectTransactionsPage(db, { entity, range, after, pageSize });
        const transactions = await withinEntryBound(db, page);
        const entries = await selectEntriesOfTransactions(db, transactions.map((transaction) => transaction.id));
        const byTransaction = new Map<number, typeof entries>();
        for (const entry of entries) {
          const list = byTransaction.get(entry.transaction_id);
          if (list === undefined) byTransaction.set(entry.transaction_id, [entry]);
          else list.push(entry);
        }
        const lines: string[] = [];
        for (const transaction of transactions) {
          assertAfter(after, transaction);
          after = { accounting_day: transaction.accounting_day, id: transaction.id };
          const own = byTransaction.get(transaction.id) ?? [];
          lines.push(...transactionLines(transaction, own, totals));
          rows += 1;
          postings += own.length;
        }
        if (lines.length > 0 && !sink.write(`${lines.join('\n')}\n`)) await sink.drain();
        options.onRows?.(rows);
        if ((page.length < pageSize && transactions.length === page.length) || transactions.length === 0) break;
      }
    }
    const written = await sink.finish();
    totals.assertBalanced('hledger journal export');
    return { ...written, rows, postings, totals: totals.totals() };
  } catch (error) {
    await sink.abort(asError(error));
    throw exportFailure('hledger journal', error);
  }
}
