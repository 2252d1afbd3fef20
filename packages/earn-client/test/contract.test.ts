import { readFileSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { ASSUMPTION_KEYWORD, EarnApiError, earnApiContract, parseDailyReport, validateContract, validateDailyReport } from '../src/index.js';
import type { ContractSchemaName, ContractTypes } from '../src/index.js';
import { renderOpenApiJson } from '../src/contract/render.js';
import { OPERATIONS } from '../src/operations.js';
import { dailyReport } from './support/fixtures.js';

function thrown(action: () => unknown): EarnApiError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(EarnApiError);
    return error as EarnApiError;
  }
  throw new Error('expected an EarnApiError');
}

describe('the contract document', () => {
  it('openapi.json is exactly the rendering of the contract object (one source)', () => {
    const onDisk = readFileSync(new URL('../openapi.json', import.meta.url), 'utf8');
    expect(onDisk).toBe(renderOpenApiJson());
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(earnApiContract) as unknown as Parameters<Validator['validate']>[0]);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('marks every path that is not public as an assumption, and none of the public ones', () => {
    const known = new Set(['/v1/products', '/v1/users', '/v1/reports', '/v1/reports/{reportId}/download-uri']);
    for (const [path, item] of Object.entries(earnApiContract.paths)) {
      const marked = (item as Record<string, unknown>)[ASSUMPTION_KEYWORD] === true;
      expect({ path, marked }).toEqual({ path, marked: !known.has(path) });
      if (marked) expect(typeof (item as { description?: unknown }).description).toBe('string');
    }
  });

  it('names a success schema for every API operation, and the schema exists', () => {
    expect([...OPERATIONS.keys()].sort()).toEqual([
      'GET /v1/accounts/{accountId}',
      'GET /v1/accounts/{accountId}/transactions',
      'GET /v1/outstanding-balances',
      'GET /v1/products',
      'GET /v1/reports',
      'GET /v1/reports/{reportId}/download-uri',
      'GET /v1/users/{userId}',
      'GET /v1/users/{userId}/accounts',
      'POST /v1/accounts',
      'POST /v1/accounts/{accountId}/deposits',
      'POST /v1/accounts/{accountId}/withdrawals',
      'POST /v1/users',
    ]);
  });

  it('has a TypeScript type for every component schema', () => {
    // Compile-time: both key sets must be equal, or one of these lines fails to type-check.
    const schemaNames: readonly ContractSchemaName[] = Object.keys(earnApiContract.components.schemas) as ContractSchemaName[];
    const typed: Record<keyof ContractTypes, true> = Object.fromEntries(schemaNames.map((name) => [name, true])) as Record<ContractSchemaName, true>;
    expect(Object.keys(typed).length).toBe(schemaNames.length);
  });

  it('never forbids unknown fields in a response schema', () => {
    const requestSchemas = new Set(['CreateUserRequest', 'CreateAccountRequest', 'BookingRequest']);
    const walk = (node: unknown, where: string): void => {
      if (node === null || typeof node !== 'object') return;
      if ((node as Record<string, unknown>).additionalProperties === false) expect.fail(`additionalProperties: false at ${where}`);
      for (const [key, child] of Object.entries(node)) walk(child, `${where}.${key}`);
    };
    for (const [name, schema] of Object.entries(earnApiContract.components.schemas)) {
      if (!requestSchemas.has(name)) walk(schema, name);
    }
  });
});

describe('validateDailyReport', () => {
  it('accepts a conforming report and keeps unknown fields', () => {
    const input = dailyReport({ somethingNew: { nested: true } });
    const transactions = input.transactions as Record<string, unknown>[];
    (transactions[0] as Record<string, unknown>).futureField = 'kept';
    const report = validateDailyReport(input);
    expect(report.transactions).toHaveLength(2);
    expect(report.transactions[1]?.type).toBe('Interest');
    expect(report.transactions[1]?.amount).toBe('0.000000173182690071');
    expect((report as unknown as Record<string, unknown>).somethingNew).toEqual({ nested: true });
    expect((report.transactions[0] as unknown as Record<string, unknown>).futureField).toBe('kept');
  });

  it('tolerates unknown transaction types (the reconciler flags them)', () => {
    const input = dailyReport();
    (input.transactions as Record<string, unknown>[]).push({
      id: 'a9e0c1d2-3b4c-4d5e-8f60-718293a4b5c6',
      type: 'SomethingNew',
      currency: 'BTC',
      amount: '0.1',
      createdAt: '2025-03-18T12:00:00Z',
    });
    expect(validateDailyReport(input).transactions).toHaveLength(3);
  });

  it('fails loudly on a missing required field, naming the JSON path and the field', () => {
    const input = dailyReport();
    delete (input.transactions as Record<string, unknown>[])[1]?.amount;
    const error = thrown(() => validateDailyReport(input));
    expect(error.code).toBe('invalid_response');
    expect(error.path).toBe('transactions[1].amount');
    expect(error.field).toBe('amount');
    expect(error.message).toContain('transactions[1].amount');
    expect(error.message).toContain('missing');
  });

  it.each([
    ['19 decimals', '0.0000000000000000001'],
    ['an exponent', '1e-8'],
    ['a negative transaction amount', '-1'],
    ['a number', 0.5],
    ['an empty string', ''],
  ])('rejects an amount with %s', (_label, amount) => {
    const input = dailyReport();
    (input.transactions as Record<string, unknown>[])[0]!.amount = amount;
    const error = thrown(() => validateDailyReport(input));
    expect(error.path).toBe('transactions[0].amount');
    expect(error.field).toBe('amount');
    expect(error.message).toContain('got');
  });

  it('accepts a signed outstanding balance with 18 decimals and rejects 19', () => {
    const input = dailyReport();
    (input.balances as Record<string, unknown>[])[1]!.outstandingBalance = '-0.000000000000000001';
    expect(validateDailyReport(input).balances[1]?.outstandingBalance).toBe('-0.000000000000000001');
    (input.balances as Record<string, unknown>[])[1]!.outstandingBalance = '-0.0000000000000000001';
    expect(thrown(() => validateDailyReport(input)).path).toBe('balances[1].outstandingBalance');
  });

  it.each([
    ['2025-03-19T00:01:55.703Z', true],
    ['2025-03-19T02:01:55+02:00', true],
    ['2025-03-19T00:01:55', false],
    ['2025-03-19 00:01', false],
    ['yesterday', false],
  ])('instant %s valid: %s', (instant, valid) => {
    const input = dailyReport({ generatedAt: instant });
    if (valid) expect(validateDailyReport(input).generatedAt).toBe(instant);
    else expect(thrown(() => validateDailyReport(input)).path).toBe('generatedAt');
  });

  it('rejects an impossible accounting day', () => {
    expect(thrown(() => validateDailyReport(dailyReport({ accountingDay: '2025-02-30' }))).field).toBe('accountingDay');
  });

  it('rejects a non-uuid transaction id and a wrong root type', () => {
    const input = dailyReport();
    (input.transactions as Record<string, unknown>[])[0]!.id = 'not-a-uuid';
    expect(thrown(() => validateDailyReport(input)).path).toBe('transactions[0].id');
    const root = thrown(() => validateDailyReport([]));
    expect(root.path).toBe('(root)');
    expect(root.field).toBeUndefined();
  });

  it('parseDailyReport reports invalid JSON as invalid_response', () => {
    expect(thrown(() => parseDailyReport('{"id":')).code).toBe('invalid_response');
    expect(parseDailyReport(JSON.stringify(dailyReport())).id).toBe('report-2025-03-18');
  });

  it('validateContract types and checks other schemas too', () => {
    const booking = validateContract('Booking', {
      id: 'b-1',
      accountId: 'a-1',
      type: 'Deposit',
      amount: '0.5',
      currency: 'BTC',
      createdAt: '2025-03-18T10:00:00Z',
      balanceAfter: '0.5',
    });
    expect(booking.type).toBe('Deposit');
    const error = thrown(() => validateContract('Booking', { ...booking, type: 'Interest' }));
    expect(error.path).toBe('type');
  });
});
