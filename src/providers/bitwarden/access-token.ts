// A Secrets Manager access token, `0.<access token id>.<client secret>:<base64 of a 16-byte seed>`:
// the id and secret log in (client_credentials), the seed derives the key that opens the login
// response's encrypted payload, which holds the organization key. The token is never printed:
// errors say which part is malformed, not what it holds.
import { deriveShareableKey, type SymmetricKey } from './crypto.js';

export interface AccessToken {
  id: string;
  clientSecret: string;
  /** The key derived from the seed (HMAC "bitwarden-accesstoken", HKDF info "sm-access-token"). */
  key: SymmetricKey;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(text: string): boolean {
  return UUID.test(text);
}

/** Parses an access token; throws an Error whose message names the malformed part (never the token). */
export function parseAccessToken(token: string): AccessToken {
  const colon = token.indexOf(':');
  if (colon < 0) throw new Error('it has no encryption key (no ":")');
  const parts = token.slice(0, colon).split('.');
  if (parts.length !== 3) throw new Error('it does not have three dot-separated parts before the ":"');
  const [version, id, clientSecret] = parts as [string, string, string];
  if (version !== '0') throw new Error('its version is not 0');
  if (!isUuid(id)) throw new Error('its access token id is not a UUID');
  if (clientSecret.length === 0) throw new Error('its client secret is empty');
  // Padding is optional, as in Bitwarden's own parser.
  const seedText = token.slice(colon + 1);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(seedText)) throw new Error('its encryption key is not base64');
  const seed = Buffer.from(seedText, 'base64');
  if (seed.length !== 16) throw new Error(`its encryption key is ${seed.length} bytes, not 16`);
  return { id: id.toLowerCase(), clientSecret, key: deriveShareableKey(seed, 'accesstoken', 'sm-access-token') };
}
