/** Exit codes of every command. */

/** The command succeeded; for `reconcile`, the day is clean (no open break). */
export const EXIT_CLEAN = 0;
/** `reconcile` ran and found open breaks (the books and the report differ); `verify` found the books inconsistent. */
export const EXIT_BREAKS = 1;
/** The command failed: bad flags or configuration, no report, a database or API failure. */
export const EXIT_ERROR = 2;

/** One of the exit codes. */
export type ExitCode = typeof EXIT_CLEAN | typeof EXIT_BREAKS | typeof EXIT_ERROR;
