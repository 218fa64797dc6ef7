// Calls the sops provider directly, the way the engine does (normalized sources, one batch, the run's
// key ring), and returns each request's outcome in order.
import { loadKeyRing, type KeyRing } from '../../../../src/keys/index.js';
import { silentLogger } from '../../../../src/log.js';
import type { FetchOutcome, KeySettings, ProviderContext } from '../../../../src/providers/provider.js';
import { sopsProvider, type SopsSource } from '../../../../src/providers/sops/index.js';
import { createSopsProvider, type SopsLib } from '../../../../src/providers/sops/provider.js';

export interface FetchOptions {
  keys?: Partial<KeySettings>;
  lib?: SopsLib;
  signal?: AbortSignal;
}

export function context(keys: Partial<KeySettings>, signal = AbortSignal.timeout(60_000)): ProviderContext {
  const settings: KeySettings = { ageKeyFiles: [], sshKeyPaths: [], gnupgHome: null, ...keys };
  const log = silentLogger();
  let ring: Promise<KeyRing> | undefined;
  return { settings: undefined, keys: settings, log, signal, keyRing: () => (ring ??= loadKeyRing(settings, log)), countCall: () => {} };
}

/** Fetches every source in one batch; outcomes come back in the order of `sources`. */
export async function fetchSops(sources: readonly SopsSource[], options: FetchOptions = {}): Promise<FetchOutcome[]> {
  const provider = createSopsProvider(options.lib ?? {});
  const requests = sources.map((s, i) => ({ id: `r${i}`, secrets: [`secret${i}`], source: sopsProvider.normalize!(s, '/') }));
  const out = await provider.fetch(requests, context(options.keys ?? {}, options.signal));
  return requests.map((r) => out.get(r.id)!);
}

/** One source's value as text, or a thrown assertion-friendly error. */
export async function fetchText(source: SopsSource, options: FetchOptions = {}): Promise<string> {
  const [outcome] = await fetchSops([source], options);
  if ('error' in outcome!) throw outcome.error;
  return outcome!.ok.toString('utf8');
}
