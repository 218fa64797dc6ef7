// The ASCII armor of age files (`-----BEGIN AGE ENCRYPTED FILE-----`), as `age -a` and sops write
// it, read as strictly as the C2SP age spec and the reference implementation read it: exact
// BEGIN/END lines, 64-column lines of padded canonical base64, only the last one short, no empty
// or indented lines, LF or CRLF; white space only around the whole block (at most 1 KiB each side).
const BEGIN = '-----BEGIN AGE ENCRYPTED FILE-----';
const END = '-----END AGE ENCRYPTED FILE-----';
const COLUMNS = 64;
const BYTES_PER_LINE = (COLUMNS / 4) * 3;
const MAX_WHITESPACE = 1024;

/** Malformed armor; the message says what is wrong and where, never the content. */
export class ArmorError extends Error {
  override name = 'ArmorError';
}

const isSpace = (b: number) => b === 0x20 || (b >= 0x09 && b <= 0x0d);

/**
 * True when the bytes are meant as armor: not a binary age file, and an age BEGIN line (however
 * mangled: lower case, other spacing, another label, garbage before it) in the first 4 KiB. Such a
 * file then fails as bad armor, not as "not an age file"; a PGP block or plain text does not match.
 */
export function isArmored(data: Uint8Array): boolean {
  const head = Buffer.from(data.buffer, data.byteOffset, Math.min(data.byteLength, 4096)).toString('latin1');
  if (head.startsWith('age-encryption.org/')) return false;
  return /-{3,}\s*BEGIN\s+AGE\s+ENCRYPTED/i.test(head);
}

/** Splits text into lines as the reference reader does: LF ends a line, one CR before it is dropped. */
function* lines(text: string, from: number): Generator<{ line: string; end: number }> {
  let pos = from;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    const end = nl < 0 ? text.length : nl + 1;
    let line = text.slice(pos, nl < 0 ? text.length : nl);
    if (line.endsWith('\r')) line = line.slice(0, -1);
    yield { line, end };
    pos = end;
  }
}

/** Strict padded base64 of one armor line: canonical, nothing but the alphabet and final `=`. */
function decodeLine(line: string, n: number): Buffer {
  if (line.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(line)) throw new ArmorError(`invalid base64 (line ${n})`);
  const out = Buffer.from(line, 'base64');
  // Node's decoder is lenient (non-zero pad bits): only canonical text is accepted.
  if (out.toString('base64') !== line) throw new ArmorError(`non-canonical base64 (line ${n})`);
  return out;
}

/** Decodes armored text to the binary age file; throws ArmorError saying what is malformed. */
export function dearmor(data: Uint8Array | string): Buffer {
  const text = typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1');
  let start = 0;
  while (start < text.length && isSpace(text.charCodeAt(start))) start++;
  // Leading white space is taken by whole lines: back up to the start of the BEGIN line.
  start = text.lastIndexOf('\n', start) + 1;
  if (start > MAX_WHITESPACE) throw new ArmorError('too much white space before the armor');
  const it = lines(text, start);
  const first = it.next();
  if (first.done || first.value.line !== BEGIN) throw new ArmorError(`missing BEGIN line (the first line that is not blank must be ${BEGIN})`);
  const parts: Buffer[] = [];
  let n = 1;
  for (const { line, end } of it) {
    n++;
    if (line === END) return finish(text, end, parts);
    if (line === '') throw new ArmorError(`empty line in the armor (line ${n})`);
    if (line.length > COLUMNS) throw new ArmorError(`line longer than ${COLUMNS} columns (line ${n})`);
    const bytes = decodeLine(line, n);
    parts.push(bytes);
    if (bytes.length < BYTES_PER_LINE) {
      // A short line is the last one: the END line must follow.
      const next = it.next();
      if (next.done) throw new ArmorError('missing END line');
      if (next.value.line !== END) throw new ArmorError(line.endsWith('=') ? `non-canonical base64 (padding before the last line, line ${n})` : `short line before the last (line ${n})`);
      return finish(text, next.value.end, parts);
    }
  }
  throw new ArmorError('missing END line');
}

/** After the END line only white space may follow, and not much of it. */
function finish(text: string, end: number, parts: Buffer[]): Buffer {
  const rest = text.slice(end);
  for (let i = 0; i < rest.length; i++) if (!isSpace(rest.charCodeAt(i))) throw new ArmorError(`data after ${END}`);
  if (rest.length >= MAX_WHITESPACE) throw new ArmorError(`too much white space after ${END}`);
  return Buffer.concat(parts);
}
