// Every provider the engine knows, by the key used in a secret's `sources`. Definitions are light;
// each provider's implementation and heavy library load only when a run uses it.
import { ageProvider } from './age.js';
import { rbwProvider } from './rbw.js';
import { bitwardenProvider } from './bitwarden/index.js';
import { sopsProvider } from './sops/index.js';
import { onePasswordProvider } from './onepassword/index.js';
import type { ProviderDefinition } from './provider.js';

const all: ProviderDefinition<any>[] = [ageProvider, sopsProvider, onePasswordProvider, bitwardenProvider, rbwProvider];

let cache: Map<string, ProviderDefinition<unknown>> | undefined;

export function providerDefinitions(): Map<string, ProviderDefinition<unknown>> {
  cache ??= new Map(all.map((d) => [d.name, d]));
  return cache;
}
