// An RSA SSH private key as an OpenPGP key, the way sops-nix's `gnupg.sshKeyPaths` makes one
// (sops-install-secrets, sshkeys/convert.go): a version 4 RSA primary key created at time 0 (so the
// same SSH key always gives the same fingerprint), one user ID "root (Imported from SSH)
// <root@localhost>", self-certified (positive certification, SHA-256, created at 0, primary,
// flags certify+sign+encrypt) and no subkey. Only the packets are built here (RFC 4880); gpg
// itself imports the key and decrypts with it (gnupg-ssh.ts). The secret parts never leave the
// Buffers handed to gpg's stdin.
import { createHash, sign, type KeyObject } from 'node:crypto';

/** RFC 4880 §4.2, new format: tag and length. */
function packet(tag: number, body: Buffer): Buffer {
  const n = body.length;
  const length =
    n < 192 ? Buffer.from([n]) : n < 8384 ? Buffer.from([((n - 192) >> 8) + 192, (n - 192) & 0xff]) : Buffer.concat([Buffer.from([0xff]), u32(n)]);
  return Buffer.concat([Buffer.from([0xc0 | tag]), length, body]);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

const toBig = (b: Buffer) => (b.length ? BigInt(`0x${b.toString('hex')}`) : 0n);
function fromBig(n: bigint): Buffer {
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  return Buffer.from(hex, 'hex');
}

/** RFC 4880 §3.2: bit count, then the big-endian bytes without leading zeros. */
function mpi(value: Buffer): Buffer {
  let i = 0;
  while (i < value.length - 1 && value[i] === 0) i++;
  const bytes = value.subarray(i);
  const bits = bytes.length === 0 || bytes[0] === 0 ? 0 : (bytes.length - 1) * 8 + (32 - Math.clz32(bytes[0]!));
  const head = Buffer.alloc(2);
  head.writeUInt16BE(bits);
  return Buffer.concat([head, bytes]);
}

/** x⁻¹ mod m (extended Euclid). */
function inverse(x: bigint, m: bigint): bigint {
  let [a, b, u, v] = [x % m, m, 1n, 0n];
  while (a !== 0n) {
    const q = b / a;
    [a, b] = [b - q * a, a];
    [u, v] = [v - q * u, u];
  }
  return ((v % m) + m) % m;
}

export const SSH_PGP_USER_ID = 'root (Imported from SSH) <root@localhost>';

export interface SshPgpKey {
  /** 40 hex digits, upper case, as sops writes `fp`. */
  fingerprint: string;
  /** The transferable secret key (RFC 4880 §11.2), binary: what `gpg --import` reads on stdin. */
  secretKey: Buffer;
}

/** The OpenPGP form of an RSA key (an SSH key's `KeyObject`), as sops-nix derives it. */
export function sshRsaToPgp(key: KeyObject): SshPgpKey {
  const jwk = key.export({ format: 'jwk' });
  const part = (name: 'n' | 'e' | 'd' | 'p' | 'q') => Buffer.from(jwk[name]!, 'base64url');
  // Version 4, created at 0 (1970-01-01: reproducible), algorithm 1 (RSA), n, e.
  const publicBody = Buffer.concat([Buffer.from([4]), u32(0), Buffer.from([1]), mpi(part('n')), mpi(part('e'))]);
  const fingerprint = createHash('sha1').update(Buffer.concat([Buffer.from([0x99]), u16(publicBody.length), publicBody])).digest();

  // RFC 4880 §5.5.3: d, p, q, u with p < q and u = p⁻¹ mod q; usage 0 (not protected), checksum.
  let [p, q] = [toBig(part('p')), toBig(part('q'))];
  if (p > q) [p, q] = [q, p];
  const secretMpis = Buffer.concat([mpi(part('d')), mpi(fromBig(p)), mpi(fromBig(q)), mpi(fromBig(inverse(p, q)))]);
  let sum = 0;
  for (const byte of secretMpis) sum = (sum + byte) & 0xffff;
  const secretBody = Buffer.concat([publicBody, Buffer.from([0]), secretMpis, u16(sum)]);

  const userId = Buffer.from(SSH_PGP_USER_ID, 'utf8');
  const signature = selfCertification(key, publicBody, userId, fingerprint);
  const secretKey = Buffer.concat([packet(5, secretBody), packet(13, userId), packet(2, signature)]);
  secretMpis.fill(0);
  secretBody.fill(0);
  return { fingerprint: fingerprint.toString('hex').toUpperCase(), secretKey };
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

/** A subpacket (RFC 4880 §5.2.3.1; all bodies here are short). */
const subpacket = (type: number, body: Buffer) => Buffer.concat([Buffer.from([body.length + 1, type]), body]);

/** The positive certification of the user ID by the key itself (RFC 4880 §5.2.4), as convert.go sets it. */
function selfCertification(key: KeyObject, publicBody: Buffer, userId: Buffer, fingerprint: Buffer): Buffer {
  const hashed = Buffer.concat([
    subpacket(2, u32(0)), // signature creation time: 0
    subpacket(27, Buffer.from([0x0f])), // key flags: certify, sign, encrypt communications and storage
    subpacket(25, Buffer.from([1])), // primary user ID
  ]);
  const head = Buffer.concat([Buffer.from([4, 0x13, 1, 8]), u16(hashed.length), hashed]); // v4, positive cert, RSA, SHA-256
  const trailer = Buffer.concat([Buffer.from([4, 0xff]), u32(head.length)]);
  const signed = Buffer.concat([Buffer.from([0x99]), u16(publicBody.length), publicBody, Buffer.from([0xb4]), u32(userId.length), userId, head, trailer]);
  const digest = createHash('sha256').update(signed).digest();
  const value = sign('sha256', signed, key); // PKCS#1 v1.5
  const unhashed = subpacket(16, fingerprint.subarray(12)); // issuer key ID
  return Buffer.concat([head, u16(unhashed.length), unhashed, digest.subarray(0, 2), mpi(value)]);
}
