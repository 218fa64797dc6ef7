// `{"rbw": {"name": "github-token", "user"?: "alice", "folder"?: "dev", "field"?: "API Key"}}`: an
// item of a person's unlocked rbw agent (the unofficial Bitwarden client that users' shell wrappers
// call). rbw was made for a person at a terminal, and its plain output has pitfalls this provider
// steps around:
// - `rbw get` on a locked agent starts pinentry and waits for the master password: `rbw unlocked`
//   is asked first, and a locked agent is an error, never a prompt;
// - as root without a session of its own (a boot run) there is no agent to ask: refused unless the
//   configuration allows it (`providers.rbw.allowRoot`);
// - a missing field or password prints nothing and exits 0: nothing is "not found", never "";
// - `--field` matches custom fields by case-insensitive substring and entry names fall back to
//   substrings too: the entry is read whole (`rbw get --raw`, JSON) and name, user, folder and field
//   are matched exactly here;
// - plain output ends with a newline that cannot be told from the value's own: JSON keeps the bytes.
import { statSync } from 'node:fs';
import * as z from 'zod/mini';
import { lazySchema } from '../config/validate.js';
import { ProviderError, type ProviderErrorKind } from '../errors.js';
import { childFailure, firstLine, runChild, type ChildResult } from '../exec.js';
import type { FetchOutcome, Provider, ProviderContext, ProviderDefinition, SecretRequest } from './provider.js';

export interface RbwSource {
  /** The entry's name (or its id, or a URI, as `rbw get` takes them). */
  name: string;
  /** The login's user name, when several entries share the name. */
  user?: string;
  folder?: string;
  /** A custom field (exact name), or password, username, notes (any case, as rbw names them). */
  field?: string;
}

export interface RbwSettings {
  /** Let a root run without a session of its own use rbw (root's own agent, unlocked by hand). */
  allowRoot?: boolean;
  /** The rbw program: a name looked up on PATH, or an absolute path. */
  command?: string;
  /** RBW_PROFILE: which of the person's rbw profiles to use (default: the caller's RBW_PROFILE). */
  profile?: string;
  /** Seconds allowed for each rbw call (default 30; the run's deadline bounds them all). */
  timeout?: number;
}

const NAME = 'rbw';
const DEFAULT_TIMEOUT_MS = 30_000;
/** rbw calls at once: each start decrypts through the agent; a few overlap well. */
const CONCURRENCY = 4;

/** Whether this process has a login session of its own: a runtime directory it owns (pam_systemd's /run/user/<uid>). */
export function hasUserSession(env: NodeJS.ProcessEnv = process.env): boolean {
  const dir = env.XDG_RUNTIME_DIR;
  if (!dir || !dir.startsWith('/')) return false;
  try {
    const st = statSync(dir);
    return st.isDirectory() && st.uid === process.geteuid?.();
  } catch {
    return false;
  }
}

// Why so few variables: rbw finds its configuration, database and agent socket through these;
// nothing else of the caller's environment (tokens, pinentry's display) is its business.
/** The environment rbw needs to find the person's agent: home, XDG directories, profile. */
function rbwEnv(settings: RbwSettings): Record<string, string | undefined> {
  const env = process.env;
  const names = ['HOME', 'XDG_CONFIG_HOME', 'XDG_CACHE_HOME', 'XDG_DATA_HOME', 'XDG_RUNTIME_DIR', 'TMPDIR', 'RBW_PROFILE'];
  const out: Record<string, string | undefined> = Object.fromEntries(names.map((n) => [n, env[n] || undefined]));
  if (settings.profile) out.RBW_PROFILE = settings.profile;
  return out;
}

/** What rbw's stderr says, as one short line, for messages (rbw prints names, never values, there). */
function reason(result: ChildResult): string {
  return firstLine(result.stderr) || childFailure(result);
}

/** A failure of the rbw program itself (not installed, timed out, killed), or undefined when it ran. */
function programFailure(result: ChildResult, command: string): ProviderError | undefined {
  if (result.spawnError === 'ENOENT') return new ProviderError(NAME, 'config', `${command} is not installed (not found on PATH); install rbw, or set providers.rbw.command`);
  if (result.spawnError) return new ProviderError(NAME, 'config', `${command} could not be started (${result.spawnError})`);
  if (result.timedOut || result.aborted) return new ProviderError(NAME, 'unavailable', `${command} ${result.timedOut ? 'did not answer in time' : 'was interrupted (the run\'s deadline passed)'}`);
  if (result.overflow) return new ProviderError(NAME, 'corrupt', `${command} printed more than an entry can hold`);
  return undefined;
}

/** `rbw unlocked`: undefined when the agent is unlocked, else why not (never a prompt). */
async function checkUnlocked(command: string, settings: RbwSettings, context: ProviderContext): Promise<ProviderError | undefined> {
  context.countCall('rbw unlocked');
  const result = await runChild(command, ['unlocked'], { env: rbwEnv(settings), timeoutMs: settings.timeout ? settings.timeout * 1000 : DEFAULT_TIMEOUT_MS, signal: context.signal });
  const failed = programFailure(result, command);
  if (failed) return failed;
  if (result.code === 0) return undefined;
  const why = reason(result);
  if (/agent is locked/.test(why)) return new ProviderError(NAME, 'unauthorized', 'the rbw agent is locked; unlock it first (`rbw unlock`): materialize never prompts for the master password');
  if (/agent not running/.test(why)) return new ProviderError(NAME, 'unauthorized', 'the rbw agent is not running; start and unlock it first (`rbw unlock`)');
  return new ProviderError(NAME, 'unavailable', `\`rbw unlocked\` failed: ${why}`);
}

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const URI_SCHEMES = new Set(['http:', 'https:', 'ws:', 'wss:', 'ftp:', 'file:']);

/** How rbw reads the name: an id, a URI (matched by rbw's URI rules), or a name. */
function needleKind(name: string): 'id' | 'uri' | 'name' {
  if (UUID.test(name)) return 'id';
  try {
    if (URI_SCHEMES.has(new URL(name).protocol)) return 'uri';
  } catch {
    // not a URL
  }
  return 'name';
}

function describe(source: RbwSource): string {
  const who = source.user ? `${source.user}@` : '';
  const where = source.folder ? ` in folder ${JSON.stringify(source.folder)}` : '';
  return `${who}${source.name}${where}${source.field ? ` field ${JSON.stringify(source.field)}` : ''}`;
}

interface RawEntry {
  id?: unknown;
  folder?: unknown;
  name?: unknown;
  data?: unknown;
  fields?: unknown;
  notes?: unknown;
}

type Answer = { ok: Buffer } | { error: ProviderError };
const fail = (kind: ProviderErrorKind, message: string): Answer => ({ error: new ProviderError(NAME, kind, message) });
const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

// Why check what rbw matched: when no entry has exactly the name (or user, folder), rbw falls back
// to one that contains it; a secret must never silently come from a look-alike entry.
/** Undefined when the entry rbw returned is exactly the one asked for, else why not. */
function mismatch(entry: RawEntry, source: RbwSource): string | undefined {
  const kind = needleKind(source.name);
  const name = text(entry.name);
  if (kind === 'name' && name !== source.name) return `rbw matched the entry ${JSON.stringify(name)}, whose name only contains ${JSON.stringify(source.name)}; materialize takes an entry named exactly so`;
  if (kind === 'id' && text(entry.id)?.toLowerCase().replace(/-/g, '') !== source.name.toLowerCase().replace(/-/g, '') && name !== source.name) return `rbw matched the entry ${JSON.stringify(name)}, not the one with id ${source.name}`;
  const data = entry.data && typeof entry.data === 'object' ? (entry.data as Record<string, unknown>) : {};
  if (source.user !== undefined && text(data.username) !== source.user) return `rbw matched an entry whose user is not exactly ${JSON.stringify(source.user)}`;
  if (source.folder !== undefined && text(entry.folder) !== source.folder) return `rbw matched an entry whose folder is not exactly ${JSON.stringify(source.folder)}`;
  return undefined;
}

/** The item's type, from the shape of `data` (rbw's JSON has no type tag). */
function itemType(data: unknown): 'login' | 'card' | 'identity' | 'note' | 'ssh-key' | 'unknown' {
  if (data === null) return 'note';
  if (!data || typeof data !== 'object') return 'unknown';
  if ('password' in data && 'uris' in data) return 'login';
  if ('number' in data && 'cardholder_name' in data) return 'card';
  if ('private_key' in data && 'public_key' in data) return 'ssh-key';
  if ('first_name' in data || 'ssn' in data) return 'identity';
  return 'unknown';
}

/** rbw's own names for an entry's parts (`--field password`…), by item type. */
const BUILT_IN: Record<string, Record<string, (e: RawEntry, d: Record<string, unknown>) => unknown>> = {
  login: { password: (_, d) => d.password, username: (_, d) => d.username, notes: (e) => e.notes },
  note: { notes: (e) => e.notes },
  card: { number: (_, d) => d.number, cvv: (_, d) => d.code, notes: (e) => e.notes },
  'ssh-key': { private_key: (_, d) => d.private_key, public_key: (_, d) => d.public_key, notes: (e) => e.notes },
  identity: { notes: (e) => e.notes },
};
/** rbw's other spellings of those names; "code" is rbw's name for the TOTP code. */
const ALIASES: Record<string, string> = { note: 'notes', user: 'username', card: 'number', code: 'totp' };
/** What `rbw get NAME` prints for each type: the part that is the secret. */
const DEFAULT_PART: Record<string, string> = { login: 'password', note: 'notes', card: 'number', 'ssh-key': 'private_key' };

/** The value asked for: a built-in part, or the one custom field named exactly `field`. */
function pick(entry: RawEntry, source: RbwSource): Answer {
  const what = describe(source);
  const type = itemType(entry.data);
  const data = entry.data && typeof entry.data === 'object' ? (entry.data as Record<string, unknown>) : {};
  const present = (value: unknown, part: string): Answer => {
    // rbw prints nothing (and exits 0) for an empty part: that is "not found", never an empty secret.
    if (typeof value !== 'string' || value === '') return fail('not-found', `${what}: the entry has no ${part}`);
    return { ok: Buffer.from(value, 'utf8') };
  };
  if (source.field === undefined) {
    const part = DEFAULT_PART[type];
    if (!part) return fail('config', `${what}: a ${type} entry has no single secret part; name one with "field"`);
    return present(BUILT_IN[type]![part]!(entry, data), part);
  }
  const lower = ALIASES[source.field.toLowerCase()] ?? source.field.toLowerCase();
  if (lower === 'totp') return fail('config', `${what}: TOTP codes are computed at each use, not stored; they cannot be a secret file`);
  const builtIn = BUILT_IN[type]?.[lower];
  if (builtIn) return present(builtIn(entry, data), lower);
  const fields = Array.isArray(entry.fields) ? (entry.fields as { name?: unknown; value?: unknown }[]) : [];
  const exact = fields.filter((f) => f && f.name === source.field);
  if (exact.length > 1) return fail('config', `${what}: ${exact.length} fields of the entry are named exactly ${JSON.stringify(source.field)}; rename one`);
  if (exact.length === 1) return present(exact[0]!.value, `value in field ${JSON.stringify(source.field)}`);
  const names = fields.map((f) => text(f?.name)).filter((n): n is string => n !== undefined);
  const near = names.filter((n) => n.toLowerCase().includes(source.field!.toLowerCase()));
  const hint = near.length ? ` (rbw's own --field would have taken ${JSON.stringify(near[0])}, by substring)` : '';
  return fail('not-found', `${what}: no field named exactly ${JSON.stringify(source.field)}${hint}; the entry's fields: ${names.map((n) => JSON.stringify(n)).join(', ') || 'none'}`);
}

/** One `rbw get --raw`, its answer matched and picked. */
async function getOne(command: string, source: RbwSource, settings: RbwSettings, context: ProviderContext): Promise<Answer> {
  const args = ['get', '--raw', ...(source.folder !== undefined ? ['--folder', source.folder] : []), '--', source.name, ...(source.user !== undefined ? [source.user] : [])];
  context.countCall('rbw get');
  const result = await runChild(command, args, { env: rbwEnv(settings), timeoutMs: settings.timeout ? settings.timeout * 1000 : DEFAULT_TIMEOUT_MS, signal: context.signal, maxOutputBytes: 16 * 1024 * 1024 });
  const what = describe(source);
  const failed = programFailure(result, command);
  if (failed) return { error: new ProviderError(NAME, failed.kind, `${what}: ${failed.message}`) };
  if (result.code !== 0) {
    const why = reason(result);
    if (/no entry found/.test(why)) return fail('not-found', `${what}: no such entry (${why})`);
    if (/multiple entries found/.test(why)) return fail('config', `${what}: several entries match; set "user" or "folder" (${why})`);
    if (/locked|pinentry/.test(why)) return fail('unauthorized', `${what}: ${why}`);
    if (/decrypt/.test(why)) return fail('corrupt', `${what}: ${why}`);
    return fail('unavailable', `${what}: ${why}`);
  }
  if (result.stdout.length === 0) return fail('not-found', `${what}: rbw printed nothing (its answer for a missing entry part)`);
  let entry: RawEntry;
  try {
    entry = JSON.parse(result.stdout.toString('utf8')) as RawEntry;
    if (!entry || typeof entry !== 'object' || Array.isArray(entry)) throw new Error('not an object');
  } catch {
    return fail('corrupt', `${what}: rbw's answer is not the JSON entry \`rbw get --raw\` prints`);
  }
  const wrong = mismatch(entry, source);
  if (wrong) return fail('not-found', `${what}: ${wrong}`);
  return pick(entry, source);
}

// Why refuse root without a session: at boot no person has unlocked anything for root, and rbw
// would start an agent and a pinentry on a console nobody watches; where root has really unlocked
// its own agent (a root login), the session shows, or the configuration says so.
/** Fetches each request with one `rbw get --raw`, after one `rbw unlocked`. */
class RbwProvider implements Provider<RbwSource> {
  async fetch(requests: readonly SecretRequest<RbwSource>[], context: ProviderContext): Promise<Map<string, FetchOutcome>> {
    const settings = (context.settings ?? {}) as RbwSettings;
    const command = settings.command ?? 'rbw';
    const out = new Map<string, FetchOutcome>();
    const all = (error: ProviderError) => {
      for (const r of requests) out.set(r.id, { error: new ProviderError(NAME, error.kind, `${describe(r.source)}: ${error.message}`) });
      return out;
    };
    if (process.geteuid?.() === 0 && !hasUserSession() && !settings.allowRoot) {
      return all(new ProviderError(NAME, 'config', "refused as root without a session of root's own (a boot or service run): rbw reads a person's unlocked agent; fetch it as that person (`materialize get`, `materialize run`), or set providers.rbw.allowRoot = true"));
    }
    const locked = await checkUnlocked(command, settings, context);
    if (locked) return all(locked);
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const request = requests[next++]!;
        out.set(request.id, await getOne(command, request.source, settings, context));
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, requests.length) }, worker));
    return out;
  }
}

const nonEmpty = () => z.string().check(z.minLength(1));
const source = lazySchema(() => z.strictObject({ name: nonEmpty(), user: z.optional(nonEmpty()), folder: z.optional(nonEmpty()), field: z.optional(nonEmpty()) }));
const settings = lazySchema(() =>
  z.strictObject({
    allowRoot: z.optional(z.boolean()),
    command: z.optional(nonEmpty()),
    profile: z.optional(nonEmpty()),
    timeout: z.optional(z.number().check(z.positive(), z.maximum(3600))),
  }),
);

export const rbwProvider: ProviderDefinition<RbwSource> = {
  name: NAME,
  get source() {
    return source();
  },
  get settings() {
    return settings();
  },
  describe: (source) => `rbw ${describe(source)}`,
  load: async () => new RbwProvider(),
};
