// What `status --config` says about network sources: where their state lives, whether a sealed
// store exists (and when it was written: its values stay encrypted, status never opens it), and
// each credential's call budget — how many calls are left this hour and when the next is allowed.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/load.js';
import { providerDefinitions } from '../providers/registry.js';
import { BUDGET_NAME, CallBudget, readBudget, type ScopeStatus } from './budget.js';
import { budgetScope, credentialOf } from './remote.js';
import { SEAL_NAME } from './seal.js';

export interface NetworkStatus {
  stateDir: string;
  /** null: sealing is off (`network.seal: false`). */
  seal: { file: string; exists: boolean; writtenAt: string | null; size: number | null; maxAgeSeconds: number } | null;
  callsPerHour: number;
  /** One per credential of the configured network sources, plus any other the budget file remembers. */
  budget: ScopeStatus[];
}

/** The network state of a configuration; null when no secret uses a network source. */
export function networkStatus(config: Config, now: () => number = Date.now): NetworkStatus | null {
  const definitions = providerDefinitions();
  const credentials = new Map<string, string>();
  for (const secret of config.secrets) {
    for (const source of secret.sources) {
      const definition = definitions.get(source.provider);
      if (!definition?.network) continue;
      const settings = config.providers[source.provider];
      const credential = credentialOf(definition, settings);
      credentials.set(budgetScope(source.provider, credential), `${source.provider}, ${credential}`);
    }
  }
  if (credentials.size === 0) return null;
  const { stateDir, sealMaxAgeMs, callsPerHour } = config.network;
  const budget = new CallBudget(readBudget(join(stateDir, BUDGET_NAME)), callsPerHour, now);
  const known = new Set(budget.status().map((s) => s.scope));
  const scopes = [...new Set([...credentials.keys(), ...known])].sort();
  let seal: NetworkStatus['seal'] = null;
  if (sealMaxAgeMs !== null) {
    const file = join(stateDir, SEAL_NAME);
    let st: ReturnType<typeof statSync> | undefined;
    try {
      st = statSync(file);
    } catch {
      st = undefined;
    }
    seal = { file, exists: !!st, writtenAt: st ? st.mtime.toISOString() : null, size: st ? st.size : null, maxAgeSeconds: sealMaxAgeMs / 1000 };
  }
  return { stateDir, seal, callsPerHour, budget: scopes.map((scope) => budget.scopeStatus(scope, credentials.get(scope))) };
}
