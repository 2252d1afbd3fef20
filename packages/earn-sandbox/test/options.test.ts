/** Bad sandbox options and fault settings name the field; the caller's options are never changed. */
import { describe, expect, it } from 'vitest';
import { FaultController, SandboxError, resolveSandboxOptions } from '../src/index.js';
import type { SandboxOptions } from '../src/index.js';

function fieldOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(SandboxError);
    return (error as SandboxError).field;
  }
  throw new Error('expected a SandboxError');
}

describe('resolveSandboxOptions', () => {
  it('fills in defaults, freezes, and leaves the input alone', () => {
    const input: SandboxOptions = { timeZone: 'Europe/Helsinki', settlementThresholds: { lending: { XRP: '1000' } } };
    const copy = structuredClone(input);
    const config = resolveSandboxOptions(input);
    expect(input).toEqual(copy);
    expect(Object.isFrozen(config)).toBe(true);
    expect(config.entities.map((entity) => [entity.id, entity.clientId, entity.timeZone])).toEqual([
      ['defi', 'sandbox-defi', 'Europe/Helsinki'],
      ['lending', 'sandbox-lending', 'Europe/Helsinki'],
    ]);
    expect(config.settlementThresholds.get('lending')?.get('XRP')).toBe('1000.000000000000000000');
  });

  it('names the offending option', () => {
    expect(fieldOf(() => resolveSandboxOptions({ timeZone: 'Mars/Olympus' }))).toBe('timeZone');
    expect(fieldOf(() => resolveSandboxOptions({ products: [{ id: 'p', entity: 'cefi', name: 'P', currency: 'BTC', terms: { tiers: [{ fromAmount: '0', toAmount: null, apy: '0.01' }] } }] }))).toBe('products[0].entity');
    expect(fieldOf(() => resolveSandboxOptions({ products: [{ id: 'p', entity: 'defi', name: 'P', currency: 'BTC', terms: { tiers: [{ fromAmount: '0', toAmount: null, apy: 'lots' }] } }] }))).toMatch(/^products\[0\]\.terms\.tiers\[0\]\.apy/);
    expect(fieldOf(() => resolveSandboxOptions({ settlementThresholds: { defi: { BTC: '1e3' } } }))).toMatch(/settlementThresholds\.defi\.BTC/);
    expect(fieldOf(() => resolveSandboxOptions({ host: '0.0.0.0' }))).toBe('host');
    expect(fieldOf(() => resolveSandboxOptions({ tokenLifetimeMs: 1.5 }))).toBe('tokenLifetimeMs');
  });
});

describe('FaultController', () => {
  it('validates settings and draws the same faults for the same seed', () => {
    const faults = new FaultController({ seed: 9 });
    expect(fieldOf(() => faults.set({ errorRate: 1.5 }))).toBe('faults.errorRate');
    expect(fieldOf(() => faults.set({ latency: 5 } as never))).toBe('faults.latency');
    const draws = (seed: number) => {
      const controller = new FaultController({ seed });
      controller.set({ errorRate: 0.5 });
      return Array.from({ length: 32 }, () => controller.drawRequestFault().kind);
    };
    expect(draws(9)).toEqual(draws(9));
    expect(draws(9)).not.toEqual(draws(10));
  });
});
