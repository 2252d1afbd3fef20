import type { LinesInput } from '../../src/index.js';

/**
 * The compound posting of a day's interest the tests book: `lines` credited to users, the contra
 * (`contraAccountId`, earn_assets) debited their sum, for 2025-03-18, at `occurredAt`.
 */
export function interestLines(contraAccountId: number, lines: LinesInput['lines'], occurredAt = '2025-03-19T00:00:00Z'): LinesInput {
  return { entity: 'defi', kind: 'interest', occurredAt, side: 'credit', contraAccountId, metadata: { interestDay: '2025-03-18' }, lines };
}
