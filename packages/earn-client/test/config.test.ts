import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { EarnApiError, EarnClient, EarnFacade, isLoopbackHost, resolveEntityConfig } from '../src/index.js';
import type { EntityConfigInput } from '../src/index.js';

const secret = 'config-secret-0123456789';

const valid: EntityConfigInput = {
  entityId: 'defi',
  baseUrl: 'https://earn.example.com/',
  tokenUrl: 'https://auth.example.com/oauth/token',
  clientId: 'partner-defi',
  clientSecret: secret,
};

function configError(input: unknown): EarnApiError {
  try {
    resolveEntityConfig(input as EntityConfigInput);
  } catch (error) {
    expect(error).toBeInstanceOf(EarnApiError);
    expect((error as EarnApiError).code).toBe('invalid_config');
    return error as EarnApiError;
  }
  throw new Error('expected invalid_config');
}

describe('configuration', () => {
  it('fills defaults, normalises the base URL, freezes, and holds no secret', () => {
    const config = resolveEntityConfig(valid);
    expect(config.baseUrl).toBe('https://earn.example.com');
    expect(config.attemptsMax).toBe(5);
    expect(config.clientAuthMethod).toBe('client_secret_basic');
    expect(Object.isFrozen(config)).toBe(true);
    expect(JSON.stringify(config)).not.toContain(secret);
    expect(inspect(config, { depth: 5, showHidden: true })).not.toContain(secret);
  });

  it('never mutates the caller options', () => {
    const input = { ...valid, attemptsMax: 2 };
    const before = JSON.stringify(input);
    const client = new EarnClient(input);
    expect(JSON.stringify(input)).toBe(before);
    expect(client.config.attemptsMax).toBe(2);
    expect(inspect(client, { depth: 5, showHidden: true })).not.toContain(secret);
  });

  it.each([
    ['baseUrl', 'http://earn.example.com'],
    ['tokenUrl', 'http://auth.example.com/token'],
    ['baseUrl', 'http://10.0.0.1:8080'],
    ['baseUrl', 'ftp://earn.example.com'],
    ['baseUrl', 'not a url'],
    ['baseUrl', 'https://user:pass@earn.example.com'],
    ['baseUrl', 'https://earn.example.com/?x=1'],
  ])('requires HTTPS except on loopback: %s %s', (field, url) => {
    const error = configError({ ...valid, [field]: url });
    expect(error.field).toBe(field);
  });

  it.each(['http://127.0.0.1:3000', 'http://localhost:3000', 'http://[::1]:3000', 'http://127.1.2.3'])('allows plain HTTP on loopback %s', (url) => {
    expect(resolveEntityConfig({ ...valid, baseUrl: url, tokenUrl: `${url}/oauth/token` }).baseUrl).toBe(url);
  });

  it('recognises loopback hosts', () => {
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost('[::1]')).toBe(true);
    expect(isLoopbackHost('localhost')).toBe(true);
    expect(isLoopbackHost('127.0.0.1.example.com')).toBe(false);
    expect(isLoopbackHost('earn.example.com')).toBe(false);
  });

  it.each([
    ['attemptsMax', 0],
    ['attemptsMax', 1.5],
    ['attemptsMax', 21],
    ['timeoutMs', -1],
    ['pageSizeMax', 100_000],
    ['retryTotalMsMax', '100'],
  ])('rejects %s = %s', (field, value) => {
    expect(configError({ ...valid, [field]: value }).field).toBe(field);
  });

  it('report downloads have their own time limits, generous by default', () => {
    const config = resolveEntityConfig(valid);
    expect(config).toMatchObject({ timeoutMs: 10_000, retryTotalMsMax: 30_000, downloadTimeoutMs: 600_000, downloadIdleTimeoutMs: 60_000, downloadRetryTotalMsMax: 1_800_000 });
    const custom = resolveEntityConfig({ ...valid, downloadTimeoutMs: 3_600_000, downloadIdleTimeoutMs: 1, downloadRetryTotalMsMax: 14_400_000 });
    expect(custom).toMatchObject({ downloadTimeoutMs: 3_600_000, downloadIdleTimeoutMs: 1, downloadRetryTotalMsMax: 14_400_000 });
  });

  it.each([
    ['downloadTimeoutMs', 0, '0'],
    ['downloadTimeoutMs', 3_600_001, '3600001'],
    ['downloadTimeoutMs', 1.5, '1.5'],
    ['downloadTimeoutMs', '600000', '600000'],
    ['downloadTimeoutMs', Number.NaN, 'NaN'],
    ['downloadIdleTimeoutMs', 0, '0'],
    ['downloadIdleTimeoutMs', 3_600_001, '3600001'],
    ['downloadRetryTotalMsMax', -1, '-1'],
    ['downloadRetryTotalMsMax', 14_400_001, '14400001'],
    ['downloadRetryTotalMsMax', Number.POSITIVE_INFINITY, 'Infinity'],
  ])('rejects %s = %s, naming the field and the value', (field, value, shown) => {
    const error = configError({ ...valid, [field]: value });
    expect(error.field).toBe(field);
    expect(error.path).toBe(field);
    expect(error.message).toMatch(new RegExp(`^${field} must be an integer from \\d+ to \\d+, got ${shown}$`));
  });

  it('rejects a missing secret without quoting secrets', () => {
    const error = configError({ ...valid, clientSecret: '' });
    expect(error.field).toBe('clientSecret');
    expect(configError({ ...valid, clientId: undefined }).field).toBe('clientId');
    expect(configError({ ...valid, clientAuthMethod: 'private_key_jwt' }).field).toBe('clientAuthMethod');
    expect(configError({ ...valid, pageSizeDefault: 500, pageSizeMax: 100 }).field).toBe('pageSizeDefault');
  });

  it('the facade needs at least one entity and consistent entity ids', () => {
    expect(() => new EarnFacade({ entities: {} })).toThrow(EarnApiError);
    expect(() => new EarnFacade({ entities: { defi: { ...valid, entityId: 'lending' } } })).toThrow(/must equal its key/);
    const facade = new EarnFacade({ entities: { defi: valid, lending: { ...valid, entityId: 'lending' } } });
    expect(facade.entityIds).toEqual(['defi', 'lending']);
    expect(facade.entity('lending').entityId).toBe('lending');
    expect(() => facade.entity('other')).toThrow(EarnApiError);
  });
});
