/**
 * Fault injection, switchable per test. Every fault is off by default; draws come from a
 * generator seeded by the sandbox's seed, so a run with the same seed and the same requests fails
 * the same requests.
 */
import { invalidOption } from './errors.js';
import { SeededRandom } from './random.js';

/** How a lost booking response is lost. */
export type LostResponseMode =
  /** The connection is destroyed after the booking was applied: the client sees a network error. */
  | 'destroy'
  /** A 502 answer after the booking was applied, as a failing gateway would send. */
  | 'bad-gateway';

/** The rate-like faults, applied to every request (token endpoint, API and downloads). */
export interface FaultSettings {
  /** Probability (0..1) that a request is answered `errorStatus` before it is handled. */
  readonly errorRate: number;
  /** The status of an injected error; default 503. */
  readonly errorStatus: 500 | 502 | 503 | 504;
  /** Probability (0..1) that a request is answered 429 before it is handled. */
  readonly rateLimitRate: number;
  /** The `Retry-After` of an injected 429, in seconds; default 0. */
  readonly retryAfterSeconds: number;
  /** Delay added to every request, in milliseconds; default 0. */
  readonly latencyMs: number;
  /** Probability (0..1) that a new booking's response is lost after the booking was applied. */
  readonly loseBookingResponseRate: number;
  /** How a response lost by `loseBookingResponseRate` is lost; default `destroy`. */
  readonly lostResponseMode: LostResponseMode;
  /**
   * When set, a token is refused with 401 once it is this old (wall clock), although its
   * `expires_in` promised longer. `null` (default): tokens live their announced lifetime.
   */
  readonly tokenValidityMs: number | null;
}

/** Options of {@link FaultController.loseNextBookingResponse}. */
export interface LoseBookingResponseOptions {
  /**
   * How many responses to the booking's Idempotency-Key are lost: the first one and as many
   * retries. 1 (default): the client's retry gets the booking; at least the client's
   * `attemptsMax`: the client gives up and the partner never learns of the booking.
   */
  readonly responsesLost?: number;
  /** How the responses are lost; default `destroy`. */
  readonly mode?: LostResponseMode;
  /** Only a booking of this entity picks the fault up; default any. */
  readonly entity?: string;
}

/** Options of the report faults: which entity's next report they apply to (default any). */
export interface ReportFaultOptions {
  readonly entity?: string;
}

/** Options of {@link FaultController.restateReport}. */
export interface RestateReportOptions extends ReportFaultOptions {
  /** Units of the 18th decimal added to the first interest entry in the second version; default 1. */
  readonly deltaUnits?: bigint;
}

/** Options of `Sandbox.publishRestatement`: which published day is restated, and how. */
export interface PublishRestatementOptions {
  readonly entity: string;
  /** An accounting day whose report the entity already published (`YYYY-MM-DD`). */
  readonly accountingDay: string;
  /** Units of the 18th decimal added to the first interest entry of the newest version; default 1. */
  readonly deltaUnits?: bigint;
}

/** Options of {@link FaultController.interestOffByUnits}. */
export interface InterestOffOptions extends ReportFaultOptions {
  /** Units of the 18th decimal added to one interest entry of the report (not of the books). */
  readonly units: bigint;
}

/** How many faults were injected, for assertions. */
export interface FaultCounters {
  readonly errors: number;
  readonly rateLimited: number;
  readonly delayed: number;
  readonly lostResponses: number;
  readonly tokensRefused: number;
  readonly reportsAltered: number;
}

/** The report faults one report takes, as {@link FaultController.takeReportFaults} hands them out. */
export interface ReportFaults {
  readonly duplicateEntry: boolean;
  readonly interestOffUnits: bigint | undefined;
  readonly restateDeltaUnits: bigint | undefined;
}

/** What {@link FaultController.drawRequestFault} decided for one request. */
export type RequestFault =
  | { readonly kind: 'none'; readonly delayMs: number }
  | { readonly kind: 'rate_limited'; readonly delayMs: number; readonly retryAfterSeconds: number }
  | { readonly kind: 'error'; readonly delayMs: number; readonly status: number };

const DEFAULT_SETTINGS: FaultSettings = Object.freeze({
  errorRate: 0,
  errorStatus: 503,
  rateLimitRate: 0,
  retryAfterSeconds: 0,
  latencyMs: 0,
  loseBookingResponseRate: 0,
  lostResponseMode: 'destroy',
  tokenValidityMs: null,
});

/** Keys a sticky lost-response fault is remembered for, at most. */
const LOST_RESPONSE_KEYS_MAX = 10_000;

function rate(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) return invalidOption(field, value, 'must be a number from 0 to 1');
  return value;
}

function integer(value: unknown, field: string, minimum: number, maximum: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < minimum || value > maximum) return invalidOption(field, value, `must be an integer from ${minimum} to ${maximum}`);
  return value;
}

function units(value: unknown, field: string): bigint {
  if (typeof value !== 'bigint' || value < -(10n ** 30n) || value > 10n ** 30n) return invalidOption(field, value, 'must be a bigint count of units of the 18th decimal');
  return value;
}

/** @internal Checks the options of `Sandbox.publishRestatement` (the entity among `entities`); throws `invalid_option` naming the field. */
export function checkRestatementOptions(options: PublishRestatementOptions, entities: readonly string[]): Required<PublishRestatementOptions> {
  if (!entities.includes(options.entity)) invalidOption('entity', options.entity, `must be one of ${entities.join(', ')}`);
  if (typeof options.accountingDay !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(options.accountingDay)) invalidOption('accountingDay', options.accountingDay, 'must be an accounting day YYYY-MM-DD');
  const deltaUnits = units(options.deltaUnits ?? 1n, 'deltaUnits');
  if (deltaUnits === 0n) invalidOption('deltaUnits', deltaUnits, 'must not be 0: a restatement changes a figure');
  return { entity: options.entity, accountingDay: options.accountingDay, deltaUnits };
}

/**
 * The fault switches of one sandbox. Tests flip them between calls; `reset()` turns every fault
 * off again.
 *
 * @example
 * sandbox.faults.set({ errorRate: 0.3, rateLimitRate: 0.2 });
 * sandbox.faults.loseNextBookingResponse();          // applied, then the connection drops once
 * sandbox.faults.interestOffByUnits({ units: 3n });  // next report: one interest entry +3 units
 * sandbox.faults.expireTokensEarly();                // every token issued so far answers 401
 */
export class FaultController {
  #settings: FaultSettings = DEFAULT_SETTINGS;
  readonly #random: SeededRandom;
  #pendingLoss: { remaining: number; mode: LostResponseMode; entity: string | undefined } | undefined;
  readonly #lossesByKey = new Map<string, { remaining: number; mode: LostResponseMode }>();
  #duplicateEntry: ReportFaultOptions | undefined;
  #interestOff: InterestOffOptions | undefined;
  #restate: RestateReportOptions | undefined;
  #tokenSerial = 0;
  #tokensRevokedThroughSerial = 0;
  #counters = { errors: 0, rateLimited: 0, delayed: 0, lostResponses: 0, tokensRefused: 0, reportsAltered: 0 };

  constructor(options: { readonly seed: number }) {
    this.#random = new SeededRandom(options.seed + 0x5eed);
  }

  /** The current rate-like settings (frozen). */
  get settings(): FaultSettings {
    return this.#settings;
  }

  /** How many faults were injected since the start or the last {@link FaultController.reset}. */
  get counters(): FaultCounters {
    return Object.freeze({ ...this.#counters });
  }

  /** Changes some settings; the others keep their value. Throws `invalid_option` naming the field. */
  set(settings: Partial<FaultSettings>): void {
    const next = { ...this.#settings };
    for (const [name, value] of Object.entries(settings)) {
      const field = `faults.${name}`;
      switch (name) {
        case 'errorRate':
        case 'rateLimitRate':
        case 'loseBookingResponseRate':
          next[name] = rate(value, field);
          break;
        case 'errorStatus':
          if (value !== 500 && value !== 502 && value !== 503 && value !== 504) invalidOption(field, value, 'must be 500, 502, 503 or 504');
          next.errorStatus = value as FaultSettings['errorStatus'];
          break;
        case 'retryAfterSeconds':
          next.retryAfterSeconds = integer(value, field, 0, 60);
          break;
        case 'latencyMs':
          next.latencyMs = integer(value, field, 0, 60_000);
          break;
        case 'lostResponseMode':
          if (value !== 'destroy' && value !== 'bad-gateway') invalidOption(field, value, 'must be "destroy" or "bad-gateway"');
          next.lostResponseMode = value as LostResponseMode;
          break;
        case 'tokenValidityMs':
          next.tokenValidityMs = value === null ? null : integer(value, field, 0, 86_400_000);
          break;
        default:
          invalidOption(field, value, 'is not a fault setting');
      }
    }
    this.#settings = Object.freeze(next);
  }

  /** Turns every fault off and clears the counters; tokens revoked stay revoked. */
  reset(): void {
    this.#settings = DEFAULT_SETTINGS;
    this.#pendingLoss = undefined;
    this.#lossesByKey.clear();
    this.#duplicateEntry = undefined;
    this.#interestOff = undefined;
    this.#restate = undefined;
    this.#counters = { errors: 0, rateLimited: 0, delayed: 0, lostResponses: 0, tokensRefused: 0, reportsAltered: 0 };
  }

  /**
   * The next new booking is applied and then its response is lost (see
   * {@link LoseBookingResponseOptions} for how many of its retries are lost too).
   */
  loseNextBookingResponse(options: LoseBookingResponseOptions = {}): void {
    const mode = options.mode ?? 'destroy';
    if (mode !== 'destroy' && mode !== 'bad-gateway') invalidOption('mode', mode, 'must be "destroy" or "bad-gateway"');
    this.#pendingLoss = { remaining: integer(options.responsesLost ?? 1, 'responsesLost', 1, 1000), mode, entity: options.entity };
  }

  /** The next report (of `entity`, if given) repeats one of its entries. */
  duplicateReportEntry(options: ReportFaultOptions = {}): void {
    this.#duplicateEntry = { ...options };
  }

  /**
   * The next report with an interest entry (of `entity`, if given) is published twice for the
   * same accounting day: the second version (a new report id) changes the first interest entry by
   * `deltaUnits`, as a provider's restatement would.
   */
  restateReport(options: RestateReportOptions = {}): void {
    const deltaUnits = units(options.deltaUnits ?? 1n, 'deltaUnits');
    this.#restate = { ...options, deltaUnits };
  }

  /** The next report with an interest entry shows one interest amount off by `units`; the books are unchanged. */
  interestOffByUnits(options: InterestOffOptions): void {
    const offUnits = units(options.units, 'units');
    this.#interestOff = { ...options, units: offUnits };
  }

  /** Every access token issued so far is refused with 401 from now on, before its `expires_in`. */
  expireTokensEarly(): void {
    this.#tokensRevokedThroughSerial = this.#tokenSerial;
  }

  // ---- used by the server and the provider --------------------------------------------------

  /** @internal Draws the request-level fault of one request. */
  drawRequestFault(): RequestFault {
    const settings = this.#settings;
    const delayMs = settings.latencyMs;
    if (delayMs > 0) this.#counters.delayed += 1;
    if (this.#random.chance(settings.rateLimitRate)) {
      this.#counters.rateLimited += 1;
      return { kind: 'rate_limited', delayMs, retryAfterSeconds: settings.retryAfterSeconds };
    }
    if (this.#random.chance(settings.errorRate)) {
      this.#counters.errors += 1;
      return { kind: 'error', delayMs, status: settings.errorStatus };
    }
    return { kind: 'none', delayMs };
  }

  /**
   * @internal Whether the response to a booking (new, or a replay of `idempotencyKey`) is lost,
   * and how. Only a new booking picks up a pending or drawn fault; replays use up its count.
   */
  takeLostResponse(input: { readonly entity: string; readonly idempotencyKey: string; readonly created: boolean }): LostResponseMode | undefined {
    const key = `${input.entity}\u0000${input.idempotencyKey}`;
    let loss = this.#lossesByKey.get(key);
    if (loss === undefined && input.created) {
      const pending = this.#pendingLoss;
      if (pending !== undefined && (pending.entity === undefined || pending.entity === input.entity)) {
        this.#pendingLoss = undefined;
        loss = { remaining: pending.remaining, mode: pending.mode };
      } else if (this.#random.chance(this.#settings.loseBookingResponseRate)) {
        loss = { remaining: 1, mode: this.#settings.lostResponseMode };
      }
      if (loss !== undefined) {
        if (this.#lossesByKey.size >= LOST_RESPONSE_KEYS_MAX) this.#lossesByKey.clear();
        this.#lossesByKey.set(key, loss);
      }
    }
    if (loss === undefined || loss.remaining <= 0) return undefined;
    loss.remaining -= 1;
    this.#counters.lostResponses += 1;
    return loss.mode;
  }

  /** @internal The serial number of a newly issued token (1, 2, …). */
  nextTokenSerial(): number {
    this.#tokenSerial += 1;
    return this.#tokenSerial;
  }

  /** @internal Whether a token (its serial, and when it was issued on the wall clock) is refused now. */
  refusesToken(input: { readonly serial: number; readonly issuedAtMs: number; readonly nowMs: number }): boolean {
    const validity = this.#settings.tokenValidityMs;
    const refused = input.serial <= this.#tokensRevokedThroughSerial || (validity !== null && input.nowMs - input.issuedAtMs >= validity);
    if (refused) this.#counters.tokensRefused += 1;
    return refused;
  }

  /** @internal Takes the report faults armed for the next report of `entity`. */
  takeReportFaults(input: { readonly entity: string; readonly hasInterest: boolean }): ReportFaults {
    const applies = (options: ReportFaultOptions | undefined): boolean => options !== undefined && (options.entity === undefined || options.entity === input.entity);
    const duplicateEntry = applies(this.#duplicateEntry);
    if (duplicateEntry) this.#duplicateEntry = undefined;
    let interestOffUnits: bigint | undefined;
    if (input.hasInterest && applies(this.#interestOff)) {
      interestOffUnits = this.#interestOff?.units;
      this.#interestOff = undefined;
    }
    let restateDeltaUnits: bigint | undefined;
    if (input.hasInterest && applies(this.#restate)) {
      restateDeltaUnits = this.#restate?.deltaUnits ?? 1n;
      this.#restate = undefined;
    }
    if (duplicateEntry || interestOffUnits !== undefined || restateDeltaUnits !== undefined) this.#counters.reportsAltered += 1;
    return { duplicateEntry, interestOffUnits, restateDeltaUnits };
  }
}
