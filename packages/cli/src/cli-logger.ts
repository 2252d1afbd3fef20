/**
 * The CLI's log: structured lines on stderr, as JSON (`--log-format json`, one object per line,
 * pino's field names `time`, `level`, `msg`) or as text (`--log-format text`). Off unless a format
 * is given; `--quiet` keeps only errors. The logger is handed to the ledger, the reconciler and
 * the Earn client, whose log fields hold no secret; as a second guard any field whose name says
 * secret, token, password or authorization is written as `***`. Messages and fields quote the
 * provider's text (a report id), so every line is made a {@link singleLine}: in JSON the escapes
 * are JSON's own, and the values stay the same.
 */
import type { CliIo } from './cli-io.js';
import { CliError } from './cli-error.js';
import { singleLine } from './terminal-text.js';

/** What `--log-format` can name. */
export const LOG_FORMATS = ['json', 'text'] as const;
/** What `--log-level` can name, from the most to the least verbose. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** A `--log-format`. */
export type LogFormat = (typeof LOG_FORMATS)[number];
/** A `--log-level`. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The logger shape the ledger, the reconciler and the Earn client take (pino-compatible). */
export interface CliLogger {
  readonly info: (fields: Record<string, unknown>, message: string) => void;
  readonly warn: (fields: Record<string, unknown>, message: string) => void;
  readonly error: (fields: Record<string, unknown>, message: string) => void;
  readonly debug: (fields: Record<string, unknown>, message: string) => void;
}

const SECRET_FIELD = /secret|token|password|authorization|cookie/i;

function guard(value: unknown, depth: number): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return typeof value === 'bigint' ? value.toString() : value;
  if (Array.isArray(value)) return value.map((item) => guard(item, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, SECRET_FIELD.test(key) ? '***' : guard(item, depth + 1)]));
}

function textValue(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return /[\s"=]/.test(text ?? '') ? JSON.stringify(text) : (text ?? '');
}

/**
 * The logger of a command run: silent without a format; else lines of `level` and above on
 * stderr (only errors with `quiet`).
 */
export function cliLogger(io: CliIo, options: { format: LogFormat | undefined; level?: LogLevel | undefined; quiet?: boolean | undefined }): CliLogger {
  const threshold = LOG_LEVELS.indexOf(options.quiet === true ? 'error' : (options.level ?? 'info'));
  if (threshold < 0) throw new CliError('invalid_flag', `--log-level must be one of ${LOG_LEVELS.join(', ')}`, { field: '--log-level', value: String(options.level) });
  const now = io.now ?? (() => new Date());
  const method = (level: LogLevel) => (fields: Record<string, unknown>, message: string) => {
    if (options.format === undefined || LOG_LEVELS.indexOf(level) < threshold) return;
    const safe = guard(fields, 0) as Record<string, unknown>;
    const time = now().toISOString();
    if (options.format === 'json') {
      // JSON.stringify escapes C0 controls only; the other unsafe characters can only be inside strings, where `\uXXXX` is the same value.
      io.stderr.write(`${singleLine(JSON.stringify({ time, level, ...safe, msg: message }))}\n`);
    } else {
      const rest = Object.entries(safe).map(([key, value]) => `${key}=${textValue(value)}`);
      io.stderr.write(`${singleLine(`${time} ${level.toUpperCase().padEnd(5)} ${message}${rest.length === 0 ? '' : ` ${rest.join(' ')}`}`)}\n`);
    }
  };
  return Object.freeze({ debug: method('debug'), info: method('info'), warn: method('warn'), error: method('error') });
}
