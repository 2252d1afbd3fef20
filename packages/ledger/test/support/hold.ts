/**
 * A write transaction held open: what the balance-shard tests need to have another writer find
 * the system accounts' rows taken.
 */
import type { Ledger, PostingScope } from '../../src/index.js';

/**
 * Opens a write transaction that runs `hold` and then stays open; resolves once `hold` has run
 * (rejects if it throws). `release()` lets the transaction commit and waits for it.
 */
export async function holdTransaction(ledger: Ledger, hold: (scope: PostingScope) => Promise<unknown>): Promise<{ release: () => Promise<void> }> {
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let holding: () => void = () => undefined;
  const isHolding = new Promise<void>((resolve) => {
    holding = resolve;
  });
  const holder = ledger.transact(async (scope) => {
    await hold(scope);
    holding();
    await held;
  });
  await Promise.race([isHolding, holder]);
  return {
    release: async () => {
      release();
      await holder;
    },
  };
}
