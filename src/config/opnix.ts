// OpNix's JSON configuration → a secrets.json v1 (`materialize import opnix FILE`). Both formats:
// the current one, `{"secrets": [{"path", "reference", "kind", "owner", "group", "mode",
// "symlinks", "variables", "services"}], "pathTemplate", "defaults", "systemdIntegration"}`, and the
// older one still found in users' repositories, `{"secrets": [{"name", "opItem": "Vault/Item",
// "opField", "target", "owner": "user:group", "mode"}]}`. What OpNix did is kept where materialize
// can do it (paths, owners, modes, restarts); where it behaves differently, a warning says so.
import { basename, isAbsolute, join, normalize, relative } from 'node:path';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { checkSecretName, isWithin, normalizeUnitName, parseMode } from './names.js';
import { jsonPath } from './validate.js';

export interface OpnixImportOptions {
  /** OpNix's outputDir: where relative paths were written (default /var/lib/opnix/secrets). */
  outputDir: string;
  /** The token file OpNix read (default /etc/opnix-token). */
  tokenFile: string;
  /** Link each secret where OpNix wrote it (relative paths: outputDir/path); absolute paths are always linked. */
  links: boolean;
  /** materialize's secretsDir (paths inside it need no link). */
  secretsDir: string;
}

export const OPNIX_DEFAULTS: OpnixImportOptions = { outputDir: '/var/lib/opnix/secrets', tokenFile: '/etc/opnix-token', links: true, secretsDir: '/run/secrets' };

export interface OpnixImport {
  /** The secrets.json, as a value (JSON.stringify it). */
  config: Record<string, unknown>;
  warnings: string[];
}

/** One OpNix secret, whichever format it came in, with its location resolved. */
interface Entry {
  /** Index in the input's `secrets` list, for messages. */
  index: number;
  /** The old format's `name`, when given. */
  name?: string;
  /** Where OpNix wrote the file (absolute). */
  file: string;
  reference: string;
  kind: 'field' | 'file';
  owner?: string;
  group?: string;
  mode: string;
  symlinks: string[];
  restartUnits: string[];
  reloadUnits: string[];
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const optionalString = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

class Issues {
  readonly list: ConfigIssue[] = [];
  add(path: (string | number)[], message: string): void {
    this.list.push({ path: jsonPath(path), message });
  }
}

/** `{name}` placeholders of a path template, from the secret's variables over the file's defaults (as OpNix). */
function expandTemplate(template: string, variables: Json, defaults: Json, at: (string | number)[], issues: Issues, what: string): string | undefined {
  let missing: string | undefined;
  const out = template.replace(/\{([^{}]*)\}/g, (_, name: string) => {
    const value = variables[name] ?? defaults[name];
    if (typeof value !== 'string') {
      missing ??= name;
      return '';
    }
    return value;
  });
  if (missing !== undefined) {
    issues.add(at, `${what} uses {${missing}}, which neither the secret's variables nor the file's defaults define`);
    return undefined;
  }
  return out;
}

/** A systemd unit from an OpNix service name ("caddy" → "caddy.service"). */
function unitOf(service: string): string {
  const unit = normalizeUnitName(service);
  return 'unit' in unit ? unit.unit : `${service}.service`;
}

/** OpNix `services`: a list of names (restarted), or `{name: {restart, signal, after}}`. */
function readServices(value: unknown, at: (string | number)[], issues: Issues, warnings: string[]): { restart: string[]; reload: string[] } {
  const restart: string[] = [];
  const reload: string[] = [];
  if (value === undefined || value === null) return { restart, reload };
  if (Array.isArray(value)) {
    value.forEach((s, i) => (typeof s === 'string' && s ? restart.push(unitOf(s)) : issues.add([...at, i], 'expected a service name')));
    return { restart, reload };
  }
  if (!isObject(value)) {
    issues.add(at, 'expected a list of service names or an object {name: {restart, signal, after}}');
    return { restart, reload };
  }
  for (const [name, options] of Object.entries(value)) {
    const o = isObject(options) ? options : {};
    if (typeof o.signal === 'string' && o.signal) {
      reload.push(unitOf(name));
      warnings.push(`${jsonPath([...at, name])}: OpNix sent ${o.signal}; materialize reloads the unit (systemctl try-reload-or-restart, its ExecReload=)`);
    } else if (o.restart !== false) restart.push(unitOf(name));
  }
  return { restart, reload };
}

/** The old format's owner, "user:group" or "user". */
function splitOwner(owner: unknown): { owner?: string; group?: string } {
  if (typeof owner !== 'string' || owner === '') return {};
  const i = owner.indexOf(':');
  return i < 0 ? { owner } : { owner: owner.slice(0, i) || undefined, group: owner.slice(i + 1) || undefined };
}

/** One entry of `secrets`, in either format, or undefined (with issues) when it cannot be used. */
function readEntry(raw: unknown, index: number, top: Json, options: OpnixImportOptions, issues: Issues, warnings: string[]): Entry | undefined {
  const at: (string | number)[] = ['secrets', index];
  if (!isObject(raw)) {
    issues.add(at, 'expected an object');
    return undefined;
  }
  const old = raw.reference === undefined && (raw.opItem !== undefined || raw.opField !== undefined);
  let reference: string | undefined;
  let path: string | undefined;
  let owner: { owner?: string; group?: string };
  if (old) {
    const item = optionalString(raw.opItem);
    const field = optionalString(raw.opField);
    if (!item || !item.includes('/')) issues.add([...at, 'opItem'], 'expected "Vault/Item"');
    if (!field) issues.add([...at, 'opField'], 'expected the field\'s name');
    if (item && item.includes('/') && field) reference = `op://${item}/${field}`;
    path = optionalString(raw.target) ?? optionalString(raw.name);
    if (!path) issues.add(at, 'has neither "target" nor "name"');
    owner = splitOwner(raw.owner);
    if (raw.group !== undefined) owner.group = optionalString(raw.group);
  } else {
    reference = optionalString(raw.reference);
    if (!reference) issues.add([...at, 'reference'], 'is required (expected "op://Vault/Item/field")');
    const variables = isObject(raw.variables) ? raw.variables : {};
    const defaults = isObject(top.defaults) ? top.defaults : {};
    path = optionalString(raw.path);
    if (path !== undefined) path = expandTemplate(path, variables, defaults, [...at, 'path'], issues, 'the path');
    else if (optionalString(top.pathTemplate)) path = expandTemplate(top.pathTemplate as string, variables, defaults, at, issues, 'its path from pathTemplate');
    else issues.add(at, 'has no "path" and the file has no "pathTemplate" (OpNix refuses it too)');
    owner = { owner: optionalString(raw.owner), group: optionalString(raw.group) };
  }
  const kind = raw.kind === undefined || raw.kind === 'field' ? 'field' : raw.kind === 'file' ? 'file' : undefined;
  if (!kind) issues.add([...at, 'kind'], 'expected "field" or "file"');
  const mode = raw.mode === undefined ? '0600' : String(raw.mode);
  if (parseMode(mode) === undefined) issues.add([...at, 'mode'], `expected an octal mode such as "0600", got ${JSON.stringify(raw.mode)}`);
  const symlinks = Array.isArray(raw.symlinks) ? raw.symlinks.filter((s): s is string => typeof s === 'string' && s !== '') : [];
  symlinks.forEach((s, i) => isAbsolute(s) || issues.add([...at, 'symlinks', i], 'expected an absolute path'));
  const integration = isObject(top.systemdIntegration) ? top.systemdIntegration : {};
  const services = readServices(raw.services, [...at, 'services'], issues, warnings);
  const restarts = integration.enable !== false && integration.restartOnChange !== false;
  if (!reference || path === undefined || !kind) return undefined;
  return {
    index,
    ...(old && optionalString(raw.name) ? { name: raw.name as string } : {}),
    file: isAbsolute(path) ? normalize(path) : join(options.outputDir, path),
    reference,
    kind,
    ...(owner.owner ? { owner: owner.owner } : {}),
    ...(owner.group ? { group: owner.group } : {}),
    mode,
    symlinks,
    restartUnits: restarts ? services.restart : [],
    reloadUnits: restarts ? services.reload : [],
  };
}

/** The secret's name: a path inside secretsDir or outputDir keeps its relative name; else the old format's name or the file's base name. */
function baseName(entry: Entry, options: OpnixImportOptions): string {
  if (isWithin(entry.file, options.secretsDir)) return relative(options.secretsDir, entry.file);
  if (isWithin(entry.file, options.outputDir)) return relative(options.outputDir, entry.file);
  return entry.name ?? basename(entry.file);
}

/** Where the secret is linked, if anywhere: where OpNix wrote it (inside secretsDir it is the file itself). */
function linkOf(entry: Entry, options: OpnixImportOptions): string | undefined {
  if (isWithin(entry.file, options.secretsDir)) return undefined;
  if (!options.links && isWithin(entry.file, options.outputDir)) return undefined;
  return entry.file;
}

/** Names for every entry: base names, or the whole path (without its leading "/") for those that collide. */
function assignNames(entries: readonly Entry[], options: OpnixImportOptions): string[] {
  const base = entries.map((e) => baseName(e, options));
  const count = new Map<string, number>();
  for (const b of base) count.set(b, (count.get(b) ?? 0) + 1);
  return entries.map((e, i) => (count.get(base[i]!)! > 1 ? e.file.replace(/^\/+/, '') : base[i]!));
}

/** The secrets of one entry: the file itself, plus one per extra symlink (same source, fetched once). */
function secretsOf(entry: Entry, name: string, options: OpnixImportOptions): [string, Json][] {
  const source = entry.kind === 'file' ? { onepassword: { reference: entry.reference, kind: 'file' } } : { onepassword: entry.reference };
  const owner = entry.owner ?? (entry.group ? 'root' : undefined);
  // OpNix left the group alone when it was not given: the file stayed in root's group.
  const group = entry.group ?? (entry.owner ? 'root' : undefined);
  const base = {
    sources: [source],
    ...(owner ? { owner } : {}),
    ...(group ? { group } : {}),
    mode: entry.mode,
    ...(entry.restartUnits.length ? { restartUnits: entry.restartUnits } : {}),
    ...(entry.reloadUnits.length ? { reloadUnits: entry.reloadUnits } : {}),
  };
  const link = linkOf(entry, options);
  const out: [string, Json][] = [[name, { ...base, ...(link ? { path: link } : {}) }]];
  entry.symlinks.forEach((path, i) => out.push([`${name}.link${i + 1}`, { ...base, path }]));
  return out;
}

/** Converts a parsed OpNix JSON file; throws ConfigError listing every problem, located in the input. */
export function importOpnix(json: unknown, options: OpnixImportOptions = OPNIX_DEFAULTS): OpnixImport {
  const issues = new Issues();
  const warnings: string[] = [];
  if (!isObject(json) || !Array.isArray(json.secrets)) throw new ConfigError([{ path: 'secrets', message: 'expected OpNix\'s {"secrets": [...]}' }]);
  const entries = json.secrets.map((raw, i) => readEntry(raw, i, json, options, issues, warnings)).filter((e): e is Entry => e !== undefined);
  const names = assignNames(entries, options);
  const secrets: Record<string, Json> = {};
  entries.forEach((entry, i) => {
    const problem = checkSecretName(names[i]!);
    if (problem) issues.add(['secrets', entry.index, 'path'], `gives the secret name ${JSON.stringify(names[i])}, which ${problem}`);
    for (const [name, secret] of secretsOf(entry, names[i]!, options)) secrets[name] = secret;
  });
  if (issues.list.length > 0) throw new ConfigError(issues.list);

  const integration = isObject(json.systemdIntegration) ? json.systemdIntegration : {};
  const errorHandling = isObject(integration.errorHandling) ? integration.errorHandling : {};
  if (Array.isArray(integration.services) && integration.services.length) {
    warnings.push(`systemdIntegration.services: order ${integration.services.join(', ')} after materialize-secrets.target yourself (After= and Wants=), or list them in a secret's restartUnits`);
  }
  if (entries.some((e) => e.symlinks.length)) warnings.push('symlinks: materialize links one path per secret; each extra link is a secret of its own (NAME.linkN), from the same source, fetched once');
  const attempts = typeof errorHandling.maxRetries === 'number' ? Math.min(5, Math.max(1, Math.trunc(errorHandling.maxRetries))) : undefined;
  return {
    config: {
      version: 1,
      ...(options.secretsDir !== OPNIX_DEFAULTS.secretsDir ? { secretsDir: options.secretsDir } : {}),
      ...(errorHandling.continueOnError === false ? { failurePolicy: 'abort' } : {}),
      providers: { onepassword: { tokenFile: options.tokenFile, ...(attempts !== undefined ? { attempts } : {}) } },
      secrets,
    },
    warnings,
  };
}
