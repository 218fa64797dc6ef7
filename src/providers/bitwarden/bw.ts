// Password Manager vaults through Bitwarden's official CLI, `bw`. Each start costs about half a
// second and 130 MB, so a run starts it a fixed number of times, however many secrets it serves:
// `unlock` (the master password through bw's environment, never argv), `sync --force`, one
// `list items` for every secret, and one
// `get attachment` per attachment. The data directory persists between runs, so `config server`
// and `login --apikey` happen on the first run only (or when the server or API key changes).
import { existsSync, mkdirSync, lstatSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ProviderError, type ProviderErrorKind } from '../../errors.js';
import { runChild, type ChildResult } from '../../exec.js';
import { formatSeconds, readTokenFile } from '../network.js';
import type { FetchOutcome, ProviderContext, SecretRequest } from '../provider.js';
import { DEFAULT_SERVER, type BitwardenSettings, type PasswordManagerSource } from './source.js';
import { findAttachment, findItem, readField, type VaultItem } from './vault.js';

const NAME = 'bitwarden';
const fail = (kind: ProviderErrorKind, message: string) => new ProviderError(NAME, kind, message);

export interface PasswordManagerOptions {
  settings: BitwardenSettings;
  context: Pick<ProviderContext, 'signal' | 'countCall' | 'notSent' | 'log'>;
  timeoutMs: number;
}

/** The vault as a run sees it: bw unlocked and synced, and its one listing; or why not. */
export type OpenedVault = { bw: Bw; items: VaultItem[] } | { error: ProviderError };

// Why apart from the fetch: the provider opens the vault once per run and serves every fallback round from it.
/** Reads the credentials, unlocks and syncs, lists the items: the whole cost of a run but attachments. */
export async function openPasswordManager(options: PasswordManagerOptions): Promise<OpenedVault> {
  try {
    const bw = new Bw(options, readCredentials(options.settings));
    await bw.open();
    return { bw, items: await bw.listItems() };
  } catch (error) {
    return { error: error instanceof ProviderError ? error : fail('unavailable', `bw failed unexpectedly (${(error as Error)?.name ?? 'error'})`) };
  }
}

/** Serves every Password Manager request from one unlock, one sync and one listing (`opened`, when the run has them already). */
export async function fetchPasswordManager(requests: readonly SecretRequest<PasswordManagerSource>[], options: PasswordManagerOptions, opened: Promise<OpenedVault> = openPasswordManager(options)): Promise<Map<string, FetchOutcome>> {
  const out = new Map<string, FetchOutcome>();
  const vault = await opened;
  if ('error' in vault) {
    for (const r of requests) out.set(r.id, { error: vault.error });
    return out;
  }
  const { bw, items } = vault;
  const now = Date.now();
  for (const r of requests) {
    const item = findItem(items, r.source.item);
    if (item instanceof ProviderError) {
      out.set(r.id, { error: item });
      continue;
    }
    if ('attachment' in r.source) {
      const attachment = findAttachment(item, r.source.attachment);
      if (attachment instanceof ProviderError) out.set(r.id, { error: attachment });
      else out.set(r.id, await bw.attachment(item, attachment).then((ok) => ({ ok }), (error: ProviderError) => ({ error })));
      continue;
    }
    const value = readField(item, r.source.field ?? 'password', now);
    out.set(r.id, value instanceof ProviderError ? { error: value } : { ok: value });
  }
  return out;
}

interface Credentials {
  clientId: string;
  clientSecret: string;
  password: string;
}

/** The API key and master password, from files only their owner can read. */
function readCredentials(settings: BitwardenSettings): Credentials {
  const missing = ['clientSecretFile', 'passwordFile'].filter((k) => !settings[k as keyof BitwardenSettings]);
  if (!settings.clientId && !settings.clientIdFile) missing.unshift('clientId');
  if (missing.length) throw fail('config', `providers.bitwarden.${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not set: Password Manager sources ({"item": …}) log in with a personal API key and unlock with the master password`);
  const allowReadable = settings.allowReadableTokenFiles === true;
  const read = (file: string, setting: string, finalLineEndingOnly = false) => readTokenFile(NAME, file, `providers.bitwarden.${setting}`, { allowReadable, maxBytes: 4096, finalLineEndingOnly }).toString('utf8');
  const clientId = settings.clientId ?? read(settings.clientIdFile!, 'clientIdFile').trim();
  if (!/^user\.[0-9a-f-]{36}$/i.test(clientId)) throw fail('config', `providers.bitwarden.clientId${settings.clientId ? '' : 'File'}: expected a personal API key's client_id, "user.<uuid>" (organization API keys cannot read a vault)`);
  // bw reads a password up to the end of its first line; a password file's trailing newline is not
  // part of it, but trailing spaces and tabs are (Bitwarden does not trim a master password).
  const password = read(settings.passwordFile!, 'passwordFile', true).split(/\r?\n/)[0]!;
  return { clientId, clientSecret: read(settings.clientSecretFile!, 'clientSecretFile').trim(), password };
}

/** Where bw keeps its data: the setting, else a directory of our own beside other state. */
function appDataDir(settings: BitwardenSettings): string {
  if (settings.appDataDir) return settings.appDataDir;
  if (process.getuid?.() === 0) return '/var/lib/materialize/bitwarden';
  return join(process.env.XDG_STATE_HOME || join(homedir(), '.local/state'), 'materialize/bitwarden');
}

// Why so strict: bw's data directory holds the encrypted vault and the tokens that refresh it.
/** Creates the data directory (0700) or checks that it is ours and private. */
function ensurePrivateDir(dir: string): void {
  const setting = 'providers.bitwarden.appDataDir';
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw fail('config', `${setting}: ${dir} cannot be created (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw fail('config', `${setting}: ${dir} is not a directory`);
  if (process.getuid && st.uid !== process.getuid()) throw fail('config', `${setting}: ${dir} belongs to uid ${st.uid}, not to this user; bw's data must be private`);
  if ((st.mode & 0o077) !== 0) throw fail('config', `${setting}: ${dir} has mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}; bw keeps the encrypted vault and its tokens there: chmod 700 ${dir}`);
}

/** The bw CLI, started with a minimal environment and a deadline; every start is counted. */
export class Bw {
  private readonly dir: string;
  private readonly program: string;
  private readonly server: string;
  private session: string | undefined;

  constructor(
    private readonly options: PasswordManagerOptions,
    private readonly credentials: Credentials,
  ) {
    this.dir = appDataDir(options.settings);
    this.program = options.settings.bw ?? 'bw';
    this.server = (options.settings.server ?? DEFAULT_SERVER).replace(/\/+$/, '');
  }

  /** Unlocks (logging in first when this data directory is not logged in to this server with this key), then syncs. */
  async open(): Promise<void> {
    ensurePrivateDir(this.dir);
    if (!this.markerMatches()) await this.login();
    let unlocked = await this.run(['unlock', '--passwordenv', 'BW_PASSWORD', '--raw'], { BW_PASSWORD: this.credentials.password });
    if (unlocked.code !== 0 && /not logged in/i.test(reason(unlocked))) {
      await this.login();
      unlocked = await this.run(['unlock', '--passwordenv', 'BW_PASSWORD', '--raw'], { BW_PASSWORD: this.credentials.password });
    }
    if (unlocked.code !== 0) throw this.failure('unlock', unlocked);
    this.session = unlocked.stdout.toString('utf8').trim();
    if (!/^[A-Za-z0-9+/=]{20,}$/.test(this.session)) throw fail('corrupt', 'bw unlock printed no session key');
    // --force: a plain `bw sync` skips the download when the server's revision date is not after
    // bw's last sync as this machine's clock recorded it; at boot that clock can be wrong.
    const synced = await this.run(['sync', '--force']);
    if (synced.code !== 0) throw this.failure('sync', synced);
  }

  async listItems(): Promise<VaultItem[]> {
    const listed = await this.run(['list', 'items']);
    if (listed.code !== 0) throw this.failure('list items', listed);
    let items: unknown;
    try {
      items = JSON.parse(listed.stdout.toString('utf8'));
    } catch {
      throw fail('corrupt', 'bw list items did not print JSON');
    }
    if (!Array.isArray(items) || items.some((i) => !i || typeof i.id !== 'string' || typeof i.name !== 'string')) throw fail('corrupt', 'bw list items printed something other than a list of items');
    return items as VaultItem[];
  }

  /** One attachment's bytes, exactly as stored (`--raw` writes them to stdout), checked against its size. */
  async attachment(item: VaultItem, attachment: { id: string; size: number | undefined }): Promise<Buffer> {
    const got = await this.run(['get', 'attachment', attachment.id, '--itemid', item.id, '--raw']);
    if (got.code !== 0) throw this.failure(`get attachment ${attachment.id} of item ${item.id}`, got);
    if (attachment.size !== undefined && got.stdout.length !== attachment.size) {
      throw fail('corrupt', `attachment ${attachment.id} of item ${JSON.stringify(item.name)} came back with ${got.stdout.length} bytes, not ${attachment.size}`);
    }
    return got.stdout;
  }

  /** Logs this data directory in to the configured server with the API key (logging out of anything else first). */
  private async login(): Promise<void> {
    // An empty data directory has no one to log out (and a start saved); "You are not logged in." is fine too.
    if (existsSync(join(this.dir, 'data.json'))) await this.run(['logout']);
    const configured = await this.run(['config', 'server', this.server]);
    if (configured.code !== 0) throw this.failure(`config server ${this.server}`, configured);
    const loggedIn = await this.run(['login', '--apikey'], { BW_CLIENTID: this.credentials.clientId, BW_CLIENTSECRET: this.credentials.clientSecret });
    if (loggedIn.code !== 0) throw this.failure('login --apikey', loggedIn);
    this.writeMarker();
  }

  // A small file of ours beside bw's data: which server and API key it is logged in with, so a run
  // notices a changed setting without asking bw (each question costs a start).
  private markerFile(): string {
    return join(this.dir, 'materialize-login.json');
  }

  private markerMatches(): boolean {
    try {
      const marker = JSON.parse(readFileSync(this.markerFile(), 'utf8')) as { server?: string; clientId?: string };
      return marker.server === this.server && marker.clientId === this.credentials.clientId;
    } catch {
      return false;
    }
  }

  private writeMarker(): void {
    const tmp = `${this.markerFile()}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ server: this.server, clientId: this.credentials.clientId })}\n`, { mode: 0o600 });
    renameSync(tmp, this.markerFile());
  }

  private async run(args: string[], extra: Record<string, string> = {}): Promise<ChildResult> {
    const settings = this.options.settings;
    this.options.context.countCall(`bw ${args[0]}`);
    const inherited = (name: string) => process.env[name];
    return runChild(this.program, args, {
      timeoutMs: this.options.timeoutMs,
      signal: this.options.context.signal,
      cwd: this.dir,
      env: {
        BITWARDENCLI_APPDATA_DIR: this.dir,
        HOME: this.dir,
        BW_NOINTERACTION: 'true',
        NODE_EXTRA_CA_CERTS: settings.caFile ?? inherited('NODE_EXTRA_CA_CERTS'),
        HTTPS_PROXY: inherited('HTTPS_PROXY') ?? inherited('https_proxy'),
        HTTP_PROXY: inherited('HTTP_PROXY') ?? inherited('http_proxy'),
        NO_PROXY: inherited('NO_PROXY') ?? inherited('no_proxy'),
        ...(this.session ? { BW_SESSION: this.session } : {}),
        ...extra,
      },
    });
  }

  /** What went wrong, as a provider error kind and a message that names the step, never a value. */
  private failure(step: string, result: ChildResult): ProviderError {
    const where = `bw ${step}`;
    if (result.spawnError === 'ENOENT') return fail('config', `${this.program} was not found (install Bitwarden's CLI, nixpkgs' bitwarden-cli, or set providers.bitwarden.bw to its path)`);
    if (result.spawnError) return fail('config', `${this.program} could not be started (${result.spawnError})`);
    if (result.timedOut) return fail('unavailable', `${where} did not finish in ${formatSeconds(this.options.timeoutMs)} and was stopped (the server at ${this.server} may be unreachable or not answering)`);
    if (result.aborted) return fail('unavailable', `${where}: the run's deadline passed`);
    const said = reason(result);
    const kind = classify(said, step);
    // bw could not connect at all: the server saw nothing, so the start is given back to the budget.
    if (kind === 'unavailable' && /econnrefused|enotfound|eai_again|ehostunreach|enetunreach|getaddrinfo/i.test(said)) this.options.context.notSent?.(where);
    return fail(kind, `${where} failed: ${said || `exit code ${result.code}`}${HINTS[kind] ?? ''}`);
  }
}

const HINTS: Partial<Record<ProviderErrorKind, string>> = {
  'rate-limited': ' (rate-limited by the server; not retried)',
};

// bw prints informational noise (a missing data file, a server without /api/config, Rust log lines)
// before its reason; the reason is its last line.
const NOISE = [/^Could not find (dir|data file)/, /^Unable to fetch ServerConfig/, /^ERROR bitwarden_/, /^\s/, /^[{}]/, /^\s*$/];

/** bw's own reason for failing: its last meaningful stderr line, printable and without anything key-like. */
function reason(result: ChildResult): string {
  const lines = result.stderr.toString('utf8').split('\n').map((l) => l.trimEnd());
  const meaningful = lines.filter((l) => !NOISE.some((re) => re.test(l)));
  const last = meaningful[meaningful.length - 1] ?? '';
  const clean = last.replace(/\x1b\[[0-9;]*m/g, '').replace(/[^\x20-\x7e]/g, '?').replace(/[A-Za-z0-9+/_-]{32,}={0,2}/g, '<redacted>');
  return clean.length > 200 ? `${clean.slice(0, 200)}…` : clean;
}

/** bw's messages (2026.x) mapped to error kinds. */
function classify(message: string, step: string): ProviderErrorKind {
  if (/too many requests|slow down|rate.?limit|\b429\b/i.test(message)) return 'rate-limited';
  if (/not logged in|vault is locked|session key is invalid|client_id or client_secret is incorrect|invalid_client|invalid api key|decryption operation failed|invalid master password|master password/i.test(message)) return 'unauthorized';
  if (/insecure url|must use https/i.test(message)) return 'config';
  if (/econnrefused|enotfound|eai_again|econnreset|etimedout|ehostunreach|enetunreach|fetch failed|socket hang up|network|certificate|self.signed|unable to verify|getaddrinfo/i.test(message)) return 'unavailable';
  if (/more than one result/i.test(message)) return 'config';
  if (/^not found\.?$/i.test(message) || (/not found/i.test(message) && step.startsWith('get'))) return 'not-found';
  return 'unavailable';
}
