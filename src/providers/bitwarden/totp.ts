// The current TOTP code of a login item, as Bitwarden's clients compute it: RFC 6238 over a base32
// secret, or an `otpauth://totp/…` URI (secret, algorithm SHA1/SHA256/SHA512, digits, period), or
// `steam://<secret>` (Steam Guard's five-character codes). `bw get totp` does the same, but one
// `bw` start per code; the codes here come from the single listing of the run.
import { createHmac } from 'node:crypto';

export class TotpError extends Error {
  override name = 'TotpError';
}

interface TotpSpec {
  secret: Buffer;
  algorithm: 'sha1' | 'sha256' | 'sha512';
  digits: number;
  period: number;
  steam: boolean;
}

const STEAM_ALPHABET = '23456789BCDFGHJKMNPQRTVWXY';

/** RFC 4648 base32, case-insensitive, spaces and padding ignored (as authenticator apps accept it). */
export function base32Decode(text: string): Buffer {
  const clean = text.replace(/[\s=-]/g, '').toUpperCase();
  if (!/^[A-Z2-7]+$/.test(clean)) throw new TotpError('the TOTP secret is not base32');
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const c of clean) {
    value = (value << 5) | 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

function parse(seed: string): TotpSpec {
  const text = seed.trim();
  if (/^steam:\/\//i.test(text)) return { secret: base32Decode(text.slice(8)), algorithm: 'sha1', digits: 5, period: 30, steam: true };
  if (!/^otpauth:\/\//i.test(text)) return { secret: base32Decode(text), algorithm: 'sha1', digits: 6, period: 30, steam: false };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TotpError('the TOTP URI is malformed');
  }
  if (url.host.toLowerCase() !== 'totp') throw new TotpError(`only time-based codes are supported (the URI is otpauth://${url.host.toLowerCase() === 'hotp' ? 'hotp' : '…'})`);
  const secret = url.searchParams.get('secret');
  if (!secret) throw new TotpError('the TOTP URI has no secret');
  const algorithm = (url.searchParams.get('algorithm') ?? 'SHA1').toLowerCase();
  if (algorithm !== 'sha1' && algorithm !== 'sha256' && algorithm !== 'sha512') throw new TotpError('the TOTP algorithm is not SHA1, SHA256 or SHA512');
  const digits = Number(url.searchParams.get('digits') ?? 6);
  const period = Number(url.searchParams.get('period') ?? 30);
  if (!Number.isInteger(digits) || digits < 1 || digits > 10) throw new TotpError('the TOTP digits are not between 1 and 10');
  if (!Number.isInteger(period) || period < 1) throw new TotpError('the TOTP period is not a positive number of seconds');
  const steam = url.searchParams.get('encoder')?.toLowerCase() === 'steam';
  return { secret: base32Decode(secret), algorithm, digits: steam ? 5 : digits, period, steam };
}

/** The code for `seed` at `nowMs` (default: now). */
export function totpCode(seed: string, nowMs = Date.now()): string {
  const spec = parse(seed);
  return hotp(spec, Math.floor(nowMs / 1000 / spec.period));
}

/** RFC 4226 HOTP with RFC 6238's counter; Steam maps the truncated value onto its own alphabet. */
export function hotp(spec: Pick<TotpSpec, 'secret' | 'algorithm' | 'digits' | 'steam'>, counter: number): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac(spec.algorithm, spec.secret).update(message).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  let value = mac.readUInt32BE(offset) & 0x7fffffff;
  if (spec.steam) {
    let code = '';
    for (let i = 0; i < 5; i++) {
      code += STEAM_ALPHABET[value % STEAM_ALPHABET.length];
      value = Math.floor(value / STEAM_ALPHABET.length);
    }
    return code;
  }
  return String(value % 10 ** spec.digits).padStart(spec.digits, '0');
}
