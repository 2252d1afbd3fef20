/**
 * Well-formed text in the contract's strings. JSON may carry a lone UTF-16 surrogate
 * (`"\ud800"`) or NUL (`"\u0000"`) as escapes; neither is text a database or a log can hold
 * faithfully (a lone surrogate becomes U+FFFD, so two different ids become one; PostgreSQL
 * refuses NUL), so the client refuses both in every string it validates, keys included.
 */

/** A lone high surrogate (not followed by a low one) or a lone low surrogate (not after a high one). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why `value` is not well-formed text, or `undefined` when it is. */
export function textDefect(value: string): string | undefined {
  if (value.includes('\u0000')) return 'a NUL character';
  if (LONE_SURROGATE.test(value)) return 'a lone UTF-16 surrogate';
  return undefined;
}

/** Where a parsed JSON value holds a string that is not well-formed, and why. */
export interface TextDefectAt {
  /** JSON-pointer segments of the offending string (of the object holding it, for a key). */
  readonly segments: readonly string[];
  readonly defect: string;
}

/** Nesting levels walked at most; the contract's documents are far shallower. */
const depthMax = 64;

/** A node of the walk: its value and how it was reached (segments are built only on a defect). */
interface WalkNode {
  readonly value: unknown;
  readonly parent: WalkNode | undefined;
  readonly key: string;
  readonly depth: number;
}

function segmentsOf(node: WalkNode | undefined): string[] {
  const segments: string[] = [];
  for (let current = node; current?.parent !== undefined; current = current.parent) segments.push(current.key);
  return segments.reverse();
}

/**
 * Finds the first string (value or object key) of `value` that is not well-formed. `sourceText`,
 * the JSON the value was parsed from, allows a shortcut: without a `\u` escape no string of it
 * can hold a lone surrogate or NUL (raw ones are invalid JSON or decode as U+FFFD).
 */
export function findTextDefect(value: unknown, sourceText?: string): TextDefectAt | undefined {
  if (sourceText !== undefined && !sourceText.includes('\\u')) return undefined;
  const stack: WalkNode[] = [{ value, parent: undefined, key: '', depth: 0 }];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    if (typeof node.value === 'string') {
      const defect = textDefect(node.value);
      if (defect !== undefined) return { segments: segmentsOf(node), defect };
    } else if (node.value !== null && typeof node.value === 'object' && node.depth < depthMax) {
      const keys = Object.keys(node.value);
      for (let index = keys.length - 1; index >= 0; index -= 1) {
        const key = keys[index] as string;
        const keyDefect = textDefect(key);
        if (keyDefect !== undefined) return { segments: segmentsOf(node), defect: `${keyDefect} in a key` };
        stack.push({ value: (node.value as Record<string, unknown>)[key], parent: node, key, depth: node.depth + 1 });
      }
    }
  }
  return undefined;
}
