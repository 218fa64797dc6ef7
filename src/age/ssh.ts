// SSH keys as age identities, natively:
// - an ed25519 host key converted to an X25519 identity (what sops-nix's sshKeyPaths / ssh-to-age do);
// - native `ssh-ed25519` and `ssh-rsa` stanzas (files made with `age -R ~/.ssh/id_ed25519.pub`).
import { createHash, createPrivateKey, privateDecrypt, constants, type KeyObject } from 'node:crypto';
import { bech32Encode } from './bech32.js';
import { b64decode, type AgeHeader } from './format.js';
import { StanzaError, X25519Identity, type AgeIdentity } from './identity.js';
import { chachaOpen, hkdf, x25519, x25519PrivateKey, x25519PublicBytes, ZERO_NONCE } from './primitives.js';

const ED25519_LABEL = 'age-encryption.org/v1/ssh-ed25519';
const RSA_LABEL = 'age-encryption.org/v1/ssh-rsa';

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

function unsignedBytes(mp: Buffer): Buffer {
  let i = 0;
  while (i < mp.length - 1 && mp[i] === 0) i++;
  return mp.subarray(i);
}

const b64url = (b: Buffer) => b.toString('base64url');
const toBig = (b: Buffer) => (b.length === 0 ? 0n : BigInt(`0x${b.toString('hex')}`));
const fromBig = (n: bigint) => {
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  return Buffer.from(hex, 'hex');
};

export type SshPrivateKey =
  | { type: 'ssh-ed25519'; seed: Buffer; publicKey: Buffer; wire: Buffer }
  | { type: 'ssh-rsa'; key: KeyObject; wire: Buffer };

/**
 * Parses an unencrypted private key: OpenSSH's `openssh-key-v1` (ed25519 or RSA) or PEM RSA.
 * Passphrase-protected keys are refused with a clear reason (a host key at boot has no one to ask).
 */
export function parseSshPrivateKey(text: string): SshPrivateKey {
  const trimmed = text.trim();
  if (trimmed.startsWith('-----BEGIN OPENSSH PRIVATE KEY-----')) return parseOpenSsh(trimmed);
  if (/^-----BEGIN (RSA )?PRIVATE KEY-----/.test(trimmed)) {
    let key: KeyObject;
    try {
      key = createPrivateKey({ key: trimmed, format: 'pem' });
    } catch {
      throw new SshKeyError('not a readable PEM private key');
    }
    if (key.asymmetricKeyType !== 'rsa') throw new SshKeyError(`unsupported PEM key type ${key.asymmetricKeyType}`);
    const jwk = key.export({ format: 'jwk' });
    const wire = Buffer.concat([wireString('ssh-rsa'), mpint(Buffer.from(jwk.e!, 'base64url')), mpint(Buffer.from(jwk.n!, 'base64url'))]);
    return { type: 'ssh-rsa', key, wire };
  }
  if (trimmed.startsWith('-----BEGIN ENCRYPTED PRIVATE KEY-----') || /Proc-Type: 4,ENCRYPTED/.test(trimmed)) {
    throw new SshKeyError('the key is passphrase-protected');
  }
  throw new SshKeyError('not an SSH private key');
}

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
  if (cipher !== 'none') throw new SshKeyError('the key is passphrase-protected');
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
  throw new SshKeyError(`unsupported key type ${type} (ed25519 and RSA are supported)`);
}

/** The X25519 scalar an ed25519 key converts to: the first half of SHA-512(seed) (X25519 clamps it). */
export function ed25519ToX25519Scalar(seed: Buffer): Buffer {
  return createHash('sha512').update(seed).digest().subarray(0, 32);
}

const P = 2n ** 255n - 19n;
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

/** `age1…` for an `ssh-ed25519 AAAA…` public key line (what ssh-to-age prints). */
export function sshEd25519PublicLineToAge(line: string): string {
  const parts = line.trim().split(/\s+/);
  if (parts[0] !== 'ssh-ed25519' || !parts[1]) throw new SshKeyError('not an ssh-ed25519 public key');
  const r = new Wire(Buffer.from(parts[1], 'base64'));
  if (r.string() !== 'ssh-ed25519') throw new SshKeyError('not an ssh-ed25519 public key');
  return bech32Encode('age', ed25519PublicToX25519(r.bytes()));
}

function sshTag(wire: Buffer): string {
  return createHash('sha256').update(wire).digest().subarray(0, 4).toString('base64').replace(/=+$/, '');
}

export function sshPublicLine(wire: Buffer): string {
  return `${new Wire(wire).string()} ${wire.toString('base64')}`;
}

/** Opens native `ssh-ed25519` stanzas (age's SSH recipient type). */
export class SshEd25519Identity implements AgeIdentity {
  readonly stanzaTypes = ['ssh-ed25519'];
  readonly recipient: string;
  readonly #scalar: KeyObject;
  readonly #ourPoint: Buffer;
  readonly #wire: Buffer;
  readonly #tag: string;
  constructor(
    key: Extract<SshPrivateKey, { type: 'ssh-ed25519' }>,
    readonly origin: string,
  ) {
    this.#scalar = x25519PrivateKey(ed25519ToX25519Scalar(key.seed));
    this.#ourPoint = x25519PublicBytes(this.#scalar);
    this.#wire = key.wire;
    this.#tag = sshTag(key.wire);
    this.recipient = sshPublicLine(key.wire);
  }

  unwrap(header: AgeHeader): Buffer | null {
    for (const stanza of header.stanzas) {
      if (stanza.args[0] !== 'ssh-ed25519') continue;
      if (stanza.args.length !== 3) throw new StanzaError('malformed ssh-ed25519 stanza');
      if (stanza.args[1] !== this.#tag) continue;
      const share = b64decode(stanza.args[2]!);
      if (share.length !== 32 || stanza.body.length !== 32) throw new StanzaError('malformed ssh-ed25519 stanza');
      const tweak = hkdf(Buffer.alloc(0), this.#wire, ED25519_LABEL);
      const shared = x25519(x25519PrivateKey(tweak), x25519(this.#scalar, share));
      const wrapKey = hkdf(shared, Buffer.concat([share, this.#ourPoint]), ED25519_LABEL);
      const fileKey = chachaOpen(wrapKey, ZERO_NONCE, stanza.body);
      if (fileKey) return fileKey;
    }
    return null;
  }
}

/** Opens native `ssh-rsa` stanzas (RSA-OAEP-SHA256 with age's label). */
export class SshRsaIdentity implements AgeIdentity {
  readonly stanzaTypes = ['ssh-rsa'];
  readonly recipient: string;
  readonly #key: KeyObject;
  readonly #tag: string;
  constructor(
    key: Extract<SshPrivateKey, { type: 'ssh-rsa' }>,
    readonly origin: string,
  ) {
    this.#key = key.key;
    this.#tag = sshTag(key.wire);
    this.recipient = sshPublicLine(key.wire);
  }

  unwrap(header: AgeHeader): Buffer | null {
    for (const stanza of header.stanzas) {
      if (stanza.args[0] !== 'ssh-rsa') continue;
      if (stanza.args.length !== 2) throw new StanzaError('malformed ssh-rsa stanza');
      if (stanza.args[1] !== this.#tag) continue;
      try {
        const fileKey = privateDecrypt({ key: this.#key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: Buffer.from(RSA_LABEL) }, stanza.body);
        if (fileKey.length === 16) return fileKey;
      } catch {
        // Not ours, or damaged: age treats both as "this identity does not match".
      }
    }
    return null;
  }
}

/** Every identity an SSH private key provides: native SSH stanzas, plus the converted X25519 key for ed25519. */
export function sshIdentities(key: SshPrivateKey, origin: string): AgeIdentity[] {
  if (key.type === 'ssh-rsa') return [new SshRsaIdentity(key, origin)];
  return [new SshEd25519Identity(key, origin), new X25519Identity(ed25519ToX25519Scalar(key.seed), `${origin} (as X25519)`)];
}
