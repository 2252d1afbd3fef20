/**
 * Text from anywhere (a provider's error message, a path, a flag's value) made safe to print as
 * part of one line on a terminal. A message is not trusted to be plain: a hostile or broken
 * provider, or any package's error that quotes its input, could otherwise break the `error:` line,
 * forge further lines (`earnbook: defi 2025-03-18: CLEAN`), or send escape sequences that clear
 * the screen or recolour what follows.
 */

import { escapeUnsafeText } from '@earnbook/earn-client';

/**
 * Returns `text` with every unsafe character written as a `\uXXXX` escape, as JSON writes a
 * control character, so that it prints as one line with nothing a terminal interprets, reorders or
 * hides. The rule is the Earn client's ({@link escapeUnsafeText}), so a provider's text reads the
 * same in the client's errors and on the terminal: C0 controls (line feed, carriage return, ESC,
 * …), DEL, C1 controls (CSI U+009B starts an escape sequence on some terminals), format
 * characters (the bidirectional marks, embeddings, overrides and isolates reorder what a reader
 * sees on the line; zero-width characters, the BOM and the soft hyphen hide), the Unicode line
 * and paragraph separators, and lone UTF-16 surrogates (Node would write them as U+FFFD). Other
 * text (accents, emoji, backslashes) is kept as it is.
 *
 * @example
 * singleLine('nope\n\u001b[2J'); // 'nope\\u000a\\u001b[2J'
 */
export function singleLine(text: string): string {
  return escapeUnsafeText(text);
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
