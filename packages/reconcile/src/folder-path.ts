/** Whether `text` is a usable folder path: text, not empty, without a NUL (no file system takes one: it is an argument error, the caller's input). */
export function isFolderPath(text: unknown): text is string {
  return typeof text === 'string' && text.length > 0 && !text.includes('\0');
}
