/** Starts a sandbox and the real client against it, and checks the sandbox after each test. */
import { expect } from 'vitest';
import { EarnClient, EarnFacade } from '@earnbook/earn-client';
import type { EntityConfigInput } from '@earnbook/earn-client';
import { startSandbox } from '../../src/index.js';
import type { Sandbox, SandboxOptions } from '../../src/index.js';

/** Fast retry settings so that fault tests stay quick. */
export const FAST_RETRIES: Partial<EntityConfigInput> = Object.freeze({
  timeoutMs: 5_000,
  attemptsMax: 8,
  retryTotalMsMax: 20_000,
  retryDelayMsInitial: 2,
  retryDelayMsMax: 20,
});

/** A running sandbox with a facade over both entities. */
export interface Harness {
  readonly sandbox: Sandbox;
  readonly earn: EarnFacade;
  client(entity: string, overrides?: Partial<EntityConfigInput>): EarnClient;
  /** Asserts the sandbox answered within the contract and its books hold, then closes it. */
  finish(): Promise<void>;
}

/** Starts a sandbox (in-memory books) and a facade with {@link FAST_RETRIES}. */
export async function startHarness(options: SandboxOptions = {}, clientOverrides: Partial<EntityConfigInput> = {}): Promise<Harness> {
  const sandbox = await startSandbox(options);
  const overrides = { ...FAST_RETRIES, ...clientOverrides };
  const entities = Object.fromEntries(sandbox.config.entities.map((entity) => [entity.id, sandbox.clientConfig(entity.id, overrides)]));
  const earn = new EarnFacade({ entities });
  return {
    sandbox,
    earn,
    client: (entity, more = {}) => new EarnClient(sandbox.clientConfig(entity, { ...overrides, ...more })),
    async finish() {
      try {
        expect(sandbox.contractViolations).toEqual([]);
        expect(sandbox.internalErrors).toEqual([]);
        await sandbox.books.verify();
      } finally {
        await sandbox.close();
      }
    },
  };
}

/** Collects an async iterable. */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}
