// `{"bitwarden": {…}}`: a secret from Bitwarden Secrets Manager (machine accounts, our own client on
// node:crypto) or from a Password Manager vault (bitwarden.com, self-hosted, Vaultwarden) through the
// official `bw` CLI. This module is the light definition loaded at start-up; the implementation
// loads only when a run uses it.
import type { ProviderDefinition } from '../provider.js';
import { describeSource, settingsSchema, sourceSchema, type BitwardenSettings, type BitwardenSource } from './source.js';

export type { BitwardenSource, BitwardenSettings } from './source.js';

export const bitwardenProvider: ProviderDefinition<BitwardenSource> = {
  name: 'bitwarden',
  get source() {
    return sourceSchema();
  },
  get settings() {
    return settingsSchema();
  },
  network: true,
  // Ids are case-insensitive UUIDs: one spelling, so two secrets naming one id make one request.
  normalize: (s) => ('secret' in s ? { secret: s.secret.toLowerCase() } : 'project' in s ? { project: s.project.toLowerCase(), key: s.key } : s),
  // One account per server and credential (the Secrets Manager token's file, the API key's client id; no secret).
  credential: (settings) => {
    const s = (settings ?? {}) as BitwardenSettings;
    const parts = [`server ${s.server ?? 'https://vault.bitwarden.com'}`];
    if (s.accessTokenFile) parts.push(`access token file ${s.accessTokenFile}`);
    if (s.clientId || s.clientIdFile) parts.push(`client id ${s.clientId ?? `from ${s.clientIdFile}`}`);
    return parts.join(', ');
  },
  describe: describeSource,
  load: async (options) => (await import('./provider.js')).createBitwardenProvider(),
};

