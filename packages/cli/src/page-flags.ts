/**
 * `--limit` and `--after-id` of the listing commands (`breaks list`, `settlements list`): the
 * flags, the page they ask for, and the listing run with its page errors named by flag.
 */
import type { Command } from 'commander';
import { parseId } from './commands/breaks-command.js';
import { withFlagErrors } from './flag-errors.js';

/** The page flags as commander parses them. */
export interface PageFlags {
  readonly limit?: number;
  readonly afterId?: number;
}

/** Adds `--limit <n>` (1 to `pageSizeMax`) and `--after-id <idName>` to a listing of `items`. */
export function addPageOptions(command: Command, listing: { items: string; idName: string; pageSizeMax: number; order: string }): Command {
  return command
    .option('--limit <n>', `at most this many ${listing.items} (1 to ${listing.pageSizeMax}; default: every one)`, parseId)
    .option(`--after-id <${listing.idName}>`, `start after this id, in the listing's order (${listing.order}): the last id of the page before`, parseId);
}

/** Runs `list` with the page the flags ask for (none left out), its `limit` and `afterId` errors naming the flags. */
export async function listPage<T>(flags: PageFlags, list: (page: { limit?: number; afterId?: number }) => Promise<T>): Promise<T> {
  const page = { ...(flags.limit === undefined ? {} : { limit: flags.limit }), ...(flags.afterId === undefined ? {} : { afterId: flags.afterId }) };
  return withFlagErrors({ limit: '--limit', afterId: '--after-id' }, () => list(page));
}
