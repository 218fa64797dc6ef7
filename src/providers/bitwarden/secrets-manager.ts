// Bitwarden Secrets Manager through our own client: one login with the machine account's access
// token (client_credentials, scope api.secrets), whose encrypted payload yields the organization
// key; at most one listing (only when a secret is named by its key, or to tell which ids of a
// refused batch are missing); one batched get-by-ids for every secret of the run. Values are
// EncStrings under the organization key, decrypted here (crypto.ts). No native code: it runs
// wherever Node does (x86_64, aarch64, musl), which Bitwarden's SDK does not.
import { ProviderError, type ProviderErrorKind } from '../../errors.js';
import { DeadlineError, readTokenFile, retryable, retrying } from '../network.js';
import type { FetchOutcome, ProviderContext, SecretRequest } from '../provider.js';
import { parseAccessToken, type AccessToken } from './access-token.js';
import { decryptEncString, EncStringError, symmetricKey, type SymmetricKey } from './crypto.js';
import { caWith, httpCall, type HttpAnswer } from './http.js';
import { serviceUrls, type BitwardenSettings, type SecretsManagerSource } from './source.js';

const NAME = 'bitwarden';
const fail = (kind: ProviderErrorKind, message: string, cause?: unknown) => new ProviderError(NAME, kind, message, cause === undefined ? undefined : { cause });

interface Session {
  bearer: string;
  organizationId: string;
  orgKey: SymmetricKey;
}

/** An encrypted secret as the API returns it (get-by-ids: key, value, note; listings: key only). */
interface ApiSecret {
  id: string;
  organizationId: string;
  key: string;
  value?: string;
  projects?: { id: string }[] | null;
}

export interface SecretsManagerOptions {
  settings: BitwardenSettings;
  context: Pick<ProviderContext, 'signal' | 'countCall' | 'notSent' | 'log'>;
  timeoutMs: number;
  random?: () => number;
}

/** A Secrets Manager client logged in for the run, or the failure its login ended in. */
export type LoggedIn = { client: Client } | { error: ProviderError };

// Why apart from the fetch: the provider logs in once per run and serves every fallback round with that client.
/** Reads the access token and logs in. */
export async function loginSecretsManager(options: SecretsManagerOptions): Promise<LoggedIn> {
  try {
    const client = new Client(options, readAccessToken(options.settings));
    await client.login();
    return { client };
  } catch (error) {
    return { error: asProviderError(error) };
  }
}

/** Fetches every Secrets Manager request in one session (`loggedIn`, when the run has one already); each request gets its own outcome. */
export async function fetchSecretsManager(requests: readonly SecretRequest<SecretsManagerSource>[], options: SecretsManagerOptions, loggedIn: Promise<LoggedIn> = loginSecretsManager(options)): Promise<Map<string, FetchOutcome>> {
  const out = new Map<string, FetchOutcome>();
  const failAll = (error: ProviderError) => {
    for (const r of requests) if (!out.has(r.id)) out.set(r.id, { error });
    return out;
  };
  const session = await loggedIn;
  if ('error' in session) return failAll(session.error);
  const { client } = session;

  try {
    // Names first: they need the listing, which also gives the ids to fetch.
    const ids = new Map<string, string[]>(); // secret id → request ids
    const want = (secretId: string, requestId: string) => ids.set(secretId, [...(ids.get(secretId) ?? []), requestId]);
    const byKey = requests.filter((r) => 'key' in r.source);
    if (byKey.length > 0) {
      const listing = await client.list();
      for (const r of byKey) {
        const found = resolveKey(listing, r.source as { project: string; key: string });
        if ('error' in found) out.set(r.id, found);
        else want(found.id, r.id);
      }
    }
    for (const r of requests) if ('secret' in r.source) want(r.source.secret, r.id);
    if (ids.size === 0) return out;

    const secrets = await client.getByIds([...ids.keys()]);
    for (const [secretId, requestIds] of ids) {
      const outcome = secrets.get(secretId) ?? { error: fail('not-found', `secret ${secretId} does not exist, or this machine account cannot read it`) };
      for (const id of requestIds) out.set(id, outcome);
    }
    return out;
  } catch (error) {
    return failAll(asProviderError(error));
  }
}

function readAccessToken(settings: BitwardenSettings): AccessToken {
  const setting = 'providers.bitwarden.accessTokenFile';
  if (!settings.accessTokenFile) throw fail('config', `${setting} is not set: Secrets Manager sources ({"secret": …} or {"project": …, "key": …}) need a machine account's access token`);
  const raw = readTokenFile(NAME, settings.accessTokenFile, setting, { allowReadable: settings.allowReadableTokenFiles === true, maxBytes: 4096 });
  try {
    return parseAccessToken(raw.toString('utf8'));
  } catch (error) {
    throw fail('config', `${setting}: ${settings.accessTokenFile} does not hold a Secrets Manager access token: ${(error as Error).message}`);
  } finally {
    raw.fill(0);
  }
}

/** The one secret of `project` whose decrypted key is exactly `key`; ambiguity names the candidates' ids. */
function resolveKey(listing: Listing, source: { project: string; key: string }): { id: string } | { error: ProviderError } {
  const inProject = listing.secrets.filter((s) => s.projects.includes(source.project));
  const matches = inProject.filter((s) => s.key === source.key);
  if (matches.length === 1) return { id: matches[0]!.id };
  if (matches.length > 1) {
    return { error: fail('config', `project ${source.project} has ${matches.length} secrets with the key ${JSON.stringify(source.key)} (${matches.map((m) => m.id).join(', ')}); name one by its id ({"secret": "<id>"})`) };
  }
  const why = inProject.length === 0 ? `this machine account sees no secret in project ${source.project} (wrong project id, or no access to it)` : `project ${source.project} has no secret with the key ${JSON.stringify(source.key)} among the ${inProject.length} this machine account can read (keys are case-sensitive)`;
  return { error: fail('not-found', why) };
}

interface Listing {
  secrets: { id: string; key: string; projects: string[] }[];
}

/** The HTTP side: calls, their counting, status codes turned into error kinds, retries of temporary failures. */
export class Client {
  private session: Session | undefined;
  private listing: Listing | undefined;
  private readonly urls: { api: string; identity: string };

  constructor(
    private readonly options: SecretsManagerOptions,
    private readonly token: AccessToken,
  ) {
    this.urls = serviceUrls(options.settings);
  }

  /** client_credentials with the token's id and secret; the payload gives the organization key. */
  async login(): Promise<void> {
    const t = this.token;
    const body = new URLSearchParams({ scope: 'api.secrets', client_id: t.id, client_secret: t.clientSecret, grant_type: 'client_credentials' }).toString();
    const what = `Secrets Manager login at ${this.urls.identity}`;
    const answer = await this.call('login', `${this.urls.identity}/connect/token`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', 'device-type': '21' },
      what,
    });
    if (answer.status !== 200) throw loginFailure(answer, what);
    const json = parseJson(answer.body, what) as { access_token?: unknown; encrypted_payload?: unknown };
    if (typeof json.access_token !== 'string') throw fail('corrupt', `${what}: the answer has no access_token`);
    if (typeof json.encrypted_payload !== 'string') {
      throw fail('corrupt', `${what}: the answer has no encrypted_payload, so it is not a Secrets Manager login (Vaultwarden does not implement Secrets Manager)`);
    }
    let orgKey: SymmetricKey;
    try {
      const payload = JSON.parse(decryptEncString(json.encrypted_payload, t.key).toString('utf8')) as { encryptionKey?: unknown };
      if (typeof payload.encryptionKey !== 'string') throw new EncStringError('it holds no encryptionKey');
      orgKey = symmetricKey(Buffer.from(payload.encryptionKey, 'base64'));
    } catch (error) {
      throw fail('unauthorized', `${what}: the login answer cannot be opened with this access token's key (${(error as Error).message}); is the token complete?`);
    }
    const organizationId = jwtClaim(json.access_token, 'organization');
    if (!organizationId) throw fail('corrupt', `${what}: the access token the server issued names no organization`);
    this.session = { bearer: json.access_token, organizationId: organizationId.toLowerCase(), orgKey };
  }

  /** Every secret the machine account can read: ids, decrypted keys, projects. One call, cached. */
  async list(): Promise<Listing> {
    if (this.listing) return this.listing;
    const s = this.session!;
    const what = `Secrets Manager listing of organization ${s.organizationId}`;
    const answer = await this.call('list secrets', `${this.urls.api}/organizations/${s.organizationId}/secrets`, { method: 'GET', what, headers: this.auth() });
    if (answer.status !== 200) throw apiFailure(answer, what);
    const json = parseJson(answer.body, what) as { secrets?: unknown };
    if (!Array.isArray(json.secrets)) throw fail('corrupt', `${what}: the answer has no list of secrets`);
    const secrets = (json.secrets as ApiSecret[]).map((raw) => {
      const secret = checkSecret(raw, what, false);
      return { id: secret.id, key: this.decrypt(secret.key, `the key of secret ${secret.id}`).toString('utf8'), projects: (secret.projects ?? []).map((p) => String(p?.id).toLowerCase()) };
    });
    return (this.listing = { secrets });
  }

  /**
   * One batched get-by-ids. The server refuses the whole batch (404) when any id is missing or not
   * readable; then one listing tells which, and the batch is sent again without them.
   */
  async getByIds(ids: string[]): Promise<Map<string, FetchOutcome>> {
    const out = new Map<string, FetchOutcome>();
    let batch = ids;
    for (let attempt = 0; attempt < 2 && batch.length > 0; attempt++) {
      const what = `Secrets Manager fetch of ${batch.length} secret${batch.length === 1 ? '' : 's'}`;
      const answer = await this.call('get secrets', `${this.urls.api}/secrets/get-by-ids`, {
        method: 'POST',
        body: JSON.stringify({ ids: batch }),
        headers: { ...this.auth(), 'content-type': 'application/json; charset=utf-8' },
        what,
      });
      if (answer.status === 404 && attempt === 0) {
        const visible = new Set((await this.list()).secrets.map((s) => s.id));
        batch = batch.filter((id) => visible.has(id));
        continue;
      }
      if (answer.status !== 200) throw apiFailure(answer, what);
      const json = parseJson(answer.body, what) as { data?: unknown };
      if (!Array.isArray(json.data)) throw fail('corrupt', `${what}: the answer has no data list`);
      for (const raw of json.data as ApiSecret[]) {
        try {
          const secret = checkSecret(raw, what, true);
          out.set(secret.id, { ok: this.decrypt(secret.value!, `the value of secret ${secret.id}`) });
        } catch (error) {
          const id = typeof raw?.id === 'string' ? raw.id.toLowerCase() : undefined;
          if (id) out.set(id, { error: asProviderError(error) });
          else throw error;
        }
      }
      break;
    }
    return out;
  }

  private auth(): Record<string, string> {
    return { authorization: `Bearer ${this.session!.bearer}` };
  }

  private decrypt(text: string, what: string): Buffer {
    try {
      return decryptEncString(text, this.session!.orgKey);
    } catch (error) {
      throw fail('corrupt', `${what} cannot be decrypted with the organization key: ${(error as Error).message}`);
    }
  }

  /** One counted HTTP call, retried (bounded, with backoff) only when the failure is temporary and not a silent server. */
  private call(count: string, url: string, request: { method: 'GET' | 'POST'; body?: string; headers?: Record<string, string>; what: string }): Promise<HttpAnswer> {
    const { settings, context } = this.options;
    return retrying(
      async () => {
        context.countCall(count);
        let answer: HttpAnswer;
        try {
          answer = await httpCall(url, { ...request, timeoutMs: this.options.timeoutMs, signal: context.signal, ...(settings.caFile ? { ca: caWith(settings.caFile) as never } : {}) });
        } catch (error) {
          // No connection: the call is given back to the budget (it stays counted in the report).
          if (error instanceof ProviderError && error.notSent) context.notSent?.(count);
          throw error;
        }
        if (answer.status >= 500) throw fail('unavailable', `${request.what}: the server answered ${answer.status} (a server error)`);
        return answer;
      },
      {
        attempts: 3,
        baseDelayMs: 500,
        signal: context.signal,
        random: this.options.random,
        // A server that did not answer in time would most likely stay silent: another attempt only spends the deadline.
        retryable,
      },
    );
  }
}

function checkSecret(raw: ApiSecret, what: string, withValue: boolean): ApiSecret {
  if (!raw || typeof raw !== 'object' || typeof raw.id !== 'string' || typeof raw.key !== 'string' || (withValue && typeof raw.value !== 'string')) {
    throw fail('corrupt', `${what}: a secret in the answer lacks its id, key${withValue ? ' or value' : ''}`);
  }
  return { ...raw, id: raw.id.toLowerCase() };
}

function parseJson(body: Buffer, what: string): Record<string, unknown> {
  try {
    const value = JSON.parse(body.toString('utf8')) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw fail('corrupt', `${what}: the answer is not a JSON object`);
}

/** One claim of a JWT's payload; the signature is the server's business, not ours. */
function jwtClaim(jwt: string, claim: string): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
    const value = payload[claim];
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** A short, printable excerpt of what the server said (an OAuth error code or message), never our request. */
function serverSaid(body: Buffer): string {
  let text = '';
  try {
    const json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    const parts = [json.error, json.error_description, json.message, (json.ErrorModel as Record<string, unknown> | undefined)?.Message].filter((p) => typeof p === 'string' && p);
    text = [...new Set(parts as string[])].join(': ');
  } catch {
    text = '';
  }
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean ? ` (${clean.length > 160 ? `${clean.slice(0, 160)}…` : clean})` : '';
}

function rateLimited(answer: HttpAnswer, what: string): ProviderError {
  const after = answer.retryAfter && /^\d{1,6}$/.test(answer.retryAfter) ? `; retry after ${answer.retryAfter} s` : '';
  return fail('rate-limited', `${what}: rate-limited by the server (HTTP 429${after}); not retried`);
}

function loginFailure(answer: HttpAnswer, what: string): ProviderError {
  if (answer.status === 429) return rateLimited(answer, what);
  if (answer.status === 400 && /scope not supported/i.test(serverSaid(answer.body))) {
    return fail('config', `${what}: the server does not serve Secrets Manager (it said "Scope not supported", as Vaultwarden does: Vaultwarden implements Password Manager vaults only; read those with {"item": …})`);
  }
  if (answer.status === 400 || answer.status === 401 || answer.status === 403) {
    return fail('unauthorized', `${what}: the access token was refused${serverSaid(answer.body)}: revoked or expired, or made for another server (bitwarden.com, bitwarden.eu, self-hosted)`);
  }
  if (answer.status === 404) return fail('config', `${what}: no identity service there (HTTP 404); check providers.bitwarden.server or identityUrl`);
  return fail('unavailable', `${what}: unexpected HTTP ${answer.status}`);
}

function apiFailure(answer: HttpAnswer, what: string): ProviderError {
  if (answer.status === 429) return rateLimited(answer, what);
  if (answer.status === 401 || answer.status === 403) return fail('unauthorized', `${what}: refused (HTTP ${answer.status}); the machine account may have lost access`);
  if (answer.status === 404) return fail('not-found', `${what}: not found (HTTP 404): a secret does not exist or this machine account cannot read it`);
  return fail('unavailable', `${what}: unexpected HTTP ${answer.status}${serverSaid(answer.body)}`);
}

export function asProviderError(error: unknown): ProviderError {
  if (error instanceof ProviderError) return error;
  if (error instanceof DeadlineError) return fail('unavailable', error.message, error);
  return fail('unavailable', `failed unexpectedly (${(error as Error)?.name ?? 'error'})`, error);
}
