// Where the service account token comes from: `providers.onepassword.tokenFile` (a file only its
// owner can read; what the NixOS module sets, and what a boot-time unit uses), else
// OP_SERVICE_ACCOUNT_TOKEN (interactive and runtime use, as the `op` CLI and the SDK's examples do).
import { ProviderError } from '../../errors.js';
import { readTokenFile } from '../network.js';
import { NAME } from './errors.js';
import type { OnePasswordSettings } from './settings.js';

export const TOKEN_VARIABLE = 'OP_SERVICE_ACCOUNT_TOKEN';

export interface Token {
  value: Buffer;
  /** Where it came from, for messages: the setting or the variable (never the token). */
  origin: string;
}

// Why the variable is removed once read: nothing this process starts later (a child, a hook)
// should find the token in its environment, even by a future change that passes it on.
/** The token, from the file when one is set, else from the environment; a ProviderError says what is missing. */
export function readToken(settings: OnePasswordSettings, env: NodeJS.ProcessEnv = process.env): Token {
  const fromEnv = env[TOKEN_VARIABLE];
  delete env[TOKEN_VARIABLE];
  if (settings.tokenFile) {
    return {
      value: readTokenFile(NAME, settings.tokenFile, 'providers.onepassword.tokenFile', { allowReadable: settings.allowReadableTokenFile }),
      origin: settings.tokenFile,
    };
  }
  const trimmed = fromEnv?.trim();
  if (trimmed) return { value: Buffer.from(trimmed, 'utf8'), origin: TOKEN_VARIABLE };
  throw new ProviderError(
    NAME,
    'config',
    `no service account token: set providers.onepassword.tokenFile (a file only root can read; materialize.onepassword.tokenFile in NixOS) or, for interactive use, ${TOKEN_VARIABLE}`,
  );
}
