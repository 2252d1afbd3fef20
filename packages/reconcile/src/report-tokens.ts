/**
 * The streaming parser's tokens fed to the report's key check ({@link KeyTracker}). In a file of
 * its own, outside the package's public types: a declaration that names the parser's `TokenType`
 * made every consumer's type-check read `@streamparser/json`'s own declarations, which do not
 * type-check under `exactOptionalPropertyTypes` without `skipLibCheck`.
 */
import { TokenType } from '@streamparser/json';
import type { ReconcileError } from './errors.js';
import { keyFaultError } from './report-keys.js';
import type { KeyFault, KeyTracker } from './report-keys.js';

/** Feeds one token of the streaming parser (@streamparser/json) to `keys`: the refusal of a key fault, or undefined. */
export function followToken(keys: KeyTracker, token: TokenType, value: unknown, source: string): ReconcileError | undefined {
  let fault: KeyFault | undefined;
  if (token === TokenType.STRING) {
    if (keys.expectsKey) fault = keys.key(value as string);
  } else if (token === TokenType.LEFT_BRACE || token === TokenType.LEFT_BRACKET) {
    fault = keys.open(token === TokenType.LEFT_BRACE);
  } else if (token === TokenType.RIGHT_BRACE || token === TokenType.RIGHT_BRACKET) {
    keys.close();
  } else if (token === TokenType.COMMA) {
    keys.comma();
  }
  return fault === undefined ? undefined : keyFaultError(source, fault);
}
