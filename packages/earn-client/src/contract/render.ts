import { earnApiContract } from './openapi.js';

/** The text of `openapi.json`: the contract object as pretty JSON with a final newline. */
export function renderOpenApiJson(): string {
  return `${JSON.stringify(earnApiContract, null, 2)}\n`;
}
