/**
 * Connection strings for messages. A `postgres://` URL may carry its password in the user-info
 * part (`postgres://user:secret@host/db`) or as a query parameter (`?password=secret`, libpq and
 * `pg` honour both); neither is ever printed, even when the password was not percent-encoded and
 * holds characters that end the user-info part for a URL parser (`#`, `/`, `?`, `@`).
 */

/** What names a secret query parameter (`password`, `sslpassword`, `…secret…`, `…token…`). */
const SECRET_NAME = 'pass|secret|token';

/** Query parameters whose value is a secret. */
const SECRET_PARAMETER = new RegExp(SECRET_NAME, 'i');

/** The first `scheme://` of a text: what the user-info masking starts after. */
const SCHEME_AUTHORITY = /[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/** Password-like query parameters in text: the value runs to the next `&` or `;` (a `#` too). */
const SECRET_PARAMETER_TEXT = new RegExp(`([?&;][^=&;#]*(?:${SECRET_NAME})[^=&;#]*=)[^&;]*`, 'gi');

/** What replaces every secret. */
const MASK = '***';

/**
 * Returns `value` with every password of a connection URL replaced by `***`: the user-info
 * password and each query parameter whose name holds `pass`, `secret` or `token`. A value that is
 * not a URL (a SQLite file path, an error message) is returned as it is, after the same
 * replacements on its text.
 *
 * The user-info part is masked on the text, before any URL parsing: from the first `:` after
 * `scheme://` to the last `@` of the URL (see {@link maskUserInfo}), so that an unencoded
 * password (`postgres://u:12#34@h/db`, which a URL parser reads as host `u`, port `12` and a
 * fragment) is hidden too. When the user name itself holds an `@`, `/`, `?` or `#`, the whole
 * user-info part is masked. Both rules may hide more than the password (an `@` in a query
 * parameter, say), never less.
 *
 * @example
 * ```ts
 * redactConnectionString('postgres://books:hunter2@db/earn?password=hunter2&schema=s');
 * // 'postgres://books:***@db/earn?password=***&schema=s'
 * ```
 */
export function redactConnectionString(value: string): string {
  const text = redactText(value);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return text;
  }
  if (url.protocol === 'file:' || url.host === '') return text;
  if (url.password !== '') url.password = MASK;
  // Names may be percent-encoded (`p%61ssword`): the parsed names catch what the text rule missed.
  for (const name of new Set(url.searchParams.keys())) {
    if (SECRET_PARAMETER.test(name)) url.searchParams.set(name, MASK);
  }
  return url.toString();
}

/** The replacements on text, URL or not: the user-info password, then password-like parameters. */
function redactText(value: string): string {
  return maskUserInfo(value).replace(SECRET_PARAMETER_TEXT, `$1${MASK}`);
}

/**
 * Masks the user-info password after the first `scheme://` (not `file://`, whose paths are not
 * credentials): everything between the first `:` after `//` and the last `@` of the URL's text
 * (up to the first whitespace, when an `@` comes before it). An unencoded password may hold `/`, `?` and `#`, so an `@` in a
 * query value (`?application_name=ops@team`) cannot be told from a password's end: the host, port
 * and path before it are hidden too. Deliberately: a message may show less, never a secret.
 */
function maskUserInfo(value: string): string {
  const scheme = SCHEME_AUTHORITY.exec(value);
  if (scheme === null || scheme[0].toLowerCase() === 'file://') return value;
  const authorityAt = scheme.index + scheme[0].length;
  // An `@` after the URL's text (an e-mail address later in a message) is not its user-info's
  // end: the search stops at the first whitespace when an `@` comes before it. Without one there,
  // the password itself may hold a space (URL parsers encode it), and the whole text is searched.
  const space = value.slice(authorityAt).search(/\s/);
  const firstAt = value.indexOf('@', authorityAt);
  const urlEnd = space !== -1 && firstAt !== -1 && firstAt < authorityAt + space ? authorityAt + space : value.length;
  const userInfoEnd = value.lastIndexOf('@', urlEnd - 1);
  if (userInfoEnd < authorityAt) return value;
  const colonAt = value.indexOf(':', authorityAt);
  const userEnd = colonAt === -1 || colonAt > userInfoEnd ? userInfoEnd : colonAt;
  const user = value.slice(authorityAt, userEnd);
  // A user name holding what ends a user-info part means the split above guessed wrong: hide all.
  if (/[@/?#]/.test(user)) return `${value.slice(0, authorityAt)}${MASK}${value.slice(userInfoEnd)}`;
  if (userEnd === userInfoEnd) return value;
  return `${value.slice(0, colonAt + 1)}${MASK}${value.slice(userInfoEnd)}`;
}
