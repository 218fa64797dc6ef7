// Post-quantum hybrid identities (`AGE-SECRET-KEY-PQ-1…`, stanza `mlkem768x25519`) through the
// age-encryption library, imported only when a key file holds such a key (it costs ~100 ms to load).
import type { AgeHeader } from './format.js';
import { StanzaError, type AgeIdentity } from './identity.js';

type AgeLib = typeof import('age-encryption');

export async function loadAgeLib(lib?: unknown): Promise<AgeLib> {
  return (lib as AgeLib | undefined) ?? (await import('age-encryption'));
}

export class HybridIdentity implements AgeIdentity {
  readonly stanzaTypes = ['mlkem768x25519'];
  private constructor(
    readonly origin: string,
    readonly recipient: string,
    private readonly secret: string,
    private readonly lib: AgeLib,
  ) {}

  /** Validates the key (the library derives its recipient) and returns the identity, or throws. */
  static async create(secret: string, origin: string, lib?: unknown): Promise<HybridIdentity> {
    const age = await loadAgeLib(lib);
    const recipient = await age.identityToRecipient(secret);
    return new HybridIdentity(origin, recipient, secret, age);
  }

  async unwrap(header: AgeHeader): Promise<Buffer | null> {
    const decrypter = new this.lib.Decrypter();
    decrypter.addIdentity(this.secret);
    try {
      return Buffer.from(await decrypter.decryptHeader(header.headerBytes));
    } catch (error) {
      const message = (error as Error).message;
      if (/no identity matched/.test(message)) return null;
      throw new StanzaError(/HMAC/.test(message) ? 'header MAC does not match' : 'malformed mlkem768x25519 stanza');
    }
  }
}
