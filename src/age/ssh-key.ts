// SSH keys as data: parsing OpenSSH, PEM and PKCS#8 private keys and public key lines, and the
// ed25519 → X25519 conversion (what ssh-to-age and sops-nix do). No decryption here.
import { createHash, createPrivateKey, type KeyObject } from 'node:crypto';
import { bech32Encode } from './bech32.js';

/** Why an SSH key cannot be used; the message never holds key material. */
export class SshKeyError extends Error {
  override name = 'SshKeyError';
}

/** Reader for the SSH wire format (RFC 4251 strings and integers). */
class Wire {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  u32(): number {
    if (this.pos + 4 > this.buf.length) throw new SshKeyError('truncated key');
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  bytes(): Buffer {
    const n = this.u32();
    if (this.pos + n > this.buf.length) throw new SshKeyError('truncated key');
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  string(): string {
    return this.bytes().toString('latin1');
  }
}

/** A length-prefixed SSH string, to rebuild a key's wire form from PEM parts. */
function wireString(data: Buffer | string): Buffer {
  const b = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

/** An mpint from unsigned big-endian bytes: minimal, with a 0x00 pad when the top bit is set. */
function mpint(unsigned: Buffer): Buffer {
  let i = 0;
  while (i < unsigned.length - 1 && unsigned[i] === 0) i++;
  let v = unsigned.subarray(i);
  if (v.length > 0 && v[0]! & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return wireString(v);
}

/** An mpint's magnitude without leading zeros, as JWK wants it. */
function unsignedBytes(mp: Buffer): Buffer {
  let i = 0;
  while (i < mp.length - 1 && mp[i] === 0) i++;
  return mp.subarray(i);
}

// BigInt helpers: OpenSSH stores no CRT exponents, and OpenSSL's JWK import needs them.
const b64url = (b: Buffer) => b.toString('base64url');
const toBig = (b: Buffer) => (b.length === 0 ? 0n : BigInt(`0x${b.toString('hex')}`));
const fromBig = (n: bigint) => {
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  return Buffer.from(hex, 'hex');
};

/** A parsed private key: what the identities need, and its public wire form (for tags and recipients). */
export type SshPrivateKey =
  | { type: 'ssh-ed25519'; seed: Buffer; publicKey: Buffer; wire: Buffer }
  | { type: 'ssh-rsa'; key: KeyObject; wire: Buffer };

const PASSPHRASE = 'the key is passphrase-protected, and nothing can type a passphrase at boot (use a key without one; `ssh-keygen -p` removes it)';

/**
 * Parses an unencrypted private key: OpenSSH's `openssh-key-v1` (ed25519 or RSA), PEM RSA
 * (`BEGIN RSA PRIVATE KEY`) or PKCS#8 (`BEGIN PRIVATE KEY`, RSA or ed25519), as age accepts them.
 * Passphrase-protected keys are refused with a clear reason (a host key at boot has no one to ask).
 */
export function parseSshPrivateKey(text: string): SshPrivateKey {
  const trimmed = text.trim();
  if (trimmed.startsWith('-----BEGIN OPENSSH PRIVATE KEY-----')) return parseOpenSsh(trimmed);
  // Checked before parsing: an encrypted PEM key would otherwise fail as merely "unreadable".
  if (trimmed.startsWith('-----BEGIN ENCRYPTED PRIVATE KEY-----') || /^Proc-Type: *4, *ENCRYPTED/m.test(trimmed)) {
    throw new SshKeyError(PASSPHRASE);
  }
  if (/^-----BEGIN (RSA )?PRIVATE KEY-----/.test(trimmed)) return parsePem(trimmed);
  throw new SshKeyError('not an SSH private key (expected an OpenSSH, PEM RSA or PKCS#8 private key)');
}

/** PEM RSA and PKCS#8 keys, through OpenSSL; the SSH wire form is rebuilt from the public part. */
function parsePem(text: string): SshPrivateKey {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: text, format: 'pem' });
  } catch {
    throw new SshKeyError('not a readable PEM private key');
  }
  const jwk = key.export({ format: 'jwk' });
  if (key.asymmetricKeyType === 'rsa') {
    const wire = Buffer.concat([wireString('ssh-rsa'), mpint(Buffer.from(jwk.e!, 'base64url')), mpint(Buffer.from(jwk.n!, 'base64url'))]);
    return { type: 'ssh-rsa', key, wire };
  }
  if (key.asymmetricKeyType === 'ed25519') {
    const publicKey = Buffer.from(jwk.x!, 'base64url');
    return { type: 'ssh-ed25519', seed: Buffer.from(jwk.d!, 'base64url'), publicKey, wire: Buffer.concat([wireString('ssh-ed25519'), wireString(publicKey)]) };
  }
  throw new SshKeyError(`unsupported PEM key type ${key.asymmetricKeyType} (ed25519 and RSA are supported)`);
}

/** `openssh-key-v1` (what ssh-keygen writes by default): one unencrypted ed25519 or RSA key. */
function parseOpenSsh(text: string): SshPrivateKey {
  const body = text.replace(/-----(BEGIN|END) OPENSSH PRIVATE KEY-----/g, '').replace(/\s+/g, '');
  const data = Buffer.from(body, 'base64');
  const magic = Buffer.from('openssh-key-v1\0', 'latin1');
  if (!data.subarray(0, magic.length).equals(magic)) throw new SshKeyError('not an openssh-key-v1 key');
  const r = new Wire(data);
  r.pos = magic.length;
  const cipher = r.string();
  r.string(); // kdf name
  r.bytes(); // kdf options
  if (cipher !== 'none') throw new SshKeyError(PASSPHRASE);
  if (r.u32() !== 1) throw new SshKeyError('expected exactly one key in the file');
  const wire = Buffer.from(r.bytes());
  const p = new Wire(r.bytes());
  if (p.u32() !== p.u32()) throw new SshKeyError('corrupt private section');
  const type = p.string();
  if (type === 'ssh-ed25519') {
    const publicKey = p.bytes();
    const secret = p.bytes();
    if (publicKey.length !== 32 || secret.length !== 64) throw new SshKeyError('corrupt ed25519 key');
    return { type, seed: Buffer.from(secret.subarray(0, 32)), publicKey: Buffer.from(publicKey), wire };
  }
  if (type === 'ssh-rsa') {
    const [n, e, d, iqmp, pp, q] = [p.bytes(), p.bytes(), p.bytes(), p.bytes(), p.bytes(), p.bytes()].map(unsignedBytes) as [Buffer, Buffer, Buffer, Buffer, Buffer, Buffer];
    const D = toBig(d);
    const jwk = {
      kty: 'RSA',
      n: b64url(n),
      e: b64url(e),
      d: b64url(d),
      p: b64url(pp),
      q: b64url(q),
      dp: b64url(fromBig(D % (toBig(pp) - 1n))),
      dq: b64url(fromBig(D % (toBig(q) - 1n))),
      qi: b64url(iqmp),
    };
    let key: KeyObject;
    try {
      key = createPrivateKey({ key: jwk, format: 'jwk' });
    } catch {
      throw new SshKeyError('corrupt RSA key');
    }
    return { type, key, wire };
  }
  // The type name comes from inside the file: shown only when it looks like a key type name.
  const shown = /^[a-z0-9@.-]{1,40}$/.test(type) ? type : 'an unreadable one';
  throw new SshKeyError(`unsupported key type ${shown} (ed25519 and RSA are supported)`);
}

/** The X25519 scalar an ed25519 key converts to: the first half of SHA-512(seed) (X25519 clamps it). */
export function ed25519ToX25519Scalar(seed: Buffer): Buffer {
  return createHash('sha512').update(seed).digest().subarray(0, 32);
}

const P = 2n ** 255n - 19n;
/** base^exp mod p, for the field inversion in the Edwards → Montgomery map (public data only). */
function modPow(base: bigint, exp: bigint): bigint {
  let result = 1n;
  let b = base % P;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return result;
}

/** Converts an ed25519 public key to its X25519 (Montgomery) form: u = (1 + y) / (1 − y). */
export function ed25519PublicToX25519(publicKey: Buffer): Buffer {
  if (publicKey.length !== 32) throw new SshKeyError('ed25519 public key must be 32 bytes');
  const le = Buffer.from(publicKey);
  le[31]! &= 0x7f;
  const y = BigInt(`0x${Buffer.from(le).reverse().toString('hex')}`);
  if (y >= P || y === 1n) throw new SshKeyError('invalid ed25519 public key');
  const u = (((1n + y) % P) * modPow((1n - y + P) % P, P - 2n)) % P;
  const hex = u.toString(16).padStart(64, '0');
  return Buffer.from(hex, 'hex').reverse();
}

/** A public SSH key line (`ssh-ed25519 AAAA… comment`), parsed; comments are dropped. */
export interface SshPublicKey {
  type: 'ssh-ed25519' | 'ssh-rsa';
  /** The canonical `type base64` line, without the comment. */
  line: string;
  /** The `age1…` recipient of the converted key (ed25519 only): what ssh-to-age prints. */
  ageRecipient?: string;
}

/** What a line that is not a public key looks like, without repeating any of it. */
function describeNonKey(first: string): string {
  if (/^AGE-SECRET-KEY-/i.test(first)) return 'it is an age secret key';
  if (/^-----BEGIN/.test(first)) return 'it is a PEM block, perhaps a private key';
  if (/^age1/.test(first)) return 'it is an age recipient already';
  if (/^(ecdsa-|sk-|ssh-dss)/.test(first)) return 'an unsupported SSH key type';
  return 'it is something else';
}

/** Parses one public key line as found in `*.pub` files and authorized_keys (without options). */
export function parseSshPublicLine(text: string): SshPublicKey {
  const parts = text.trim().split(/\s+/);
  const type = parts[0];
  // Never quote the line: a secret key or an env file passed here by mistake would be printed.
  if (type !== 'ssh-ed25519' && type !== 'ssh-rsa') throw new SshKeyError(`not an ssh-ed25519 or ssh-rsa public key line${type ? ` (${describeNonKey(type)})` : ''}`);
  if (!parts[1] || !/^[A-Za-z0-9+/]+={0,2}$/.test(parts[1])) throw new SshKeyError('malformed public key (bad base64)');
  const wire = Buffer.from(parts[1], 'base64');
  const r = new Wire(wire);
  if (r.string() !== type) throw new SshKeyError('malformed public key (the key type inside does not match)');
  if (type === 'ssh-rsa') {
    r.bytes();
    r.bytes();
    if (r.pos !== wire.length) throw new SshKeyError('malformed public key (trailing data)');
    return { type, line: sshPublicLine(wire) };
  }
  const point = r.bytes();
  if (r.pos !== wire.length) throw new SshKeyError('malformed public key (trailing data)');
  return { type, line: sshPublicLine(wire), ageRecipient: bech32Encode('age', ed25519PublicToX25519(point)) };
}

/** `age1…` for an `ssh-ed25519 AAAA…` public key line (what ssh-to-age prints). */
export function sshEd25519PublicLineToAge(line: string): string {
  const key = parseSshPublicLine(line);
  if (!key.ageRecipient) throw new SshKeyError('not an ssh-ed25519 public key');
  return key.ageRecipient;
}

/** `type base64` for a key's wire form: the recipient string age and agenix accept. */
export function sshPublicLine(wire: Buffer): string {
  return `${new Wire(wire).string()} ${wire.toString('base64')}`;
}
