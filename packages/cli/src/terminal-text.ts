/**
 * Text from anywhere (a provider's error message, a path, a flag's value) made safe to print as
 * part of one line on a terminal. A message is not trusted to be plain: a hostile or broken
 * provider, or any package's error that quotes its input, could otherwise break the `error:` line,
 * forge further lines (`earnbook: defi 2025-03-18: CLEAN`), or send escape sequences that clear
 * the screen or recolour what follows.
 */

/**
 * Characters that are escaped: C0 controls (line feed, carriage return, ESC, …), DEL, C1 controls
 * (CSI U+009B starts an escape sequence on some terminals), the Unicode line and paragraph
 * separators, the bidirectional marks, embeddings, overrides and isolates (they reorder what a
 * reader sees on the line), and lone UTF-16 surrogates (Node would write them as U+FFFD).
 */
// eslint-disable-next-line no-control-regex
const UNSAFE_CHARACTER = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Returns `text` with every unsafe character written as a `\uXXXX` escape, as JSON writes a
 * control character, so that it prints as one line with nothing a terminal interprets. Other text
 * (accents, emoji, backslashes) is kept as it is.
 *
 * @example
 * singleLine('nope\n\u001b[2J'); // 'nope\\u000a\\u001b[2J'
 */
export function singleLine(text: string): string {
  return text.replace(UNSAFE_CHARACTER, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * The stack frames of `error` (the `    at …` lines after its `name: message` head), each made a
 * {@link singleLine}, or undefined when the stack does not start with that head: the message may
 * hold line breaks, so the frames are only told apart from it when the head is known.
 */
export function stackFrames(error: Error): string | undefined {
  const stack = error.stack;
  if (stack === undefined) return undefined;
  const head = error.message === '' ? error.name : error.name === '' ? error.message : `${error.name}: ${error.message}`;
  if (!stack.startsWith(`${head}\n`)) return undefined;
  return stack
    .slice(head.length + 1)
    .split('\n')
    .map(singleLine)
    .join('\n');
}
