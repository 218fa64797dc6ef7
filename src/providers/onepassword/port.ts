// The narrow port between the provider and @1password/sdk: exactly the calls it makes, typed from
// the SDK's own declarations, so the real client is checked against it at compile time and the
// test fake implements the same types (response shapes, thrown classes). Type imports only here,
// plus `loadSdk`, the one place that imports the SDK (and its 14 MB WASM) at run time.
import type { Client, RateLimitExceededError, Secrets, createClient } from '@1password/sdk';
import { dynamicImport } from '../../dynamic-import.js';
import { ProviderError } from '../../errors.js';

/** `createClient`'s configuration (the package root does not export ClientConfiguration). */
export type ClientConfig = Parameters<typeof createClient>[0];

/** The client calls the provider makes: one `resolveAll` for text, the file API for bytes. */
export interface OnePasswordClient {
  secrets: Pick<Client['secrets'], 'resolveAll'>;
  vaults: Pick<Client['vaults'], 'list'>;
  items: Pick<Client['items'], 'list' | 'get'> & { files: Pick<Client['items']['files'], 'read'> };
}

/** What the provider needs of the SDK module. */
export interface OnePasswordSdk {
  /** Signs in over the network; nothing works offline. */
  createClient(config: ClientConfig): Promise<OnePasswordClient>;
  /** Local (loads the WASM, no network); throws a JSON string, not an Error, when the reference is bad. */
  validateSecretReference: (typeof Secrets)['validateSecretReference'];
  /** The class `resolveAll` and the item calls throw when rate-limited (sign-in throws a plain Error). */
  RateLimitExceededError: typeof RateLimitExceededError;
}

/** Compile-time proof that the SDK's real client satisfies the port (fails to type-check otherwise). */
type Satisfies<T extends U, U> = T;
export type RealClientSatisfiesPort = Satisfies<Client, OnePasswordClient>;

/** The real SDK behind the port; the WASM is compiled here, on first use only. */
export async function loadSdk(): Promise<OnePasswordSdk> {
  type Sdk = typeof import('@1password/sdk');
  let mod: Sdk & { default?: Sdk };
  try {
    mod = await dynamicImport<Sdk & { default?: Sdk }>('@1password/sdk');
  } catch (error) {
    // A package outside the bundle: an install that copied dist/ alone lacks it.
    throw new ProviderError('onepassword', 'config', `the 1Password SDK (@1password/sdk) cannot be loaded (${(error as Error).message.split('\n')[0]}); install materialize's dependencies beside dist/`);
  }
  // CommonJS: Node exposes its exports as named exports and as `default`.
  const sdk = mod.default ?? mod;
  return {
    // Returns Promise<Client>: assignable to Promise<OnePasswordClient> only while Client fits the port.
    createClient: (config) => sdk.createClient(config),
    validateSecretReference: (reference) => sdk.Secrets.validateSecretReference(reference),
    RateLimitExceededError: sdk.RateLimitExceededError,
  };
}
