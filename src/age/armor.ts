// The ASCII armor of age files (`-----BEGIN AGE ENCRYPTED FILE-----`), as `age -a` and sops write it.
const BEGIN = '-----BEGIN AGE ENCRYPTED FILE-----';
const END = '-----END AGE ENCRYPTED FILE-----';

/** True when the bytes (after leading white space) start with the armor header. */
export function isArmored(data: Uint8Array): boolean {
  let i = 0;
  while (i < data.length && (data[i] === 0x20 || data[i] === 0x09 || data[i] === 0x0a || data[i] === 0x0d)) i++;
  return Buffer.from(data.subarray(i, i + BEGIN.length)).toString('latin1') === BEGIN;
}

/** Decodes armored text to the binary age file; throws a short reason when malformed. */
export function dearmor(data: Uint8Array | string): Buffer {
  const text = (typeof data === 'string' ? data : Buffer.from(data).toString('latin1')).replace(/\r\n/g, '\n').trim();
  if (!text.startsWith(BEGIN)) throw new Error('armor: missing BEGIN line');
  if (!text.endsWith(END)) throw new Error('armor: missing END line');
  const body = text.slice(BEGIN.length, text.length - END.length).split('\n').map((l) => l.trim()).filter((l) => l !== '');
  for (const [i, line] of body.entries()) {
    if (line.length > 64) throw new Error('armor: line longer than 64 columns');
    if (i < body.length - 1 && line.length !== 64) throw new Error('armor: short line before the last');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(line)) throw new Error('armor: invalid base64');
  }
  const joined = body.join('');
  if (joined.length % 4 !== 0) throw new Error('armor: truncated base64');
  const out = Buffer.from(joined, 'base64');
  // Node's decoder is lenient (padding mid-text, non-zero pad bits): only canonical text is accepted.
  if (out.toString('base64') !== joined) throw new Error('armor: non-canonical base64');
  return out;
}

/** Armors binary age data as `age -a` does (tests and the demo). */
export function armor(data: Uint8Array): string {
  const b64 = Buffer.from(data).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `${BEGIN}\n${lines.join('\n')}${lines.length ? '\n' : ''}${END}\n`;
}
