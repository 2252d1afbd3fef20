/**
 * Connection strings for messages. A `postgres://` URL may carry its password in the user-info
 * part (`postgres://user:secret@host/db`) or as a query parameter (`?password=secret`, libpq and
 * `pg` honour both); neither is ever printed.
 */

/** Query parameters whose value is a secret (`password`, `sslpassword`, `…secret…`, `…token…`). */
const SECRET_PARAMETER = /pass|secret|token/i;

/**
 * Returns `value` with every password of a connection URL replaced by `***`: the user-info
 * password and each query parameter whose name holds `pass`, `secret` or `token`. A value that is
 * not a URL (a SQLite file path) is returned as it is, after the same replacements on its text.
 *
 * @example
 * ```ts
 * redactConnectionString('postgres://books:hunter2@db/earn?password=hunter2&schema=s');
 * // 'postgres://books:***@db/earn?password=***&schema=s'
 * ```
 */
export function redactConnectionString(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return redactText(value);
  }
  if (url.protocol === 'file:' || url.host === '') return redactText(value);
  if (url.password !== '') url.password = '***';
  for (const name of new Set(url.searchParams.keys())) {
    if (SECRET_PARAMETER.test(name)) url.searchParams.set(name, '***');
  }
  return url.toString();
}

/** The same replacements on text that does not parse as a URL. */
function redactText(value: string): string {
  return value.replace(/(\/\/[^/@:?#]*:)[^/@?#]*@/g, '$1***@').replace(/([?&;][^=&;#]*(?:pass|secret|token)[^=&;#]*=)[^&;#]*/gi, '$1***');
}
