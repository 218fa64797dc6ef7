// `{"bitwarden": {…}}`: a secret from Bitwarden Secrets Manager (machine accounts, our own client on
// node:crypto) or from a Password Manager vault (bitwarden.com, self-hosted, Vaultwarden) through the
// official `bw` CLI. This module is the light definition loaded at start-up; the implementation
// loads only when a run uses it.
import type { ProviderDefinition } from '../provider.js';
import { describeSource, settingsSchema, sourceSchema, type BitwardenSource } from './source.js';

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
  describe: describeSource,
  load: async (options) => (await import('./provider.js')).createBitwardenProvider(),
};

