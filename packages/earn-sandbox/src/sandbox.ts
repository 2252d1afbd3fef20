/**
 * `startSandbox`: the provider, its books, its clock, its faults and its HTTP server on loopback,
 * started in-process (tests) or by `src/main.ts` (local development).
 */
import type { AddressInfo } from 'node:net';
import type { EntityConfigInput } from '@earnbook/earn-client';
import type { Amount, EarnBooks, Ledger, VerifyReport } from '@earnbook/ledger';
import { SandboxClock } from './clock.js';
import { SandboxError } from './errors.js';
import { FaultController } from './faults.js';
import type { PublishRestatementOptions } from './faults.js';
import { resolveSandboxOptions } from './options.js';
import type { SandboxConfig, SandboxOptions } from './options.js';
import { EarnProvider } from './provider.js';
import type { SandboxBooking } from './provider.js';
import { buildSandboxServer } from './server.js';

/** The OAuth2 client of one entity. */
export interface SandboxCredentials {
  readonly clientId: string;
  readonly clientSecret: string;
}

/** The sandbox's own books, for assertions in tests. */
export interface SandboxBooks {
  /** The ledger holding every entity's books. */
  readonly ledger: Ledger;
  /** The Earn mirror on it that the sandbox keeps as the provider's accounts. */
  readonly earnBooks: EarnBooks;
  /** Every deposit and withdrawal booked for an entity, oldest first. */
  bookings(input: { readonly entity: string }): Promise<readonly SandboxBooking[]>;
  /** An Earn account's balance. */
  accountBalance(input: { readonly entity: string; readonly accountId: string }): Promise<Amount>;
  /** The settlement position of (entity, currency) now, signed like the report's. */
  outstandingBalance(input: { readonly entity: string; readonly currency: string }): Promise<Amount>;
  /** Checks every invariant of the books; throws if one is broken. */
  verify(): Promise<VerifyReport>;
}

/** A running sandbox. */
export interface Sandbox {
  /** The API base URL, e.g. `http://127.0.0.1:51234`. */
  readonly baseUrl: string;
  /** The token endpoint, `<baseUrl>/oauth/token`. */
  readonly tokenUrl: string;
  /** The OAuth2 client of each entity. */
  readonly credentials: Readonly<Record<string, SandboxCredentials>>;
  /** The controllable clock; moving it runs the accounting cycles. */
  readonly clock: SandboxClock;
  /** The fault switches. */
  readonly faults: FaultController;
  /** The sandbox's books. */
  readonly books: SandboxBooks;
  /** The frozen configuration. */
  readonly config: SandboxConfig;
  /** Answers the sandbox refused to send because they broke the contract (should stay empty). */
  readonly contractViolations: readonly string[];
  /** Unexpected errors answered as 500 (should stay empty). */
  readonly internalErrors: readonly unknown[];
  /**
   * An `EarnClient` configuration for an entity, with this sandbox's URLs and credentials.
   *
   * @example new EarnClient(sandbox.clientConfig('defi', { attemptsMax: 8 }))
   */
  clientConfig(entity: string, overrides?: Partial<EntityConfigInput>): EntityConfigInput;
  /**
   * Publishes, now, a restatement of a day whose report is already out (see
   * {@link PublishRestatementOptions}): the next version, a new id, a later `createdAt`.
   *
   * @example await sandbox.publishRestatement({ entity: 'lending', accountingDay: '2025-03-18', deltaUnits: 1000n })
   */
  publishRestatement(options: PublishRestatementOptions): Promise<{ readonly reportId: string; readonly version: number; readonly createdAt: string }>;
  /** Stops the server and closes the books. */
  close(): Promise<void>;
}

/**
 * Starts a sandbox on 127.0.0.1 (port 0 unless `options.port` is given).
 *
 * @example
 * const sandbox = await startSandbox({ settlementThresholds: { lending: { XRP: '1000' } } });
 * const earn = new EarnFacade({ entities: { defi: sandbox.clientConfig('defi'), lending: sandbox.clientConfig('lending') } });
 * // … create users, deposit …
 * await sandbox.clock.advanceDays(1); // interest, margin, settlement and the day's report
 * await sandbox.close();
 */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const config = resolveSandboxOptions(options);
  const faults = new FaultController({ seed: config.seed });
  const provider = await EarnProvider.open({ config, faults });
  const firstEntity = config.entities[0];
  const clock = new SandboxClock({ target: provider, timeZone: firstEntity?.timeZone ?? config.timeZone });
  const contractViolations: string[] = [];
  const internalErrors: unknown[] = [];
  let baseUrl = '';
  const app = buildSandboxServer({
    config,
    provider,
    faults,
    clock,
    baseUrl: () => baseUrl,
    onContractViolation: (message) => contractViolations.push(message),
    onInternalError: (error) => internalErrors.push(error),
  });
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    await provider.close();
    throw new SandboxError('invalid_option', `cannot listen on ${config.host}:${config.port}: ${error instanceof Error ? error.message : String(error)}`, { field: 'port', cause: error });
  }
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  baseUrl = `http://${host}:${address.port}`;
  const tokenUrl = `${baseUrl}/oauth/token`;
  const credentials = Object.freeze(Object.fromEntries(config.entities.map((entity) => [entity.id, Object.freeze({ clientId: entity.clientId, clientSecret: entity.clientSecret })])));
  let closing: Promise<void> | undefined;
  const books: SandboxBooks = Object.freeze({
    ledger: provider.ledger,
    earnBooks: provider.books,
    bookings: (input: { readonly entity: string }) => provider.bookings(input.entity),
    accountBalance: (input: { readonly entity: string; readonly accountId: string }) => provider.accountBalance(input),
    outstandingBalance: (input: { readonly entity: string; readonly currency: string }) => provider.books.outstandingBalance(input),
    verify: () => provider.verify(),
  });
  return Object.freeze({
    baseUrl,
    tokenUrl,
    credentials,
    clock,
    faults,
    books,
    config,
    contractViolations,
    internalErrors,
    publishRestatement: (restatement: PublishRestatementOptions) => provider.publishRestatement(restatement),
    clientConfig(entity: string, overrides: Partial<EntityConfigInput> = {}): EntityConfigInput {
      const credential = credentials[entity];
      if (credential === undefined) throw new SandboxError('invalid_option', `entity must be one of ${Object.keys(credentials).join(', ')}, got ${JSON.stringify(entity)}`, { field: 'entity' });
      return { entityId: entity, baseUrl, tokenUrl, clientId: credential.clientId, clientSecret: credential.clientSecret, ...overrides };
    },
    async close(): Promise<void> {
      closing ??= (async () => {
        await app.close();
        await provider.close();
      })();
      return closing;
    },
  });
}
