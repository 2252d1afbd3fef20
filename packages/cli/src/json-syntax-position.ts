/**
 * Where a JSON text first breaks the grammar, found without the parser's message: V8's
 * `SyntaxError` quotes the text around the error (`…"tSecret": 'hunter2-S"… is not valid JSON`),
 * and a configuration file may hold a secret pasted by mistake, so the CLI reports only a position.
 */

/** A position in a text: `offset` in UTF-16 code units from 0; `line` and `column` from 1. */
export interface TextPosition {
  readonly offset: number;
  readonly line: number;
  readonly column: number;
}

/** Thrown inside the scanner only, to stop at the first error. */
class SyntaxAt {
  constructor(readonly offset: number) {}
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const ESCAPED = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);
const HEX_DIGIT = /^[0-9a-fA-F]$/;

function isJsonSpace(character: string | undefined): boolean {
  return character === ' ' || character === '\t' || character === '\n' || character === '\r';
}

/** The offset just after the string that starts (with `"`) at `start`. */
function skipString(text: string, start: number): number {
  let index = start + 1;
  for (;;) {
    if (index >= text.length) throw new SyntaxAt(text.length);
    const character = text[index] ?? '';
    if (character === '"') return index + 1;
    if (character.charCodeAt(0) < 0x20) throw new SyntaxAt(index);
    if (character !== '\\') {
      index += 1;
      continue;
    }
    const escaped = text[index + 1];
    if (escaped === undefined) throw new SyntaxAt(text.length);
    if (ESCAPED.has(escaped)) {
      index += 2;
      continue;
    }
    if (escaped !== 'u') throw new SyntaxAt(index + 1);
    for (let digit = index + 2; digit < index + 6; digit += 1) if (!HEX_DIGIT.test(text[digit] ?? '')) throw new SyntaxAt(Math.min(digit, text.length));
    index += 6;
  }
}

/** The offset just after the string, number or literal that starts at `start`. */
function skipScalar(text: string, start: number): number {
  if (text[start] === '"') return skipString(text, start);
  for (const literal of ['true', 'false', 'null']) if (text.startsWith(literal, start)) return start + literal.length;
  NUMBER.lastIndex = start;
  if (NUMBER.exec(text) === null) throw new SyntaxAt(start);
  return NUMBER.lastIndex;
}

type Expected = 'value' | 'value-or-close' | 'key' | 'key-or-close' | 'colon' | 'comma-or-close' | 'end';

/** The offset of the first syntax error, or undefined when `text` is JSON. Iterative: nesting depth is no limit. */
function syntaxErrorOffset(text: string): number | undefined {
  const open: ('{' | '[')[] = [];
  let expected: Expected = 'value';
  let index = 0;
  const afterValue = (): Expected => (open.length === 0 ? 'end' : 'comma-or-close');
  for (;;) {
    while (isJsonSpace(text[index])) index += 1;
    const character = text[index];
    if (character === undefined) return expected === 'end' ? undefined : text.length;
    if (expected === 'end') return index;
    if (expected === 'colon') {
      if (character !== ':') return index;
      index += 1;
      expected = 'value';
    } else if (expected === 'comma-or-close') {
      const container = open[open.length - 1];
      if (character === ',') {
        index += 1;
        expected = container === '{' ? 'key' : 'value';
      } else if ((character === '}' && container === '{') || (character === ']' && container === '[')) {
        index += 1;
        open.pop();
        expected = afterValue();
      } else return index;
    } else if ((character === '}' && expected === 'key-or-close') || (character === ']' && expected === 'value-or-close')) {
      index += 1;
      open.pop();
      expected = afterValue();
    } else if (expected === 'key' || expected === 'key-or-close') {
      if (character !== '"') return index;
      index = skipString(text, index);
      expected = 'colon';
    } else if (character === '{' || character === '[') {
      index += 1;
      open.push(character);
      expected = character === '{' ? 'key-or-close' : 'value-or-close';
    } else {
      index = skipScalar(text, index);
      expected = afterValue();
    }
  }
}

/**
 * The position of the first syntax error in `text`, or undefined when `text` is valid JSON. An
 * error at `text.length` means the text ends too early.
 *
 * @example
 * jsonSyntaxErrorPosition(`{"a":\n 'b'}`); // { offset: 7, line: 2, column: 2 }
 */
export function jsonSyntaxErrorPosition(text: string): TextPosition | undefined {
  let offset: number | undefined;
  try {
    offset = syntaxErrorOffset(text);
  } catch (error) {
    if (!(error instanceof SyntaxAt)) throw error;
    offset = error.offset;
  }
  if (offset === undefined) return undefined;
  const before = text.slice(0, offset);
  const lineStart = before.lastIndexOf('\n') + 1;
  return Object.freeze({ offset, line: before.split('\n').length, column: offset - lineStart + 1 });
}
