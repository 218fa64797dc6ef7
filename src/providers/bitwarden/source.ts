// What a `bitwarden` source and `providers.bitwarden` settings look like. One provider key covers
// both Bitwarden products; the shape of the source says which one answers:
//   {"secret": "<uuid>"} or {"project": "<uuid>", "key": "NAME"}   → Secrets Manager (machine account)
//   {"item": "<id or name>", "field": "…"} or {"item", "attachment"} → Password Manager (through `bw`)
import * as z from 'zod/mini';
import { lazySchema } from '../../config/validate.js';
import { isUuid } from './access-token.js';

export interface SecretById {
  secret: string;
}
export interface SecretByKey {
  project: string;
  key: string;
}
export interface ItemField {
  item: string;
  /** `password` (default), `username`, `notes`, `totp` (the current code), or a custom field's exact name. */
  field?: string;
}
export interface ItemAttachment {
  item: string;
  /** The attachment's exact file name, or its id. */
  attachment: string;
}
export type BitwardenSource = SecretById | SecretByKey | ItemField | ItemAttachment;

export type SecretsManagerSource = SecretById | SecretByKey;
export type PasswordManagerSource = ItemField | ItemAttachment;

export const isSecretsManager = (s: BitwardenSource): s is SecretsManagerSource => 'secret' in s || 'project' in s;

// Every schema here is built on first use (lazySchema): most runs use no Bitwarden source.
const nonEmpty = lazySchema(() => z.string().check(z.minLength(1)));
const uuid = (what: string) => nonEmpty().check(z.refine((v) => isUuid(v), { message: `expected ${what} (a UUID such as 3f2a1c9e-…)` }));

// A source is one of four exact shapes; an unknown or missing key says what each shape needs.
let shapeSchemas: z.ZodMiniType[] | undefined;
const shapes = () =>
  (shapeSchemas ??= [
    z.strictObject({ secret: uuid("the secret's id; to name a secret by its key, use project and key") }),
    z.strictObject({ project: uuid("the project's id"), key: nonEmpty() }),
    z.strictObject({ item: nonEmpty(), field: z.optional(nonEmpty()) }),
    z.strictObject({ item: nonEmpty(), attachment: nonEmpty() }),
  ]);

export const sourceSchema = lazySchema(() => z.unknown().check(
  z.superRefine((value, ctx) => {
    const fail = (message: string, path: PropertyKey[] = []): void => void ctx.issues.push({ code: 'custom', message, path, input: value });
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return fail('expected an object: {"secret": "<uuid>"}, {"project": "<uuid>", "key": "NAME"}, {"item": "…", "field": "…"} or {"item": "…", "attachment": "…"}');
    const keys = Object.keys(value);
    const shape = 'secret' in value ? 0 : 'project' in value || 'key' in value ? 1 : 'attachment' in value ? 3 : 'item' in value || 'field' in value ? 2 : -1;
    if (shape < 0) return fail(`expected "secret" or "project" and "key" (Secrets Manager), or "item" (Password Manager)${keys.length ? `; got ${keys.map((k) => JSON.stringify(k)).join(', ')}` : ''}`);
    const result = z.safeParse(shapes()[shape]!, value);
    if (result.success) return;
    for (const issue of result.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        const which = shape <= 1 ? 'a Secrets Manager source takes "secret", or "project" and "key"' : 'a Password Manager source takes "item" with "field" or "attachment"';
        fail(`unknown or conflicting key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}: ${which}`);
      } else {
        const at = issue.path;
        const present = at.length > 0 && Object.prototype.hasOwnProperty.call(value, at[0] as string);
        fail(issue.code === 'invalid_type' && !present ? 'is required (expected a string)' : issue.code === 'invalid_type' ? 'expected a string' : issue.code === 'too_small' ? 'must not be empty' : issue.message, at);
      }
    }
  }),
) as unknown as z.ZodMiniType<BitwardenSource, unknown>);

export interface BitwardenSettings {
  /** The server: https://vault.bitwarden.com (default), https://vault.bitwarden.eu, or a self-hosted base URL. */
  server?: string;
  /** Secrets Manager API and identity URLs, when they do not follow from `server`. */
  apiUrl?: string;
  identityUrl?: string;
  /** Secrets Manager: the machine account's access token, in a file only its owner can read. */
  accessTokenFile?: string;
  /** Password Manager: the personal API key's client_id (`user.…`), or a file holding it. */
  clientId?: string;
  clientIdFile?: string;
  /** Password Manager: the API key's client_secret, in a file. */
  clientSecretFile?: string;
  /** Password Manager: the master password, in a file. */
  passwordFile?: string;
  /** Password Manager: bw's data directory, kept between runs so a run does not log in again. */
  appDataDir?: string;
  /** The `bw` program: a path, or a name looked up on PATH (default `bw`). */
  bw?: string;
  /** Extra CA certificates (PEM) to trust, for a self-hosted server with a private CA. */
  caFile?: string;
  /** Seconds each call may take (an HTTP request, one `bw` start). */
  timeout?: number;
  /** Accept token and password files readable by their group or others. */
  allowReadableTokenFiles?: boolean;
}

const httpsUrl = lazySchema(() => nonEmpty().check(
  z.refine((v) => {
    try {
      const u = new URL(v);
      return u.protocol === 'https:' || (u.protocol === 'http:' && isLoopback(u.hostname));
    } catch {
      return false;
    }
  }, { message: 'expected an https:// URL (plain http only to this machine: 127.0.0.1, ::1, localhost)' }),
));

export function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || hostname === '::1' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

// Settings carry no base directory (the engine validates them once for the whole file), so their
// paths are absolute: a relative one would depend on the directory the program was started in.
const absolute = lazySchema(() => nonEmpty().check(z.refine((v) => v.startsWith('/'), { message: 'expected an absolute path' })));
const program = lazySchema(() => nonEmpty().check(z.refine((v) => v.startsWith('/') || !v.includes('/'), { message: 'expected an absolute path, or a program name looked up on PATH' })));

export const settingsSchema = lazySchema(() =>
  z.strictObject({
    server: z.optional(httpsUrl()),
    apiUrl: z.optional(httpsUrl()),
    identityUrl: z.optional(httpsUrl()),
    accessTokenFile: z.optional(absolute()),
    clientId: z.optional(nonEmpty().check(z.refine((v) => /^user\.[0-9a-f-]{36}$/i.test(v), { message: 'expected the API key\'s client_id, "user.<uuid>"' }))),
    clientIdFile: z.optional(absolute()),
    clientSecretFile: z.optional(absolute()),
    passwordFile: z.optional(absolute()),
    appDataDir: z.optional(absolute()),
    bw: z.optional(program()),
    caFile: z.optional(absolute()),
    timeout: z.optional(z.number().check(z.positive(), z.lte(3600))),
    allowReadableTokenFiles: z.optional(z.boolean()),
  }),
);

const CLOUD: Record<string, { api: string; identity: string }> = {
  'vault.bitwarden.com': { api: 'https://api.bitwarden.com', identity: 'https://identity.bitwarden.com' },
  'vault.bitwarden.eu': { api: 'https://api.bitwarden.eu', identity: 'https://identity.bitwarden.eu' },
};
export const DEFAULT_SERVER = 'https://vault.bitwarden.com';

/** The API and identity URLs: explicit ones, the cloud's own, or `<server>/api` and `<server>/identity` (self-hosted, Vaultwarden). */
export function serviceUrls(settings: BitwardenSettings): { api: string; identity: string } {
  const server = (settings.server ?? DEFAULT_SERVER).replace(/\/+$/, '');
  const cloud = CLOUD[new URL(server).host];
  return {
    api: (settings.apiUrl ?? cloud?.api ?? `${server}/api`).replace(/\/+$/, ''),
    identity: (settings.identityUrl ?? cloud?.identity ?? `${server}/identity`).replace(/\/+$/, ''),
  };
}

/** `bitwarden secret 3f2a…`, `bitwarden item "GitHub" field password`: names and ids only. */
export function describeSource(s: BitwardenSource): string {
  if ('secret' in s) return `bitwarden secret ${s.secret}`;
  if ('project' in s) return `bitwarden project ${s.project} key ${JSON.stringify(s.key)}`;
  if ('attachment' in s) return `bitwarden item ${JSON.stringify(s.item)} attachment ${JSON.stringify(s.attachment)}`;
  return `bitwarden item ${JSON.stringify(s.item)} field ${s.field ?? 'password'}`;
}
