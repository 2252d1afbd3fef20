/**
 * An unexpected error in the audit export or the back office is reported with its stack, as the
 * `earnbook` CLI reports one: the head line escaped, and each stack line escaped the same way
 * (`\uXXXX`), so that a message with a line break or an escape sequence cannot forge lines or drive
 * the terminal below the head.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { reportScriptFailure } from '../src/lib/script-cli.js';

const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200b\u202e]/;

/** What `reportScriptFailure` wrote on stderr, and its exit code. */
function reported(error: unknown): { code: number; stderr: string } {
  const lines: string[] = [];
  const spy = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(' ')));
  try {
    const code = reportScriptFailure({ script: 'earnbook audit export', error, badInputCodes: new Set(['invalid_flag']) });
    return { code, stderr: `${lines.join('\n')}\n` };
  } finally {
    spy.mockRestore();
  }
}

describe('reportScriptFailure of an unexpected error', () => {
  afterEach(() => vi.restoreAllMocks());

  it('prints its stack frames below the line, each escaped, the message not repeated raw', () => {
    const error = new TypeError('boom\n\u001b[2J    at forged (evil.js:1:1)\u202e');
    const { code, stderr } = reported(error);
    expect(code).toBe(1);
    const [head, ...frames] = stderr.slice(0, -1).split('\n');
    expect(head).toBe('earnbook audit export: internal: boom\\u000a\\u001b[2J    at forged (evil.js:1:1)\\u202e');
    expect(frames.length).toBeGreaterThan(0);
    for (const frame of frames) {
      expect(frame).toMatch(/^\s+at /);
      expect(frame).not.toMatch(RAW);
    }
    expect(stderr).not.toContain('forged (evil.js:1:1)\n');
  });

  it('a stack that does not start with the message is printed as one escaped line', () => {
    const error = new Error('plain');
    error.stack = 'rewritten\n\u001b]0;title\u0007\n    at somewhere (x.js:1:1)';
    const { stderr } = reported(error);
    const lines = stderr.slice(0, -1).split('\n');
    expect(lines).toEqual(['earnbook audit export: internal: plain', 'rewritten\\u000a\\u001b]0;title\\u0007\\u000a    at somewhere (x.js:1:1)']);
  });
});
