// The `bitwarden` provider: the requests of a run are split by product — Secrets Manager (our own
// client) and Password Manager (the `bw` CLI) — and both are served at once, each in one session.
import type { CheckProblem, FetchOutcome, Provider, ProviderContext, SecretRequest } from '../provider.js';
import { fetchPasswordManager, openPasswordManager, type OpenedVault } from './bw.js';
import { fetchSecretsManager, loginSecretsManager, type LoggedIn } from './secrets-manager.js';
import { isSecretsManager, type BitwardenSettings, type BitwardenSource, type PasswordManagerSource, type SecretsManagerSource } from './source.js';

/** Seconds each HTTP call or `bw` start may take when `timeout` is not set. */
export const DEFAULT_TIMEOUT_S = 30;

class BitwardenProvider implements Provider<BitwardenSource> {
  // One session of each product per run: the engine calls fetch again for fallback sources, with
  // the same provider; a failure (a refused token, a missing setting) is the answer for the run too.
  #vault: Promise<OpenedVault> | undefined;
  #secretsManager: Promise<LoggedIn> | undefined;

  async fetch(requests: readonly SecretRequest<BitwardenSource>[], context: ProviderContext): Promise<Map<string, FetchOutcome>> {
    const settings = (context.settings ?? {}) as BitwardenSettings;
    const timeoutMs = (settings.timeout ?? DEFAULT_TIMEOUT_S) * 1000;
    const sm = requests.filter((r) => isSecretsManager(r.source)) as SecretRequest<SecretsManagerSource>[];
    const pm = requests.filter((r) => !isSecretsManager(r.source)) as SecretRequest<PasswordManagerSource>[];
    const [a, b] = await Promise.all([
      sm.length ? fetchSecretsManager(sm, { settings, context, timeoutMs }, (this.#secretsManager ??= loginSecretsManager({ settings, context, timeoutMs }))) : new Map<string, FetchOutcome>(),
      pm.length ? fetchPasswordManager(pm, { settings, context, timeoutMs }, (this.#vault ??= openPasswordManager({ settings, context, timeoutMs }))) : new Map<string, FetchOutcome>(),
    ]);
    return new Map([...a, ...b]);
  }

  /** Build time (no network, no token files: they live on the host): the settings each product needs are there. */
  async check(requests: readonly SecretRequest<BitwardenSource>[], context: Parameters<NonNullable<Provider['check']>>[1]): Promise<CheckProblem[]> {
    const settings = (context.settings ?? {}) as BitwardenSettings;
    const problems: CheckProblem[] = [];
    for (const r of requests) {
      const missing = isSecretsManager(r.source)
        ? settings.accessTokenFile ? [] : ['accessTokenFile']
        : [...(settings.clientId || settings.clientIdFile ? [] : ['clientId']), ...(settings.clientSecretFile ? [] : ['clientSecretFile']), ...(settings.passwordFile ? [] : ['passwordFile'])];
      if (missing.length) {
        const product = isSecretsManager(r.source) ? 'a Secrets Manager source needs a machine account access token' : 'a Password Manager source needs a personal API key and the master password';
        problems.push({ requestId: r.id, secrets: r.secrets, field: '', message: `providers.bitwarden.${missing.join(', ')} not set: ${product}` });
      }
      if (!isSecretsManager(r.source) && settings.clientId && settings.clientIdFile) {
        problems.push({ requestId: r.id, secrets: r.secrets, field: '', message: 'providers.bitwarden sets both clientId and clientIdFile; set one' });
      }
    }
    return problems;
  }
}

export function createBitwardenProvider(): Provider<BitwardenSource> {
  return new BitwardenProvider();
}
