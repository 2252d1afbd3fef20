import { describe, expect, it } from 'vitest';
import { JsonObjectFraming } from '../src/download-checks.js';

/** Feeds `chunks` and says whether the body was framed as one JSON object (false as soon as it cannot be). */
function framed(...chunks: (string | number[])[]): boolean {
  const framing = new JsonObjectFraming();
  for (const chunk of chunks) {
    if (!framing.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Uint8Array.from(chunk))) return false;
  }
  return framing.whole();
}

describe('JsonObjectFraming', () => {
  it.each([
    ['an object', ['{"a":1}']],
    ['an object in pieces', ['{"a"', ':1', '}']],
    ['white space around it, in chunks of its own', [' \r\n', '\t{}', ' \n']],
    ['a byte order mark', ['\uFEFF{}']],
    ['a byte order mark split across chunks', [[0xef], [0xbb], [0xbf, 0x7b], '}']],
  ])('accepts %s', (_name, chunks) => {
    expect(framed(...chunks)).toBe(true);
  });

  it.each([
    ['nothing', []],
    ['white space only', [' \n ']],
    ['an HTML page', ['<!DOCTYPE html>']],
    ['an array', ['[]']],
    ['a cut object', ['{"a":', '1']],
    ['an opening brace alone', ['{']],
    ['half a byte order mark', [[0xef, 0xbb], '{}']],
    ['a byte order mark after white space', [' ', [0xef, 0xbb, 0xbf], '{}']],
    ['two byte order marks', [[0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf], '{}']],
  ])('refuses %s', (_name, chunks) => {
    expect(framed(...chunks)).toBe(false);
  });
});
