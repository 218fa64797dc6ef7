// Loads secrets.json: JSON syntax → schema → cross-field rules → a normalized Config.
// Every problem is collected (not just the first) and reported with its JSON path.
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parseDuration } from './duration.js';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { providerDefinitions } from '../providers/registry.js';
import { findJsonSyntaxError } from './json-error.js';
import { checkSecretName, isWithin, normalizeUnitName, parseMode, parsePrincipal, type Principal } from './names.js';
import { configSchema, type RawConfig } from './schema.js';
import { parseTemplate, templateSecrets, type TemplatePart } from './template.js';
import { jsonPath, joinPath, validate } from './validate.js';
import type { KeySettings } from '../providers/provider.js';
import { position } from '../position.js';

export interface SourceSpec {
  provider: string;
  /** The provider's own options, validated and normalized by its definition. */
  options: unknown;
}

interface OutputBase {
  name: string;
  owner?: Principal;
  group?: Principal;
  mode: number;
  /** Extra location (absolute), published as a symlink to the file under secretsDir, or as a copy. */
  path?: string;
  /** false: `path` is a real copy with the entry's owner and mode, not a symlink. */
  symlink: boolean;
  restartUnits: string[];
  reloadUnits: string[];
}

export interface SecretSpec extends OutputBase {
  kind: 'secret';
  sources: SourceSpec[];
  optional: boolean;
}

export interface TemplateSpec extends OutputBase {
  kind: 'template';
  parts: TemplatePart[];
  /** Secret names the template uses. */
  uses: string[];
}

export type OutputSpec = SecretSpec | TemplateSpec;

export interface Config {
  /** The file it was loaded from (absolute), and its directory, against which relative paths resolve. */
  file: string;
  dir: string;
  version: 1;
  secretsDir: string;
  mountPoint: string;
  mount: 'ramfs' | 'tmpfs' | 'none';
  keepGenerations: number;
  failurePolicy: 'keep-previous' | 'abort';
  keys: KeySettings;
  providers: Record<string, unknown>;
  network: NetworkSettings;
  secrets: SecretSpec[];
  templates: TemplateSpec[];
}

/** Where network sources keep their state, how old a sealed value may be, how many calls an hour. */
export interface NetworkSettings {
  stateDir: string;
  /** The oldest sealed value used, in milliseconds; null: values are not sealed at all. */
  sealMaxAgeMs: number | null;
  /** Calls per provider and credential per hour; 0: no limit. */
  callsPerHour: number;
}

/** The default state directory: /var/lib/materialize for root, the XDG state directory otherwise. */
function defaultStateDir(): string {
  if ((process.getuid?.() ?? 0) === 0) return '/var/lib/materialize';
  const base = process.env.XDG_STATE_HOME || join(process.env.HOME || homedir(), '.local/state');
  return join(base, 'materialize');
}

export function loadConfig(file: string): Config {
  const absolute = resolve(file);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(code ?? error);
    throw new ConfigError([{ path: '', message: `cannot read the configuration: ${reason}` }], absolute);
  }
  return parseConfig(text, absolute);
}

/** Locates a syntax error as line:column, the way editors show it, without quoting the text. */
function jsonSyntaxIssue(text: string): ConfigIssue {
  const { offset, reason } = findJsonSyntaxError(text);
  return { path: '', message: `not valid JSON at ${position(text, offset)}: ${reason}` };
}

/** A template file larger than this is refused (a template is a configuration file, not data). */
const TEMPLATE_FILE_MAX = 4 * 1024 * 1024;

// Why at load time: `check` (build time) and `apply` then judge the same text, and a template that
// names a missing secret fails before anything is fetched, as with `content`.
/** A template's text: its `content`, or the file named by `file` (UTF-8); undefined after an issue. */
function templateText(entry: RawConfig['templates'][string], at: string, abs: (p: string) => string, issues: ConfigIssue[]): string | undefined {
  if ((entry.content === undefined) === (entry.file === undefined)) {
    issues.push({ path: at, message: entry.content === undefined ? 'needs "content" (the text) or "file" (a file holding it)' : 'has both "content" and "file"; give one' });
    return undefined;
  }
  if (entry.content !== undefined) return entry.content;
  const path = abs(entry.file!);
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const st = fstatSync(fd);
    if (!st.isFile()) throw Object.assign(new Error(), { code: 'not a regular file' });
    if (st.size > TEMPLATE_FILE_MAX) throw Object.assign(new Error(), { code: `larger than ${TEMPLATE_FILE_MAX / 1024 / 1024} MiB` });
    const data = readFileSync(fd);
    const text = data.toString('utf8');
    if (!Buffer.from(text, 'utf8').equals(data)) throw Object.assign(new Error(), { code: 'not UTF-8 text' });
    return text;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(code ?? 'unreadable');
    issues.push({ path: `${at}.file`, message: `cannot read ${path}: ${reason}` });
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function parseConfig(text: string, file: string): Config {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConfigError([jsonSyntaxIssue(text)], file);
  }
  const parsed = validate(configSchema, json);
  if (!parsed.ok) throw new ConfigError(parsed.issues, file);
  return normalizeConfig(parsed.value, file);
}

function normalizeConfig(raw: RawConfig, file: string): Config {
  const issues: ConfigIssue[] = [];
  const dir = dirname(file);
  const abs = (p: string) => (isAbsolute(p) ? resolve(p) : resolve(dir, p));

  const secretsDir = abs(raw.secretsDir);
  const mountPoint = abs(raw.mountPoint);
  if (secretsDir === mountPoint) issues.push({ path: 'mountPoint', message: 'must differ from secretsDir' });
  else if (isWithin(secretsDir, mountPoint)) issues.push({ path: 'secretsDir', message: `must not lie inside mountPoint (${mountPoint})` });
  else if (isWithin(mountPoint, secretsDir)) issues.push({ path: 'mountPoint', message: `must not lie inside secretsDir (${secretsDir})` });
  if (secretsDir === '/' || mountPoint === '/') issues.push({ path: secretsDir === '/' ? 'secretsDir' : 'mountPoint', message: 'must not be /' });

  const definitions = providerDefinitions();
  const providers: Record<string, unknown> = {};
  for (const [name, settings] of Object.entries(raw.providers)) {
    const definition = definitions.get(name);
    const at = jsonPath(['providers', name]);
    if (!definition) {
      issues.push({ path: at, message: `unknown provider (known: ${[...definitions.keys()].join(', ')})` });
      continue;
    }
    if (!definition.settings) {
      issues.push({ path: at, message: 'this provider takes no settings' });
      continue;
    }
    const result = validate(definition.settings, settings, at);
    if (result.ok) providers[name] = result.value;
    else issues.push(...result.issues);
  }

  const names = new Set<string>();
  const common = (kind: 'secrets' | 'templates', name: string, entry: RawConfig['secrets'][string] | RawConfig['templates'][string]) => {
    const at = jsonPath([kind, name]);
    const nameProblem = checkSecretName(name);
    if (nameProblem) issues.push({ path: at, message: `the name ${JSON.stringify(name)} ${nameProblem}` });
    if (names.has(name)) issues.push({ path: at, message: 'a secret and a template cannot have the same name' });
    names.add(name);
    const mode = parseMode(entry.mode);
    if (mode === undefined) issues.push({ path: `${at}.mode`, message: `expected an octal mode such as "0400" or "0640", got ${JSON.stringify(entry.mode)}` });
    const principal = (field: 'owner' | 'group') => {
      const value = entry[field];
      if (value === undefined) return undefined;
      const p = parsePrincipal(value);
      if (!p) issues.push({ path: `${at}.${field}`, message: `expected a ${field === 'owner' ? 'user' : 'group'} name or a numeric id, got ${JSON.stringify(value)}` });
      return p;
    };
    // Unit names as systemctl reads them ("nginx" is "nginx.service"), recorded in that form.
    const units = (field: 'restartUnits' | 'reloadUnits') => {
      const names: string[] = [];
      entry[field].forEach((unit, i) => {
        const result = normalizeUnitName(unit);
        if ('problem' in result) issues.push({ path: `${at}.${field}[${i}]`, message: `${JSON.stringify(unit)} ${result.problem}` });
        else names.push(result.unit);
      });
      return [...new Set(names)];
    };
    return {
      name,
      owner: principal('owner'),
      group: principal('group'),
      mode: mode ?? 0o400,
      path: entry.path === undefined ? undefined : abs(entry.path),
      symlink: entry.symlink,
      restartUnits: units('restartUnits'),
      reloadUnits: units('reloadUnits'),
    };
  };

  const secrets: SecretSpec[] = [];
  const byProvider = new Map<string, { source: unknown; at: string }[]>();
  for (const [name, entry] of Object.entries(raw.secrets)) {
    const base = common('secrets', name, entry);
    const sources: SourceSpec[] = [];
    entry.sources.forEach((source, i) => {
      const at = `${jsonPath(['secrets', name])}.sources[${i}]`;
      const keys = Object.keys(source);
      if (keys.length !== 1) {
        issues.push({ path: at, message: `expected exactly one provider key such as {"age": {...}}, got ${keys.length === 0 ? 'none' : keys.map((k) => JSON.stringify(k)).join(', ')}` });
        return;
      }
      const provider = keys[0]!;
      const definition = definitions.get(provider);
      if (!definition) {
        issues.push({ path: joinPath(at, jsonPath([provider])), message: `unknown provider (known: ${[...definitions.keys()].join(', ')})` });
        return;
      }
      const result = validate(definition.source, source[provider], joinPath(at, jsonPath([provider])));
      if (!result.ok) {
        issues.push(...result.issues);
        return;
      }
      const options = definition.normalize ? definition.normalize(result.value, dir) : result.value;
      sources.push({ provider, options });
      (byProvider.get(provider) ?? byProvider.set(provider, []).get(provider)!).push({ source: options, at: joinPath(at, jsonPath([provider])) });
    });
    secrets.push({ kind: 'secret', ...base, sources, optional: entry.optional });
  }

  for (const [provider, list] of byProvider) {
    for (const problem of definitions.get(provider)!.checkAll?.(list) ?? []) issues.push({ path: problem.at, message: problem.message });
  }

  const secretNames = new Set(secrets.map((s) => s.name));
  const templates: TemplateSpec[] = [];
  for (const [name, entry] of Object.entries(raw.templates)) {
    const base = common('templates', name, entry);
    const at = jsonPath(['templates', name]);
    const text = templateText(entry, at, abs, issues);
    const field = entry.file === undefined ? 'content' : 'file';
    const { parts, problems } = parseTemplate(text ?? '');
    for (const problem of problems) issues.push({ path: `${at}.${field}`, message: problem });
    const uses = templateSecrets(parts);
    for (const used of uses) {
      if (!secretNames.has(used)) issues.push({ path: `${at}.${field}`, message: `uses {{${used}}}, but there is no secret named ${JSON.stringify(used)}` });
    }
    templates.push({ kind: 'template', ...base, parts, uses });
  }

  // A name cannot be both a file and a directory ("a" and "a/b").
  const all = [...names].sort();
  for (let i = 0; i + 1 < all.length; i++) {
    const a = all[i]!;
    for (let j = i + 1; j < all.length && all[j]!.startsWith(a); j++) {
      if (all[j]![a.length] === '/') issues.push({ path: jsonPath([secretNames.has(all[j]!) ? 'secrets' : 'templates', all[j]!]), message: `conflicts with ${JSON.stringify(a)}: a name cannot be both a file and a directory` });
    }
  }

  const paths = new Map<string, string>();
  for (const entry of [...secrets, ...templates]) {
    if (!entry.path) continue;
    const at = `${jsonPath([entry.kind === 'secret' ? 'secrets' : 'templates', entry.name])}.path`;
    if (entry.path === '/') issues.push({ path: at, message: 'must not be /' });
    else if (isWithin(entry.path, secretsDir) || isWithin(secretsDir, entry.path)) issues.push({ path: at, message: `must not lie inside secretsDir (${secretsDir}); the file is there already` });
    else if (isWithin(entry.path, mountPoint) || isWithin(mountPoint, entry.path)) issues.push({ path: at, message: `must not lie inside mountPoint (${mountPoint})` });
    const other = paths.get(entry.path);
    if (other) issues.push({ path: at, message: `${entry.path} is already the path of ${JSON.stringify(other)}` });
    else paths.set(entry.path, entry.name);
  }

  let sealMaxAgeMs: number | null = null;
  if (raw.network.seal !== false) {
    const parsed = parseDuration(raw.network.seal.maxAge);
    if (parsed === undefined) issues.push({ path: 'network.seal.maxAge', message: `expected a duration such as "30d", "12h" or a number of seconds, got ${JSON.stringify(raw.network.seal.maxAge)}` });
    sealMaxAgeMs = parsed ?? null;
  }

  if (issues.length > 0) throw new ConfigError(issues, file);
  return {
    file,
    dir,
    version: 1,
    secretsDir,
    mountPoint,
    mount: raw.mount,
    keepGenerations: raw.keepGenerations,
    failurePolicy: raw.failurePolicy,
    keys: {
      ageKeyFiles: raw.keys.ageKeyFiles.map(abs),
      sshKeyPaths: raw.keys.sshKeyPaths.map(abs),
      gnupgHome: raw.keys.gnupgHome === null ? null : abs(raw.keys.gnupgHome),
      gnupgSshKeyPaths: raw.keys.gnupgSshKeyPaths.map(abs),
    },
    providers,
    network: { stateDir: raw.network.stateDir === undefined ? defaultStateDir() : abs(raw.network.stateDir), sealMaxAgeMs, callsPerHour: raw.network.callsPerHour },
    secrets,
    templates,
  };
}
