/** The day's run closes its sorters and its worker in turn, each whatever the others do. */
import { describe, expect, it } from 'vitest';
import { closeInTurn } from '../src/day-run.js';

describe('closeInTurn', () => {
  it('runs every close in order after one fails, then throws the first failure', async () => {
    const ran: string[] = [];
    const first = new Error('first');
    const closes = [
      async () => {
        ran.push('a');
        throw first;
      },
      async () => {
        ran.push('b');
      },
      async () => {
        ran.push('c');
        throw new Error('second');
      },
      () => {
        ran.push('d');
        return undefined;
      },
    ];
    await expect(closeInTurn(closes)).rejects.toBe(first);
    expect(ran).toEqual(['a', 'b', 'c', 'd']);
  });

  it('resolves when every close does', async () => {
    const ran: string[] = [];
    await closeInTurn([async () => void ran.push('a'), async () => void ran.push('b')]);
    expect(ran).toEqual(['a', 'b']);
  });
});
