// The runtime mode (`materialize get`, `materialize run`): the same secrets.json that boot applies
// serves a person at the prompt. Each secret comes from the live file in secretsDir when this user
// can read it, else from its sources in order, fetched with this user's own keys and credentials
// (their age key, their rbw agent, their OP_SERVICE_ACCOUNT_TOKEN). Nothing is written; values stay
// Buffers; errors name every place tried and why, and say what would make one work.
import { accessSync, closeSync, constants, existsSync, fstatSync, openSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { DEFAULT_MOUNT_POINT, DEFAULT_SECRETS_DIR } from '../config/defaults.js';
import type { Config, SecretSpec, TemplateSpec } from '../config/load.js';
import { formatMode } from '../config/names.js';
import { ExitCode, MaterializeError, UsageError, exitCodeForKinds, type ExitCodeValue, type ProviderErrorKind } from '../errors.js';
import type { Logger } from '../log.js';
import type { KeySettings } from '../providers/provider.js';
import type { Attempt } from './fetch.js';
import { renderTemplate } from './templates.js';

export interface ResolveOptions {
  /** The configuration to use; without one, `defaultConfigs()` are searched for each name. */
  configFile?: string;
  log: Logger;
  /** Deadline of the fetch from sources, in milliseconds. */
  timeoutMs: number;
  /** Injected provider libraries (tests). */
  libs?: Record<string, unknown>;
}

/** One place a value was looked for, and why it did not deliver. */
export interface Tried {
  where: string;
  why: string;
  provider?: string;
  kind?: ProviderErrorKind;
}

/** Secrets that could not be had, each with every place tried; the exit code follows the sources' failures as for apply. */
export class GetError extends MaterializeError {
  override name = 'GetError';
  constructor(
    message: string,
    exitCode: ExitCodeValue,
    readonly failed: { name: string; tried: Tried[] }[],
  ) {
    super(message, exitCode);
  }
}

// Why these two: the home-manager unit copies its manifest to $XDG_RUNTIME_DIR/materialize/, the
// NixOS module links /etc/materialize/secrets.json; a person's own mapping comes first.
/** Where `get` and `run` look when no configuration is given, in order. */
export function defaultConfigs(env: NodeJS.ProcessEnv = process.env): string[] {
  return [...(env.XDG_RUNTIME_DIR?.startsWith('/') ? [join(env.XDG_RUNTIME_DIR, 'materialize', 'secrets.json')] : []), '/etc/materialize/secrets.json'];
}

const euid = () => process.geteuid?.() ?? 0;

// Why the checks: the value may go into a privileged program's environment; a file is taken only
// from a generation that root or this user made, never from wherever a symlink planted by someone
// else points.
/** Where a configuration publishes: all the live path needs. */
type LiveLayout = Pick<Config, 'secretsDir' | 'mountPoint'>;

/** The live file's path. */
export const livePath = (config: LiveLayout, name: string) => join(config.secretsDir, name);

/** The live file's bytes, or why it cannot be used. */
export function readLiveFile(config: LiveLayout, name: string): Buffer | string {
  const path = livePath(config, name);
  let real: string;
  let mount: string;
  try {
    real = realpathSync(path);
    mount = realpathSync(config.mountPoint);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'does not exist (not published here: no live generation, or it failed or is optional)';
    return `cannot be reached by uid ${euid()} (${code ?? 'error'})`;
  }
  if (!real.startsWith(mount + sep)) return `leads to ${real}, outside the generations in ${config.mountPoint}; not used`;
  const generation = join(mount, real.slice(mount.length + 1).split(sep)[0]!);
  for (const dir of [mount, generation]) {
    const st = statSync(dir);
    if ((st.uid !== 0 && st.uid !== euid()) || (st.mode & 0o022) !== 0) return `${dir} is owned by uid ${st.uid} or writable by others; not used`;
  }
  let fd: number;
  try {
    fd = openSync(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      const st = statSync(real);
      return `not readable by uid ${euid()} (owner uid ${st.uid}, group ${st.gid}, mode ${formatMode(st.mode)})`;
    }
    return `cannot be opened (${code ?? 'error'})`;
  }
  try {
    if (!fstatSync(fd).isFile()) return 'not a regular file';
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The configuration files to search, in order. */
function candidates(configFile: string | undefined): string[] {
  const found = configFile ? [configFile] : defaultConfigs().filter((f) => existsSync(f));
  if (found.length === 0) throw new UsageError(`no configuration given, and none found at ${defaultConfigs().join(' or ')}: pass --config FILE (or set MATERIALIZE_CONFIG)`);
  return found;
}

// Why a second reading: validating a configuration loads the schema library and every provider's
// definition, a good part of a cold start, and a value read from its live file needs none of it
// (the apply that published it validated the configuration). Anything unusual goes the full way.
/** Layout and names of a configuration read as plain JSON, or undefined when it is not plainly usable. */
function quickRead(file: string): (LiveLayout & { names: Set<string> }) | undefined {
  try {
    const absolute = resolve(file);
    const raw = JSON.parse(readFileSync(absolute, 'utf8')) as Record<string, unknown>;
    const path = (value: unknown, fallback: string) => (value === undefined ? fallback : typeof value === 'string' && value !== '' ? value : undefined);
    const secretsDir = path(raw.secretsDir, DEFAULT_SECRETS_DIR);
    const mountPoint = path(raw.mountPoint, DEFAULT_MOUNT_POINT);
    const table = (value: unknown) => (value === undefined ? {} : value && typeof value === 'object' && !Array.isArray(value) ? value : undefined);
    const secrets = table(raw.secrets);
    const templates = table(raw.templates);
    if (raw.version !== 1 || !secretsDir || !mountPoint || !secrets || !templates) return undefined;
    const at = (p: string) => (isAbsolute(p) ? resolve(p) : resolve(dirname(absolute), p));
    return { secretsDir: at(secretsDir), mountPoint: at(mountPoint), names: new Set([...Object.keys(secrets), ...Object.keys(templates)]) };
  } catch {
    return undefined;
  }
}

/** Every value from its live file, without loading the schema; undefined as soon as one is not there. */
function liveOnly(names: readonly string[], configFile: string | undefined): Map<string, Buffer> | undefined {
  const layouts = candidates(configFile).map(quickRead);
  const values = new Map<string, Buffer>();
  for (const name of names) {
    const layout = layouts.find((l) => l?.names.has(name));
    const value = layout && layouts.slice(0, layouts.indexOf(layout)).every((l) => l) ? readLiveFile(layout, name) : undefined;
    if (!Buffer.isBuffer(value)) {
      for (const v of values.values()) v.fill(0);
      return undefined;
    }
    values.set(name, value);
  }
  return values;
}

/** The configurations to use and, for each name, the one that defines it. */
async function locate(names: readonly string[], configFile: string | undefined): Promise<Map<string, Config>> {
  const { loadConfig } = await import('../engine.js');
  const candidates_ = candidates(configFile);
  const configs: Config[] = [];
  const load = (i: number) => (configs[i] ??= loadConfig(candidates_[i]!));
  const found = new Map<string, Config>();
  for (const name of names) {
    let config: Config | undefined;
    for (let i = 0; i < candidates_.length && !config; i++) if (defines(load(i), name)) config = load(i);
    if (!config) {
      const known = configs.flatMap((c) => [...c.secrets, ...c.templates].map((s) => s.name));
      const near = known.filter((k) => distance(k.toLowerCase(), name.toLowerCase()) <= Math.max(1, Math.floor(name.length / 4))).slice(0, 3);
      throw new UsageError(`no secret or template named ${JSON.stringify(name)} in ${candidates_.join(' or ')}${near.length ? ` (did you mean ${near.map((n) => JSON.stringify(n)).join(', ')}?)` : ''}`);
    }
    found.set(name, config);
  }
  return found;
}

/** Levenshtein distance: how many edits turn one name into the other (for "did you mean"). */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

const defines = (config: Config, name: string) => config.secrets.some((s) => s.name === name) || config.templates.some((t) => t.name === name);

/** The caller's own keys, where sops looks for them, plus those of the configuration this user can read. */
export async function callerKeys(config: Config, log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<{ keys: KeySettings; looked: string[] }> {
  const { loadSshKeyFile } = await import('../engine.js');
  const home = env.HOME || homedir();
  const looked: string[] = [];
  const readable = (file: string) => {
    try {
      accessSync(file, constants.R_OK);
      looked.push(file);
      return true;
    } catch (error) {
      looked.push(`${file} (${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'not readable by you'})`);
      return false;
    }
  };
  // A default SSH key protected by a passphrase (the usual case) is skipped quietly: nobody asked for it.
  const usableSsh = (file: string) => {
    if (!readable(file)) return false;
    const problems: string[] = [];
    try {
      if (loadSshKeyFile(file, problems).length > 0 && problems.length === 0) return true;
    } catch {
      // unreadable after all
    }
    log.debug(`${file} skipped: ${problems.join('; ') || 'not usable'}`);
    looked[looked.length - 1] = `${file} (not usable: passphrase-protected or not a key)`;
    return false;
  };
  const configHome = env.XDG_CONFIG_HOME || join(home, '.config');
  const unique = (list: string[]) => [...new Set(list)];
  const ageKeyFiles = unique([
    ...config.keys.ageKeyFiles.filter(readable),
    ...(env.SOPS_AGE_KEY_FILE ? [env.SOPS_AGE_KEY_FILE].filter(readable) : []),
    ...[join(configHome, 'sops/age/keys.txt')].filter(readable),
  ]);
  const sshKeyPaths = unique([
    ...config.keys.sshKeyPaths.filter(readable),
    ...(env.SOPS_AGE_SSH_PRIVATE_KEY_FILE ? [env.SOPS_AGE_SSH_PRIVATE_KEY_FILE].filter(readable) : []),
    ...[join(home, '.ssh/id_ed25519'), join(home, '.ssh/id_rsa')].filter((f) => existsSync(f) && usableSsh(f)),
  ]);
  const accessible = (dir: string | null | undefined) => {
    if (!dir) return false;
    try {
      accessSync(dir, constants.R_OK | constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  const gnupgHome = [config.keys.gnupgHome, env.GNUPGHOME, join(home, '.gnupg')].find(accessible) ?? null;
  if (env.SOPS_AGE_KEY) looked.push('SOPS_AGE_KEY');
  return { keys: { ageKeyFiles, sshKeyPaths, gnupgHome, ...(env.SOPS_AGE_KEY ? { ageKeyTexts: [{ name: 'SOPS_AGE_KEY', text: env.SOPS_AGE_KEY }] } : {}) }, looked };
}

/** What would make one of the tried places work, for the person reading the error. */
function hints(tried: readonly Tried[], keysLooked: readonly string[], config: Config, secrets: readonly string[]): string[] {
  const out: string[] = [];
  const has = (provider: string | undefined, kind?: ProviderErrorKind) => tried.some((t) => (provider === undefined || t.provider === provider) && (kind === undefined || t.kind === kind));
  if (has('age', 'unauthorized') || has('sops', 'unauthorized')) {
    out.push(`give your user an age key that opens it: in $SOPS_AGE_KEY_FILE, ~/.config/sops/age/keys.txt or ~/.ssh/id_ed25519, its recipient (\`materialize keys\` prints it) among the file's recipients (looked at: ${keysLooked.join(', ') || 'nothing'})`);
  }
  if (has('rbw', 'unauthorized')) out.push('unlock your rbw agent: `rbw unlock`');
  if (has('onepassword', 'unauthorized') || has('onepassword', 'config')) out.push('set OP_SERVICE_ACCOUNT_TOKEN to a 1Password service account token that can read it');
  if (tried.some((t) => t.kind === undefined && /not readable by uid/.test(t.why))) out.push(`have it published readable by you: its owner, group or mode in ${config.file}, then \`materialize apply\``);
  else if (tried.some((t) => t.kind === undefined && /does not exist/.test(t.why))) out.push(`publish it: \`materialize apply --config ${config.file}\` (the materialize-secrets service does it at boot)`);
  for (const name of secrets) out.push(`add a source your user can use to secrets[${JSON.stringify(name)}].sources, e.g. {"rbw": {"name": ${JSON.stringify(name)}}} for your Bitwarden vault through rbw`);
  return out;
}

/** A source attempt as a line: which source, in order, and the provider's reason. */
const triedSource = (a: Attempt, i: number): Tried => ({ where: `source ${i + 1}, ${a.provider}`, why: a.message, provider: a.provider, kind: a.kind });

/**
 * The value of every name (a secret or a template), from live files or sources. Throws GetError
 * naming each place tried when any is missing; UsageError for a name no configuration defines.
 */
export async function resolveValues(names: readonly string[], options: ResolveOptions): Promise<Map<string, Buffer>> {
  const live = liveOnly(names, options.configFile);
  if (live) return live;
  const byConfig = new Map<Config, string[]>();
  for (const [name, config] of await locate(names, options.configFile)) byConfig.set(config, [...(byConfig.get(config) ?? []), name]);
  const values = new Map<string, Buffer>();
  const failed: { name: string; tried: Tried[]; secrets: string[]; config: Config; keysLooked: string[] }[] = [];
  const kinds: ProviderErrorKind[] = [];
  for (const [config, wanted] of byConfig) {
    const result = await resolveIn(config, wanted, options);
    for (const [name, value] of result.values) values.set(name, value);
    for (const f of result.failed) failed.push({ ...f, config, keysLooked: result.keysLooked });
    kinds.push(...result.kinds);
  }
  if (failed.length === 0) return values;
  for (const value of values.values()) value.fill(0);
  const blocks = failed.map((f) => {
    const lines = [`cannot get ${JSON.stringify(f.name)} (from ${f.config.file}): no place tried could deliver it`, ...f.tried.map((t) => `  ${t.where}: ${t.why}`)];
    const help = hints(f.tried, f.keysLooked, f.config, f.secrets);
    return [...lines, `to get it as uid ${euid()}, one of:`, ...help.map((h) => `  - ${h}`)].join('\n');
  });
  throw new GetError(blocks.join('\n'), kinds.length ? exitCodeForKinds(kinds) : ExitCode.fetch, failed.map((f) => ({ name: f.name, tried: f.tried })));
}

/** Resolves names defined by one configuration: live files first, then one fetch for all the rest. */
async function resolveIn(config: Config, names: readonly string[], options: ResolveOptions) {
  const values = new Map<string, Buffer>();
  const tried = new Map<string, Tried[]>();
  const note = (name: string, t: Tried) => tried.set(name, [...(tried.get(name) ?? []), t]);
  const secrets = new Map(config.secrets.map((s) => [s.name, s]));
  const templates = new Map(config.templates.map((t) => [t.name, t]));
  const toFetch = new Map<string, SecretSpec>();
  const pendingTemplates: TemplateSpec[] = [];
  const live = (name: string) => {
    if (values.has(name)) return true;
    const value = readLiveFile(config, name);
    if (Buffer.isBuffer(value)) {
      values.set(name, value);
      return true;
    }
    note(name, { where: `live file ${livePath(config, name)}`, why: value });
    return false;
  };
  for (const name of names) {
    if (live(name)) continue;
    const template = templates.get(name);
    if (!template) {
      toFetch.set(name, secrets.get(name)!);
      continue;
    }
    pendingTemplates.push(template);
    for (const used of template.uses) if (!live(used)) toFetch.set(used, secrets.get(used)!);
  }
  let keysLooked: string[] = [];
  const kinds: ProviderErrorKind[] = [];
  if (toFetch.size > 0) {
    // Loaded only now: a value read from its live file needs no keys, providers or crypto.
    const { fetchSecrets } = await import('../engine.js');
    const { keys, looked } = await callerKeys(config, options.log);
    keysLooked = looked;
    const fetched = await fetchSecrets([...toFetch.values()], { settings: config.providers, keys, log: options.log, timeoutMs: options.timeoutMs, libs: options.libs, interactive: true });
    for (const [name, value] of fetched.values) values.set(name, value);
    for (const [name, attempts] of fetched.failures) {
      attempts.forEach((a, i) => note(name, triedSource(a, i)));
      kinds.push(...attempts.map((a) => a.kind));
    }
  }
  for (const template of pendingTemplates) {
    const missing = template.uses.filter((u) => !values.has(u));
    if (missing.length === 0) values.set(template.name, renderTemplate(template.parts, values));
    else for (const m of missing) for (const t of tried.get(m) ?? []) note(template.name, { ...t, where: `${m}: ${t.where}` });
  }
  // For a template, the secrets it lacks are where a source is missing.
  const lacking = (name: string) => templates.get(name)?.uses.filter((u) => !values.has(u)) ?? [name];
  const failed = names.filter((n) => !values.has(n)).map((name) => ({ name, tried: tried.get(name) ?? [], secrets: lacking(name) }));
  // Only what was asked for leaves this function (a template's secrets stay inside).
  const asked = new Map(names.filter((n) => values.has(n)).map((n) => [n, values.get(n)!]));
  for (const [name, value] of values) if (!asked.has(name)) value.fill(0);
  return { values: asked, failed, kinds, keysLooked };
}
