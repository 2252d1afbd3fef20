import { expect } from 'vitest';
import { EarnApiError } from '../../src/index.js';

/** The `EarnApiError` a promise rejects with (the test fails if it resolves or rejects otherwise). */
export async function failure(promise: Promise<unknown>): Promise<EarnApiError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(EarnApiError);
  return error as EarnApiError;
}
