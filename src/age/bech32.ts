// Bech32 (BIP 173) without the 90-character limit, as age uses it for `age1…` recipients and
// `AGE-SECRET-KEY-1…` identities.
const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const GENERATOR = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

/** The BIP 173 checksum function. */
function polymod(values: number[]): number {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GENERATOR[i]!;
  }
  return chk >>> 0;
}

/** The prefix as the checksum sees it (high bits, separator, low bits). */
function hrpExpand(hrp: string): number[] {
  const out: number[] = [];
  for (const c of hrp) out.push(c.charCodeAt(0) >> 5);
  out.push(0);
  for (const c of hrp) out.push(c.charCodeAt(0) & 31);
  return out;
}

/** Regroups bits (8 → 5 to encode, 5 → 8 to decode); undefined when padding is not canonical. */
function convertBits(data: readonly number[], from: number, to: number, pad: boolean): number[] | undefined {
  let acc = 0;
  let bits = 0;
  const out: number[] = [];
  const max = (1 << to) - 1;
  for (const value of data) {
    acc = (acc << from) | value;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push((acc >> bits) & max);
    }
    acc &= (1 << bits) - 1;
  }
  if (pad) {
    if (bits > 0) out.push((acc << (to - bits)) & max);
  } else if (bits >= from || ((acc << (to - bits)) & max) !== 0) {
    return undefined;
  }
  return out;
}

/** Decodes a bech32 string; returns the lower-case prefix and the bytes, or undefined if invalid. */
export function bech32Decode(text: string): { prefix: string; data: Buffer } | undefined {
  if (text !== text.toLowerCase() && text !== text.toUpperCase()) return undefined;
  const s = text.toLowerCase();
  const sep = s.lastIndexOf('1');
  if (sep < 1 || sep + 7 > s.length) return undefined;
  const prefix = s.slice(0, sep);
  const values: number[] = [];
  for (const c of s.slice(sep + 1)) {
    const v = CHARSET.indexOf(c);
    if (v < 0) return undefined;
    values.push(v);
  }
  if (polymod([...hrpExpand(prefix), ...values]) !== 1) return undefined;
  const bytes = convertBits(values.slice(0, -6), 5, 8, false);
  return bytes ? { prefix, data: Buffer.from(bytes) } : undefined;
}

/** Encodes bytes under a prefix (`age`, `age-secret-key-`), lower case; callers upper-case secrets. */
export function bech32Encode(prefix: string, data: Uint8Array): string {
  const values = convertBits([...data], 8, 5, true)!;
  const checksum = polymod([...hrpExpand(prefix), ...values, 0, 0, 0, 0, 0, 0]) ^ 1;
  const check = Array.from({ length: 6 }, (_, i) => (checksum >>> (5 * (5 - i))) & 31);
  return `${prefix}1${[...values, ...check].map((v) => CHARSET[v]).join('')}`;
}
