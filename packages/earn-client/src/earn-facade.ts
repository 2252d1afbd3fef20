import type { EntityConfigInput, EntityId } from './config.js';
import type { Account, Booking, Product, Transaction, User } from './contract/types.js';
import { EarnClient } from './earn-client.js';
import type { BookingInput, CallSignalOptions, IterateInput } from './earn-client.js';
import { EarnApiError } from './errors.js';
import { idempotencyKeyDefect } from './caller-input.js';
import { CONTRACT_IDEMPOTENCY_KEY_LENGTH_MAX } from './contract/openapi.js';
import { textDefect } from './contract/well-formed.js';

/** Options of {@link EarnFacade}. */
export interface EarnFacadeOptions {
  /**
   * One credential set per legal entity, keyed by entity id (by convention `defi` and
   * `lending`). The `entityId` inside each entry may be left out; the key is used.
   */
  readonly entities: Readonly<Record<EntityId, EntityConfigInput>>;
}

/** A product of the union list, with the entity whose credentials serve it. */
export interface EntityProduct {
  /** The entity that owns the product. */
  readonly entityId: EntityId;
  /** The product as the provider described it. */
  readonly product: Product;
}

/** The Earn users of one end user, one per entity. */
export type EndUserEarnUsers = Readonly<Record<EntityId, User>>;

/** Input of {@link EarnFacade.onboardEndUser}. */
export interface OnboardEndUserInput extends CallSignalOptions {
  /**
   * The partner's own stable end-user reference. It is sent as `externalReference` and, unless
   * `idempotencyKeyPrefix` is given, makes the idempotency keys, so that repeating an onboarding
   * that failed half-way returns the users already created instead of creating more.
   */
  readonly endUserReference: string;
  /** Prefix of the per-entity idempotency keys; default `onboard:<endUserReference>`. */
  readonly idempotencyKeyPrefix?: string;
}

/** Input of {@link EarnFacade.openAccount}. */
export interface OpenAccountInput extends CallSignalOptions {
  /** The Earn user ids of the end user, per entity (as {@link EarnFacade.onboardEndUser} returned). */
  readonly earnUserIds: Readonly<Record<EntityId, string>>;
  /** The product to open the account in; it selects the entity. */
  readonly productId: string;
  /** Idempotency key of the account creation. */
  readonly idempotencyKey?: string;
}

/** Input of the facade's account-level calls: the product selects the entity. */
export interface ProductAccountInput {
  /** The product of the account; it selects the entity and its credentials. */
  readonly productId: string;
}

/**
 * Both legal entities behind one object: the union product list, onboarding that creates the two
 * Earn users of an end user, and routing of every account-level call to the credentials of the
 * entity that owns the product.
 *
 * @example
 * ```ts
 * const earn = new EarnFacade({
 *   entities: {
 *     defi: { baseUrl, tokenUrl, clientId: 'partner-defi', clientSecret: secrets.defi },
 *     lending: { baseUrl, tokenUrl, clientId: 'partner-lending', clientSecret: secrets.lending },
 *   },
 * });
 * const products = await earn.listProducts();
 * const users = await earn.onboardEndUser({ endUserReference: 'customer-42' });
 * const { account } = await earn.openAccount({ earnUserIds: { defi: users.defi.id, lending: users.lending.id }, productId });
 * await earn.deposit({ productId, accountId: account.id, amount: '0.5', idempotencyKey: myBookingId });
 * ```
 */
export class EarnFacade {
  /** The configured entity ids, in configuration order. */
  readonly entityIds: readonly EntityId[];
  readonly #clients: ReadonlyMap<EntityId, EarnClient>;
  /** productId → owning entities, from the last union list. */
  #routes = new Map<string, EntityId[]>();

  constructor(options: EarnFacadeOptions) {
    const entries = Object.entries(options.entities ?? {});
    if (entries.length === 0) throw new EarnApiError('invalid_config', 'entities must configure at least one entity', { path: 'entities', field: 'entities' });
    const clients = new Map<EntityId, EarnClient>();
    for (const [entityId, input] of entries) {
      if (input.entityId !== undefined && input.entityId !== entityId) {
        throw new EarnApiError('invalid_config', `entities.${entityId}.entityId must equal its key, got ${JSON.stringify(input.entityId)}`, { path: `entities.${entityId}.entityId`, field: 'entityId' });
      }
      clients.set(entityId, new EarnClient({ ...input, entityId }));
    }
    this.#clients = clients;
    this.entityIds = Object.freeze([...clients.keys()]);
  }

  /** The client of one entity; throws `invalid_input` for an unknown entity id. */
  entity(entityId: EntityId): EarnClient {
    const client = this.#clients.get(entityId);
    if (client === undefined) {
      throw new EarnApiError('invalid_input', `unknown entity ${JSON.stringify(entityId)}; configured: ${this.entityIds.join(', ')}`, { path: 'entityId', field: 'entityId' });
    }
    return client;
  }

  /**
   * The union product list: `GET /v1/products` once per entity, in parallel, each product tagged
   * with its entity. Fails if any entity fails, because a partial list would hide products.
   * Refreshes the product routing table.
   */
  async listProducts(options: CallSignalOptions = {}): Promise<readonly EntityProduct[]> {
    const lists = await Promise.all(
      this.entityIds.map(async (entityId) => {
        const products = await this.entity(entityId).listProducts(options);
        return products.map((product): EntityProduct => ({ entityId, product }));
      }),
    );
    const union = lists.flat();
    const routes = new Map<string, EntityId[]>();
    for (const { entityId, product } of union) {
      const owners = routes.get(product.id) ?? [];
      owners.push(entityId);
      routes.set(product.id, owners);
    }
    this.#routes = routes;
    return union;
  }

  /**
   * The entity that owns `productId`, from the routing table; an unknown product refreshes the
   * union list once. Fails with `invalid_input` when no entity or several entities list it.
   */
  async entityOfProduct(productId: string, options: CallSignalOptions = {}): Promise<EntityId> {
    if (!this.#routes.has(productId)) await this.listProducts(options);
    const owners = this.#routes.get(productId);
    if (owners === undefined) {
      throw new EarnApiError('invalid_input', `productId ${JSON.stringify(productId)} is not offered by any configured entity`, { path: 'productId', field: 'productId' });
    }
    const [owner, ...others] = owners;
    if (owner === undefined || others.length > 0) {
      throw new EarnApiError('invalid_input', `productId ${JSON.stringify(productId)} is listed by several entities (${owners.join(', ')}); call entity(id) directly`, { path: 'productId', field: 'productId' });
    }
    return owner;
  }

  /** The client whose credentials serve `productId`. */
  async clientForProduct(productId: string, options: CallSignalOptions = {}): Promise<EarnClient> {
    return this.entity(await this.entityOfProduct(productId, options));
  }

  /**
   * Creates the Earn users of one end user: one per configured entity, each with that entity's
   * credentials, in parallel. The idempotency keys derive from `endUserReference`, so repeating a
   * half-failed onboarding is safe. Store every returned id with the end user.
   */
  async onboardEndUser(input: OnboardEndUserInput): Promise<EndUserEarnUsers> {
    if (typeof input.endUserReference !== 'string' || input.endUserReference.length === 0 || input.endUserReference.length > 128) {
      throw new EarnApiError('invalid_input', 'endUserReference must be a string of 1 to 128 characters', { path: 'endUserReference', field: 'endUserReference' });
    }
    const prefix = input.idempotencyKeyPrefix ?? `onboard:${input.endUserReference}`;
    this.#checkOnboardingKeys(input, prefix);
    const users = await Promise.all(
      this.entityIds.map(async (entityId) => {
        const user = await this.entity(entityId).createUser({
          externalReference: input.endUserReference,
          idempotencyKey: `${prefix}:${entityId}`,
          ...(input.signal === undefined ? {} : { signal: input.signal }),
        });
        return [entityId, user] as const;
      }),
    );
    return Object.freeze(Object.fromEntries(users));
  }

  /**
   * Refuses, before anything is sent, keys `<prefix>:<entity>` that could not be sent unchanged
   * as a header, naming the field they come from: `idempotencyKeyPrefix` when given, else
   * `endUserReference` (whose text makes the default prefix).
   */
  #checkOnboardingKeys(input: OnboardEndUserInput, prefix: string): void {
    const field = input.idempotencyKeyPrefix === undefined ? 'endUserReference' : 'idempotencyKeyPrefix';
    const value = input.idempotencyKeyPrefix ?? input.endUserReference;
    if (typeof value !== 'string') throw new EarnApiError('invalid_input', `${field} must be a string, got ${typeof value}`, { path: field, field });
    for (const entityId of this.entityIds) {
      const key = `${prefix}:${entityId}`;
      const textual = textDefect(key);
      const reason = textual === undefined ? (key.length > CONTRACT_IDEMPOTENCY_KEY_LENGTH_MAX ? `is longer than ${CONTRACT_IDEMPOTENCY_KEY_LENGTH_MAX} characters` : idempotencyKeyDefect(key)) : `must not hold ${textual}`;
      if (reason === undefined) continue;
      const hint = field === 'endUserReference' ? '; pass an idempotencyKeyPrefix of printable characters from U+0020 to U+00FF' : '';
      throw new EarnApiError('invalid_input', `${field} ${JSON.stringify(value.slice(0, 40))} cannot make the idempotency key ${JSON.stringify(key.slice(0, 60))}: the key ${reason}${hint}`, { path: field, field });
    }
  }

  /** Opens the account of an end user in a product, with the owning entity's user and credentials. */
  async openAccount(input: OpenAccountInput): Promise<{ readonly entityId: EntityId; readonly account: Account }> {
    const entityId = await this.entityOfProduct(input.productId, input);
    const userId = input.earnUserIds[entityId];
    if (userId === undefined) {
      throw new EarnApiError('invalid_input', `earnUserIds has no user for entity ${JSON.stringify(entityId)}, which owns product ${JSON.stringify(input.productId)}`, { path: `earnUserIds.${entityId}`, field: entityId });
    }
    const account = await this.entity(entityId).createAccount({
      userId,
      productId: input.productId,
      ...(input.idempotencyKey === undefined ? {} : { idempotencyKey: input.idempotencyKey }),
      ...(input.signal === undefined ? {} : { signal: input.signal }),
    });
    return Object.freeze({ entityId, account });
  }

  /** Books a deposit with the credentials of the product's entity. */
  async deposit(input: BookingInput & ProductAccountInput): Promise<Booking> {
    return (await this.clientForProduct(input.productId, input)).deposit(input);
  }

  /** Books a withdrawal with the credentials of the product's entity. */
  async withdraw(input: BookingInput & ProductAccountInput): Promise<Booking> {
    return (await this.clientForProduct(input.productId, input)).withdraw(input);
  }

  /** Reads an account with the credentials of the product's entity. */
  async getAccount(input: { readonly accountId: string } & ProductAccountInput & CallSignalOptions): Promise<Account> {
    return (await this.clientForProduct(input.productId, input)).getAccount(input);
  }

  /** The history of an account, with the credentials of the product's entity. */
  async *accountTransactions(input: { readonly accountId: string } & ProductAccountInput & IterateInput): AsyncGenerator<Transaction, void, undefined> {
    const client = await this.clientForProduct(input.productId, input);
    yield* client.accountTransactions(input);
  }
}
