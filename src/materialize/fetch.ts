// Fetching: every secret's first source, all providers concurrently, each provider given all of its
// requests at once (deduplicated); then the second source of the secrets that failed, and so on.
// A deadline bounds the whole phase, whatever a provider or its library does.
import type { SecretSpec } from '../config/load.js';
import { ProviderError, type ProviderErrorKind } from '../errors.js';
import type { Logger } from '../log.js';
import { lazyKeyRing, type KeyRing } from '../keys/index.js';
import type { FetchOutcome, KeySettings, Provider, ProviderContext, ProviderDefinition, SecretRequest } from '../providers/provider.js';
import { providerDefinitions } from '../providers/registry.js';
import { credentialOf, type CachedAnswer, type RemoteOutcome, type RemoteSources, type StandIn } from './remote.js';

export interface Attempt {
  provider: string;
  source: string;
  kind: ProviderErrorKind;
  message: string;
}

export interface FetchResult {
  values: Map<string, Buffer>;
  /** For each fetched secret, the description of the source that answered. */
  answeredBy: Map<string, string>;
  /** For each secret no source could deliver, every attempt in order. */
  failures: Map<string, Attempt[]>;
  /** Calls made to each provider's service, by kind (`resolveAll`, `login`…): what the run cost. */
  calls: Record<string, Record<string, number>>;
  /** Secrets answered from the sealed store: when the network gave the value, and the failure it stands in for. */
  cached: Map<string, CachedAnswer>;
}

export interface FetchOptions {
  settings: Record<string, unknown>;
  keys: KeySettings;
  log: Logger;
  /** Milliseconds for the whole fetch phase. */
  timeoutMs: number;
  /** Injected libraries per provider name (tests pass fakes; unstorage's `lib` pattern). */
  libs?: Record<string, unknown>;
  /** Budget and sealed store of network providers; absent: they are asked as any other. */
  remote?: RemoteSources;
  /** The run's identities, when the caller shares them (the sealed store uses them too). */
  keyRing?: () => Promise<KeyRing>;
  /** A person at the prompt (`get`, `run`), not a boot run: passed to providers as `context.interactive`. */
  interactive?: boolean;
}

/** A stable key for a source, so two secrets asking for the same thing make one request. */
export function sourceKey(provider: string, options: unknown): string {
  const canonical = (v: unknown): unknown =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]))
      : Array.isArray(v)
        ? v.map(canonical)
        : v;
  return `${provider}:${JSON.stringify(canonical(options))}`;
}

export async function fetchSecrets(secrets: readonly SecretSpec[], options: FetchOptions): Promise<FetchResult> {
  const definitions = providerDefinitions();
  const result: FetchResult = { values: new Map(), answeredBy: new Map(), failures: new Map(), calls: {}, cached: new Map() };
  const attempts = new Map<string, Attempt[]>();
  /** Sealed values of failed network sources, used when no source of the secret answers. */
  const standIns = new Map<string, StandIn & { because: ProviderError; description: string }>();
  const signal = AbortSignal.timeout(options.timeoutMs);
  const keyRing = options.keyRing ?? lazyKeyRing(options.keys, options.log, { ageLib: options.libs?.ageLib });
  const loaded = new Map<string, Promise<Provider>>();
  const load = (definition: ProviderDefinition<unknown>) => {
    let p = loaded.get(definition.name);
    if (!p) loaded.set(definition.name, (p = definition.load({ lib: options.libs?.[definition.name] })));
    return p;
  };

  let pending = [...secrets];
  for (let round = 0; pending.length > 0; round++) {
    const withSource = pending.filter((s) => s.sources[round]);
    if (withSource.length === 0) break;
    // provider → request key → request
    const groups = new Map<string, Map<string, { request: SecretRequest; names: string[] }>>();
    for (const secret of withSource) {
      const source = secret.sources[round]!;
      const key = sourceKey(source.provider, source.options);
      let group = groups.get(source.provider);
      if (!group) groups.set(source.provider, (group = new Map()));
      const existing = group.get(key);
      if (existing) existing.names.push(secret.name);
      else group.set(key, { request: { id: key, secrets: [], source: source.options }, names: [secret.name] });
    }
    const answers = new Map<string, RemoteOutcome>();
    await Promise.all(
      [...groups].map(async ([name, group]) => {
        const definition = definitions.get(name)!;
        const settings = options.settings[name];
        const credential = credentialOf(definition, settings);
        const all = [...group.values()].map((g) => ({ ...g.request, secrets: g.names }));
        const remote = definition.network ? options.remote : undefined;
        // The budget and the seal may answer some requests, or all of them, before the provider is loaded.
        const early = remote?.before(name, credential, all);
        for (const [id, outcome] of early?.answered ?? []) answers.set(id, outcome);
        const requests = early ? early.send : all;
        if (requests.length === 0) return;
        const countCall = (what: string) => {
          remote?.take(name, credential);
          const counts = (result.calls[name] ??= {});
          counts[what] = (counts[what] ?? 0) + 1;
        };
        const notSent = () => remote?.giveBack(name, credential);
        const context: ProviderContext = { settings, keys: options.keys, log: options.log, signal, keyRing, countCall, notSent, ...(options.interactive ? { interactive: true } : {}) };
        let outcomes: Map<string, FetchOutcome>;
        try {
          const provider = await load(definition);
          outcomes = await Promise.race([
            provider.fetch(requests, context),
            new Promise<never>((_, reject) => {
              if (signal.aborted) reject(signal.reason);
              signal.addEventListener('abort', () => reject(signal.reason), { once: true });
            }),
          ]);
        } catch (error) {
          const timedOut = signal.aborted;
          const failure = error instanceof ProviderError ? error : new ProviderError(name, 'unavailable', timedOut ? `no answer within ${Math.round(options.timeoutMs / 1000)} s` : `failed unexpectedly (${(error as Error)?.name ?? 'error'}; a bug in the provider, please report it)`);
          outcomes = new Map(requests.map((r) => [r.id, { error: failure }]));
        }
        for (const r of requests) {
          const outcome = outcomes.get(r.id) ?? { error: new ProviderError(name, 'unavailable', 'gave no answer for this request') };
          answers.set(r.id, remote ? remote.after(name, credential, r, outcome, definition.describe(r.source)) : outcome);
        }
      }),
    );
    const next: SecretSpec[] = [];
    for (const secret of pending) {
      const source = secret.sources[round];
      if (!source) {
        next.push(secret);
        continue;
      }
      const outcome = answers.get(sourceKey(source.provider, source.options))!;
      const description = definitions.get(source.provider)!.describe(source.options);
      if ('ok' in outcome) {
        result.values.set(secret.name, outcome.ok);
        result.answeredBy.set(secret.name, description);
        if (outcome.cached) result.cached.set(secret.name, outcome.cached);
        if (round > 0) options.log.warn(`${secret.name}: fetched from fallback source ${round + 1} (${description})`);
      } else {
        const list = attempts.get(secret.name) ?? [];
        list.push({ provider: source.provider, source: description, kind: outcome.error.kind, message: outcome.error.message });
        attempts.set(secret.name, list);
        // The first (most preferred) source's sealed value, kept for when every later source fails too.
        if ('standIn' in outcome && outcome.standIn && !standIns.has(secret.name)) standIns.set(secret.name, { ...outcome.standIn, because: outcome.error, description });
        next.push(secret);
      }
    }
    pending = next;
  }
  for (const secret of pending) {
    const standIn = standIns.get(secret.name);
    if (standIn) {
      result.values.set(secret.name, standIn.value);
      result.answeredBy.set(secret.name, standIn.description);
      result.cached.set(secret.name, { fetchedAt: standIn.fetchedAt, because: standIn.because });
      for (const a of attempts.get(secret.name) ?? []) if (a.source !== standIn.description) options.log.debug(`${secret.name}: ${a.source} failed too: ${a.message}`);
    } else result.failures.set(secret.name, attempts.get(secret.name) ?? []);
  }
  return result;
}
