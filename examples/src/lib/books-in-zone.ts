/**
 * A job's `--zone` against the partner's existing books (the nightly reconciliation, the audit
 * export): the zone a person or a scheduler gives must be the one the books keep their
 * accounting days in. The books are opened with the entities and zones they already keep, which
 * writes nothing; opening them with the entities in another zone would be the ledger's
 * `entity_configuration_changed`, which names no flag, so a wrong `--zone` is refused here as
 * bad input naming `--zone`, its value and the books' zones, before anything is written.
 */
import { CliError } from '@earnbook/cli';
import { assertTimeZone, sameTimeZone } from '@earnbook/ledger';
import { openPartnerBooks } from './partner-books.js';
import type { PartnerBooks } from './partner-books.js';

/** Options of {@link openBooksInZone}. */
export interface BooksInZoneOptions {
  /** The `--database` given: a SQLite file path or a `postgres://` URL (see {@link openPartnerBooks}). */
  readonly database: string;
  /** The `--zone` given: an IANA zone, in any case the runtime accepts (`europe/berlin`). */
  readonly zone: string;
}

/**
 * Refuses a `--zone` that is not an IANA time zone (`CliError` `invalid_flag` naming `--zone`
 * and the value); a job calls it before it opens any database. Answers the zone as given.
 *
 * @example checkZoneFlag('Mars/Olympus') // throws invalid_flag: --zone must be an IANA time zone, got "Mars/Olympus"
 */
export function checkZoneFlag(zone: string): string {
  try {
    assertTimeZone(zone, '--zone');
    return zone;
  } catch (cause) {
    throw new CliError('invalid_flag', `--zone must be an IANA time zone, got ${JSON.stringify(zone)}`, { field: '--zone', value: zone, cause });
  }
}

/**
 * Opens the partner's existing books with the entities and zones they keep, and refuses a `zone`
 * that is not the zone of every one of them: `CliError` `invalid_flag` naming `--zone`, the
 * value and the books' zones (the books are closed again, nothing written). Books that do not
 * exist are `books_not_found`, as with {@link openPartnerBooks} and `ifMissing: 'fail'`.
 *
 * @example
 * const partner = await openBooksInZone({ database: 'books.sqlite', zone: 'Europe/Berlin' });
 */
export async function openBooksInZone(options: BooksInZoneOptions): Promise<PartnerBooks> {
  const zone = checkZoneFlag(options.zone);
  const partner = await openPartnerBooks({ database: options.database, ifMissing: 'fail' });
  const entities = [...partner.ledger.entities.values()];
  const others = entities.filter((entity) => !sameTimeZone(entity.timeZone, zone));
  if (others.length === 0) return partner;
  await partner.close();
  const kept = others.map((entity) => `${entity.id} in ${entity.timeZone}`).join(', ');
  const zones = [...new Set(entities.map((entity) => entity.timeZone))];
  const hint = zones.length === 1 ? `give --zone ${zones[0]}` : `their entities keep ${zones.join(', ')}, which one --zone cannot name`;
  throw new CliError('invalid_flag', `--zone ${zone} is not the zone of these books, which keep ${kept}: ${hint}`, { field: '--zone', value: zone });
}
