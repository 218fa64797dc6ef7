// Where an offset lies in a text, counted as editors count (line and column from 1). Messages about
// bad input name such positions, never the text there: it may be a secret.

/** `line L, column C` of a character offset. */
export function position(text: string, offset: number): string {
  const before = text.slice(0, offset);
  return `line ${before.split('\n').length}, column ${offset - before.lastIndexOf('\n')}`;
}
