// Parsing the age v1 header: the recipient stanzas and the
// header MAC. Spec: https://age-encryption.org/v1 (C2SP age).

export interface Stanza {
  /** The first argument is the stanza type (`X25519`, `ssh-ed25519`, `mlkem768x25519`, …). */
  readonly args: string[];
  readonly body: Buffer;
}

export interface AgeHeader {
  readonly stanzas: Stanza[];
  /** The header bytes covered by the MAC: everything up to and including `---`. */
  readonly headerNoMac: Buffer;
  readonly mac: Buffer;
  /** The header as written, MAC line included (for libraries that re-verify it). */
  readonly headerBytes: Buffer;
  /** Offset of the payload (nonce + STREAM chunks) in the file. */
  readonly payloadOffset: number;
}

const VERSION_LINE = 'age-encryption.org/v1';
const VERSION = Buffer.from(`${VERSION_LINE}\n`, 'latin1');
const MAX_HEADER = 1 << 20;

/** Strict unpadded base64 as age requires: canonical, no padding, no white space. */
export function b64decode(s: string): Buffer {
  if (!/^[A-Za-z0-9+/]*$/.test(s)) throw new Error('invalid base64');
  const out = Buffer.from(s, 'base64');
  if (out.toString('base64').replace(/=+$/, '') !== s) throw new Error('non-canonical base64');
  return out;
}

/** A malformed header; the message says which part, never the content. */
export class AgeFormatError extends Error {
  override name = 'AgeFormatError';
}

/** Parses the header of a binary age file. Throws AgeFormatError on anything malformed. */
export function parseHeader(file: Buffer): AgeHeader {
  let pos = 0;
  const nextLine = (): string => {
    const end = file.indexOf(0x0a, pos);
    if (end < 0 || end - pos > MAX_HEADER) throw new AgeFormatError('truncated header');
    const line = file.subarray(pos, end).toString('latin1');
    pos = end + 1;
    return line;
  };
  // Checked on the bytes first, so text without a newline is "not age", not a "truncated header".
  if (!file.subarray(0, VERSION.length).equals(VERSION)) throw new AgeFormatError('not an age v1 file (bad version line)');
  nextLine();
  const stanzas: Stanza[] = [];
  for (;;) {
    const lineStart = pos;
    const line = nextLine();
    if (line.startsWith('--- ')) {
      const mac = b64decodeOr(line.slice(4), 'header MAC');
      if (mac.length !== 32) throw new AgeFormatError('header MAC has the wrong length');
      const headerNoMac = file.subarray(0, lineStart + 3);
      return { stanzas, headerNoMac, mac, headerBytes: file.subarray(0, pos), payloadOffset: pos };
    }
    if (!line.startsWith('-> ')) throw new AgeFormatError('malformed header line');
    const args = line.slice(3).split(' ');
    if (args.some((a) => a === '' || !/^[\x21-\x7e]+$/.test(a))) throw new AgeFormatError('malformed stanza arguments');
    const chunks: Buffer[] = [];
    for (;;) {
      const bodyLine = nextLine();
      if (bodyLine.length > 64) throw new AgeFormatError('stanza body line longer than 64 columns');
      chunks.push(b64decodeOr(bodyLine, 'stanza body'));
      if (bodyLine.length < 64) break;
    }
    stanzas.push({ args, body: Buffer.concat(chunks) });
    if (stanzas.length > 4096) throw new AgeFormatError('too many stanzas');
  }
}

/** b64decode whose error says which part of the header was bad. */
function b64decodeOr(s: string, what: string): Buffer {
  try {
    return b64decode(s);
  } catch (error) {
    throw new AgeFormatError(`${what}: ${(error as Error).message}`);
  }
}
