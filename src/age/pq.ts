// Post-quantum hybrid identities (`AGE-SECRET-KEY-PQ-1…`, stanza `mlkem768x25519`) through the
// age-encryption library, imported only when a key file holds such a key (it costs ~100 ms to load).
import { dynamicImport } from '../dynamic-import.js';
import type { AgeHeader } from './format.js';
import { HeaderMacError, StanzaError, type AgeIdentity } from './identity.js';

type AgeLib = typeof import('age-encryption');
type LibDecrypter = InstanceType<AgeLib['Decrypter']>;

/** Why post-quantum keys cannot be used here: the library is missing or broken (not the key's fault). */
export class AgeLibraryError extends Error {
  override name = 'AgeLibraryError';
}

/** The library, injected (tests) or imported on first use; the import happens only for PQ keys. */
export async function loadAgeLib(lib?: unknown): Promise<AgeLib> {
  if (lib) return lib as AgeLib;
  try {
    return await dynamicImport<AgeLib>('age-encryption');
  } catch (error) {
    throw new AgeLibraryError(`the age-encryption library cannot be loaded (${(error as Error).message.split('\n')[0]})`);
  }
}

/** An `AGE-SECRET-KEY-PQ-1…` key; the library does the ML-KEM-768 + X25519 work and checks the header MAC. */
export class HybridIdentity implements AgeIdentity {
  readonly stanzaTypes = ['mlkem768x25519'];
  readonly #decrypter: LibDecrypter;
  private constructor(
    readonly origin: string,
    readonly recipient: string,
    decrypter: LibDecrypter,
  ) {
    this.#decrypter = decrypter;
  }

  /** Validates the key (the library derives its recipient) and returns the identity, or throws. */
  static async create(secret: string, origin: string, lib?: unknown): Promise<HybridIdentity> {
    const age = await loadAgeLib(lib);
    const recipient = await age.identityToRecipient(secret);
    const decrypter = new age.Decrypter();
    decrypter.addIdentity(secret);
    return new HybridIdentity(origin, recipient, decrypter);
  }

  /**
   * The library opens the header (and checks its MAC). It throws plain Errors, so its own two
   * messages are the only way to tell its outcomes apart: they become null, a HeaderMacError, or
   * (anything else) a StanzaError.
   */
  async unwrap(header: AgeHeader): Promise<Buffer | null> {
    try {
      return Buffer.from(await this.#decrypter.decryptHeader(header.headerBytes));
    } catch (error) {
      const message = (error as Error).message;
      if (/no identity matched/.test(message)) return null;
      if (/invalid header HMAC/.test(message)) throw new HeaderMacError('the header MAC does not match (file modified or damaged)');
      throw new StanzaError('malformed mlkem768x25519 stanza');
    }
  }
}
