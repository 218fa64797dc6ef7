// SSH keys as age identities, natively:
// - an ed25519 host key converted to an X25519 identity (what sops-nix's sshKeyPaths / ssh-to-age do);
// - native `ssh-ed25519` and `ssh-rsa` stanzas (files made with `age -R ~/.ssh/id_ed25519.pub`).
// Parsing the keys themselves lives in ssh-key.ts (re-exported here).
import { createHash, privateDecrypt, constants, type KeyObject } from 'node:crypto';
import type { AgeHeader } from './format.js';
import { StanzaError, stanzaShare, X25519Identity, type AgeIdentity } from './identity.js';
import { chachaOpen, hkdf, x25519, x25519PrivateKey, x25519PublicBytes, ZERO_NONCE } from './primitives.js';
import { ed25519ToX25519Scalar, sshPublicLine, type SshPrivateKey } from './ssh-key.js';

export * from './ssh-key.js';

const ED25519_LABEL = 'age-encryption.org/v1/ssh-ed25519';
const RSA_LABEL = Buffer.from('age-encryption.org/v1/ssh-rsa', 'latin1');

/** The stanza argument naming an SSH key: base64 of the first 4 bytes of SHA-256 of its wire form. */
function sshTag(wire: Buffer): string {
  return createHash('sha256').update(wire).digest().subarray(0, 4).toString('base64').replace(/=+$/, '');
}

/** Opens native `ssh-ed25519` stanzas (age's SSH recipient type). */
export class SshEd25519Identity implements AgeIdentity {
  readonly stanzaTypes = ['ssh-ed25519'];
  readonly recipient: string;
  readonly #scalar: KeyObject;
  /** The tweak depends on the key only: made once, not per stanza (a private-key import costs ~0.6 ms). */
  readonly #tweak: KeyObject;
  readonly #ourPoint: Buffer;
  readonly #tag: string;
  constructor(
    key: Extract<SshPrivateKey, { type: 'ssh-ed25519' }>,
    readonly origin: string,
  ) {
    const scalar = ed25519ToX25519Scalar(key.seed);
    this.#scalar = x25519PrivateKey(scalar);
    scalar.fill(0);
    const tweak = hkdf(Buffer.alloc(0), key.wire, ED25519_LABEL);
    this.#tweak = x25519PrivateKey(tweak);
    tweak.fill(0);
    this.#ourPoint = x25519PublicBytes(this.#scalar);
    this.#tag = sshTag(key.wire);
    this.recipient = sshPublicLine(key.wire);
  }

  /** The file key from the ssh-ed25519 stanza tagged for this key; null when none is. */
  unwrap(header: AgeHeader): Buffer | null {
    let ours = 0;
    for (const stanza of header.stanzas) {
      if (stanza.args[0] !== 'ssh-ed25519') continue;
      if (stanza.args.length !== 3) throw new StanzaError('malformed ssh-ed25519 stanza');
      if (stanza.args[1] !== this.#tag) continue;
      if (stanza.body.length !== 32) throw new StanzaError('malformed ssh-ed25519 stanza (body is not 32 bytes)');
      ours++;
      const share = stanzaShare(stanza, 2, 'ssh-ed25519');
      const shared = x25519(this.#tweak, x25519(this.#scalar, share.key));
      const wrapKey = hkdf(shared, Buffer.concat([share.bytes, this.#ourPoint]), ED25519_LABEL);
      shared.fill(0);
      const fileKey = chachaOpen(wrapKey, ZERO_NONCE, stanza.body);
      if (fileKey) return fileKey;
    }
    // The stanza names this key (by its tag) yet does not open: as age says, that is damage, not "not ours".
    if (ours > 0) throw new StanzaError('the ssh-ed25519 stanza for this key does not authenticate (modified or damaged)');
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

  /** The file key from the ssh-rsa stanza tagged for this key; null when none is. */
  unwrap(header: AgeHeader): Buffer | null {
    let ours = 0;
    for (const stanza of header.stanzas) {
      if (stanza.args[0] !== 'ssh-rsa') continue;
      if (stanza.args.length !== 2) throw new StanzaError('malformed ssh-rsa stanza');
      if (stanza.args[1] !== this.#tag) continue;
      ours++;
      try {
        const fileKey = privateDecrypt({ key: this.#key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: RSA_LABEL }, stanza.body);
        if (fileKey.length === 16) return fileKey;
        fileKey.fill(0);
      } catch {
        // Counted below: a stanza tagged for this key that does not decrypt.
      }
    }
    if (ours > 0) throw new StanzaError('the ssh-rsa stanza for this key does not decrypt (modified or damaged)');
    return null;
  }
}

/** Every identity an SSH private key provides: native SSH stanzas, plus the converted X25519 key for ed25519. */
export function sshIdentities(key: SshPrivateKey, origin: string): AgeIdentity[] {
  if (key.type === 'ssh-rsa') return [new SshRsaIdentity(key, origin)];
  const scalar = ed25519ToX25519Scalar(key.seed);
  try {
    return [new SshEd25519Identity(key, origin), new X25519Identity(scalar, `${origin} (as X25519)`)];
  } finally {
    scalar.fill(0);
  }
}
