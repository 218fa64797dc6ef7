// Test inputs made by the real tools (Debian's `age` 1.1.1, `age-keygen`, `ssh-keygen`), never by
// our code: every file our decrypter opens in these tests was written by an independent
// implementation. Plaintexts go through stdin, never argv. Everything lands in per-test temp dirs.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { bech32 } from '@scure/base';
import { seededBytes, seededRandom } from '../../helpers/random.js';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export { AGE_SKIP, SCRYPT_SKIP, SSH_SKIP } from '../../helpers/tools.js';
export { suiteDir, tempDir } from '../../helpers/temp.js';

/** Runs a tool; throws with its stderr (never its stdout, which may be a plaintext) when it fails. */
export function run(cmd: string, args: readonly string[], input?: Uint8Array | string): Buffer {
  const r = spawnSync(cmd, args, { input: input ?? '', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr.toString('utf8').trim()}`);
  return r.stdout;
}

export interface AgeKey {
  /** The identity file age-keygen wrote (mode 0600). */
  file: string;
  /** The `AGE-SECRET-KEY-1…` line. */
  secret: string;
  /** The `age1…` recipient age-keygen printed. */
  recipient: string;
}

/** `age-keygen -o FILE`: a new X25519 identity. */
export function ageKeygen(dir: string, name = 'key.txt'): AgeKey {
  const file = join(dir, name);
  run('age-keygen', ['-o', file]);
  const text = readFileSync(file, 'utf8');
  const secret = /^AGE-SECRET-KEY-1\S+$/m.exec(text)?.[0];
  const recipient = /^# public key: (age1\S+)$/m.exec(text)?.[1];
  if (!secret || !recipient) throw new Error(`age-keygen wrote an unexpected file: ${file}`);
  chmodSync(file, 0o600);
  return { file, secret, recipient };
}

export interface SshKey {
  /** The private key file. */
  file: string;
  /** Its text (register it as a secret value in CLI tests). */
  privateText: string;
  /** The `.pub` file ssh-keygen wrote next to it. */
  pubFile: string;
  /** `ssh-ed25519 AAAA… comment`. */
  publicLine: string;
}

/**
 * `ssh-keygen -t TYPE`: a new SSH key. `pem` writes RSA as `BEGIN RSA PRIVATE KEY` (`-m PEM`),
 * `pkcs8` as `BEGIN PRIVATE KEY`; `passphrase` protects it.
 */
export function sshKeygen(dir: string, type: 'ed25519' | 'rsa' | 'ecdsa', options: { name?: string; passphrase?: string; format?: 'openssh' | 'pem' | 'pkcs8'; bits?: number } = {}): SshKey {
  const file = join(dir, options.name ?? `id_${type}`);
  const args = ['-q', '-t', type, '-N', options.passphrase ?? '', '-C', 'test@materialize', '-f', file];
  if (type === 'rsa') args.push('-b', String(options.bits ?? 2048));
  if (options.format === 'pem') args.push('-m', 'PEM');
  if (options.format === 'pkcs8') args.push('-m', 'PKCS8');
  run('ssh-keygen', args);
  return { file, privateText: readFileSync(file, 'utf8'), pubFile: `${file}.pub`, publicLine: readFileSync(`${file}.pub`, 'utf8').trim() };
}

/**
 * What ssh-to-age makes of an ed25519 key, derived without our code: the seed read from the
 * OpenSSH key file (PROTOCOL.key: the private section holds seed || public key, found next to the
 * public key ssh-keygen printed), the X25519 secret is the first half of SHA-512(seed) (RFC 8032
 * §5.1.5, before clamping, as age's agessh and ssh-to-age take it), bech32-encoded by @scure/base
 * (the encoder the age-encryption library uses), and the recipient is what the real
 * `age-keygen -y` prints for that secret.
 */
export function sshToAgeByHand(key: SshKey): { secret: string; recipient: string } {
  const body = key.privateText.replace(/-----(BEGIN|END) OPENSSH PRIVATE KEY-----/g, '').replace(/\s+/g, '');
  const blob = Buffer.from(body, 'base64');
  const pub = Buffer.from(key.publicLine.split(' ')[1]!, 'base64').subarray(-32);
  // `string(seed || pub)`: a 64-byte length, then the seed, then the public key again.
  let at = -1;
  for (let i = blob.indexOf(Buffer.from([0, 0, 0, 64])); i >= 0; i = blob.indexOf(Buffer.from([0, 0, 0, 64]), i + 1)) {
    if (blob.subarray(i + 36, i + 68).equals(pub)) at = i + 4;
  }
  if (at < 0) throw new Error(`${key.file}: no ed25519 seed found (not an unencrypted OpenSSH ed25519 key?)`);
  const scalar = createHash('sha512').update(blob.subarray(at, at + 32)).digest().subarray(0, 32);
  const secret = bech32.encode('age-secret-key-', bech32.toWords(scalar), false).toUpperCase();
  const recipient = run('age-keygen', ['-y'], `${secret}\n`).toString('latin1').trim();
  if (!/^age1[a-z0-9]{58}$/.test(recipient)) throw new Error(`age-keygen -y printed an unexpected recipient for ${key.file}`);
  return { secret, recipient };
}

export interface EncryptOptions {
  /** `-r`: `age1…` recipients. */
  recipients?: readonly string[];
  /** `-R`: recipient files (SSH `.pub` files, or files of `age1…` lines). */
  recipientFiles?: readonly string[];
  /** `-a`: armored output. */
  armor?: boolean;
}

/** `age [-a] -r … -R …` with the plaintext on stdin; returns the file age wrote on stdout. */
export function ageEncrypt(plaintext: Uint8Array | string, options: EncryptOptions): Buffer {
  const args: string[] = [];
  if (options.armor) args.push('-a');
  for (const r of options.recipients ?? []) args.push('-r', r);
  for (const f of options.recipientFiles ?? []) args.push('-R', f);
  return run('age', args, plaintext);
}

/** `age -d -i IDENTITY`: the reference decryption of a file. */
export function ageDecrypt(file: Uint8Array, identityFile: string): Buffer {
  return run('age', ['-d', '-i', identityFile], file);
}

/**
 * `age -p`: a passphrase (scrypt) file. age reads passphrases only from a terminal, so script(1)
 * runs it on a pseudo-terminal and types the passphrase twice.
 */
export function agePassphraseEncrypt(dir: string, plaintext: string, passphrase: string): Buffer {
  const input = join(dir, 'scrypt-input');
  const output = join(dir, 'scrypt.age');
  writeFileSync(input, plaintext, { mode: 0o600 });
  const r = spawnSync('script', ['-qec', `age -p -o '${output}' '${input}'`, '/dev/null'], { input: `${passphrase}\n${passphrase}\n`, timeout: 30_000 });
  if (r.status !== 0) throw new Error(`age -p under script exited ${r.status}: ${r.stderr}`);
  return readFileSync(output);
}

const random = seededRandom(0x7005);
/** Seeded bytes of a given size (plaintexts whose every byte matters; TEST_SEED replays them). */
export const randomBytes = (n: number): Buffer => seededBytes(random, n);
