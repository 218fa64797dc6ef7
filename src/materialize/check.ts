// `materialize check`: everything that can be known without decrypting or contacting anything —
// schema, names, paths, owners (unless skipped at build time), referenced files and keys in them,
// usable identities (unless skipped). The NixOS module runs it at build time, like sops-nix's
// validateSopsFiles, so a typo fails `nixos-rebuild build`, not the boot.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { SshKeyError, parseSshPrivateKey } from '../age/ssh-key.js';
import { loadConfig } from '../config/load.js';
import { jsonPath } from '../config/validate.js';
import { ConfigError, ProviderError, type ConfigIssue } from '../errors.js';
import type { Logger } from '../log.js';
import { openKeyFileWarning } from '../keys/files.js';
import { loadKeyRing } from '../keys/index.js';
import type { SecretRequest } from '../providers/provider.js';
import { providerDefinitions } from '../providers/registry.js';
import { currentUser, planOutputs } from './plan.js';
import { Accounts } from './users.js';

export interface CheckOptions {
  configFile: string;
  /** Skip owner/group existence (build time: the users do not exist in the build sandbox). */
  skipOwners?: boolean;
  /** Skip loading identities (build time: the host's keys are not in the sandbox). */
  skipKeys?: boolean;
  log: Logger;
  accounts?: Accounts;
}

export interface CheckReport {
  config: string;
  secrets: number;
  templates: number;
  providers: string[];
  keys: { file: string; kind: string; recipients: string[] }[] | null;
  warnings: string[];
}

/** Why an entry of keys.gnupgSshKeyPaths cannot be a PGP key (missing, unreadable, not RSA), or undefined; `warn` hears that every user can read it. */
function sshPgpProblem(path: string, warn: (message: string) => void): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
    const mode = statSync(path).mode;
    if (mode & 0o004) warn(openKeyFileWarning(path, 'keys.gnupgSshKeyPaths:', mode & 0o777));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return `${path} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code === 'EACCES' ? 'permission denied' : code})`}`;
  }
  try {
    const key = parseSshPrivateKey(text);
    return key.type === 'ssh-rsa' ? undefined : `${path} is an ${key.type} key; only RSA keys can be PGP keys (an ed25519 key belongs in keys.sshKeyPaths)`;
  } catch (error) {
    return `${path}: ${error instanceof SshKeyError ? error.message : 'not an SSH private key'}`;
  }
}

/** Throws ConfigError listing every problem; returns a summary when there is none. */
export async function check(options: CheckOptions): Promise<CheckReport> {
  const config = loadConfig(options.configFile);
  const issues: ConfigIssue[] = [];
  if (!options.skipOwners) {
    const { issues: ownerIssues } = await planOutputs(config, options.accounts ?? new Accounts(), currentUser());
    issues.push(...ownerIssues);
  }

  const definitions = providerDefinitions();
  const used = new Map<string, { request: SecretRequest; at: string[] }[]>();
  config.secrets.forEach((secret) =>
    secret.sources.forEach((source, i) => {
      const key = JSON.stringify(source.options);
      const list = used.get(source.provider) ?? [];
      const existing = list.find((r) => r.request.id === key);
      const at = `${jsonPath(['secrets', secret.name])}.sources[${i}].${source.provider}`;
      if (existing) {
        (existing.request.secrets as string[]).push(secret.name);
        existing.at.push(at);
      } else list.push({ request: { id: key, secrets: [secret.name], source: source.options }, at: [at] });
      used.set(source.provider, list);
    }),
  );
  const signal = new AbortController().signal;
  for (const [name, requests] of used) {
    const provider = await definitions.get(name)!.load();
    if (!provider.check) continue;
    let problems: Awaited<ReturnType<typeof provider.check>>;
    try {
      problems = await provider.check(
        requests.map((r) => r.request),
        { settings: config.providers[name], keys: config.keys, log: options.log, signal },
      );
    } catch (error) {
      // The provider cannot check at all (its package is missing): said once, where it is first used.
      if (!(error instanceof ProviderError)) throw error;
      issues.push({ path: requests[0]!.at[0]!, message: error.message });
      continue;
    }
    // Each problem names its request; it is reported at the JSON path of every source that made it.
    const byId = new Map(requests.map((r) => [r.request.id, r]));
    for (const problem of problems) {
      const entry = byId.get(problem.requestId);
      for (const at of entry ? entry.at : ['secrets']) issues.push({ path: problem.field ? `${at}.${problem.field}` : at, message: problem.message });
    }
  }

  let keys: CheckReport['keys'] = null;
  const needsKeys = [...used.keys()].some((name) => definitions.get(name)!.usesKeys);
  if (!options.skipKeys && needsKeys) {
    const ring = await loadKeyRing(config.keys, options.log);
    keys = ring.entries;
    // A GnuPG home is a key source too (PGP-encrypted sops files); its keys are gpg's to check.
    const gnupgHome = config.keys.gnupgHome;
    if (gnupgHome !== null && !existsSync(gnupgHome)) issues.push({ path: 'keys.gnupgHome', message: `${gnupgHome} does not exist` });
    const sshPgp = (config.keys.gnupgSshKeyPaths ?? []).map((path, i) => ({ path, problem: sshPgpProblem(path, (m) => options.log.warn(m)), at: `keys.gnupgSshKeyPaths[${i}]` }));
    for (const k of sshPgp) if (k.problem) issues.push({ path: k.at, message: k.problem });
    if (ring.identities.length === 0 && gnupgHome === null && !sshPgp.some((k) => !k.problem)) {
      issues.push({ path: 'keys', message: `no usable key: ${ring.problems.length ? ring.problems.join('; ') : 'set keys.ageKeyFiles, keys.sshKeyPaths, keys.gnupgHome or keys.gnupgSshKeyPaths'}` });
    }
  }
  if (issues.length > 0) throw new ConfigError(issues, config.file);
  return {
    config: config.file,
    secrets: config.secrets.length,
    templates: config.templates.length,
    providers: [...used.keys()],
    keys,
    warnings: options.log.warnings,
  };
}
