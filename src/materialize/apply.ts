// `materialize apply`: plan → fetch → collect → compare with N → build generation N+1 → atomic switch →
// custom paths → prune → units → report. The report carries names, sizes, owners and reasons; the
// values stay in Buffers from the provider to the file descriptor.
import { rmSync } from 'node:fs';
import { loadConfig, type Config } from '../config/load.js';
import { ConfigError, ExitCode, PermissionError, describeSystemError, exitCodeForKinds } from '../errors.js';
import type { Logger } from '../log.js';
import { buildGeneration } from './build.js';
import { collectOutputs } from './collect.js';
import { fetchSecrets, sourceKey } from './fetch.js';
import { linkPaths, markCopies, pruneAndRestart } from './finish.js';
import { lazyKeyRing, type KeyRing } from '../keys/index.js';
import { providerDefinitions } from '../providers/registry.js';
import { RemoteSources, type NetworkMode } from './remote.js';
import { cleanLeftovers, displaceSecretsDir, nextGeneration, readLive, secretsDirInTheWay, switchLive, type Layout, type LiveGeneration } from './generation.js';
import { openDigestKey, type DigestKey } from './integrity.js';
import { acquireLock, type HeldLock } from './lock.js';
import { assertSafeParent, isMemoryFileSystem, prepareMountPoint } from './mount.js';
import { currentUser, planOutputs, type PlannedOutput } from './plan.js';
import { emptyReport, mergeUnits, reportChanges, type ApplyReport } from './report.js';
import { currentRollback, removeRollbackRecord } from './rollback-record.js';
import type { UnitMode } from './units.js';
import { Accounts } from './users.js';
import type { Ownership } from './write.js';

export type { ApplyReport, EntryStatus, ReportEntry } from './report.js';

export interface ApplyOptions {
  configFile: string;
  dryRun?: boolean;
  units?: UnitMode;
  /** "user": restart through `systemctl --user` (the home-manager service). */
  unitScope?: 'system' | 'user';
  lockTimeoutMs?: number;
  fetchTimeoutMs?: number;
  log: Logger;
  /** Injected provider libraries (tests). */
  libs?: Record<string, unknown>;
  /** Injected account database (tests). */
  accounts?: Accounts;
  /**
   * Network sources: `live` (the network first, the sealed store on a temporary failure), or `boot`:
   * while no generation is live yet (the first run after a reboot), the sealed store first.
   */
  network?: 'live' | 'boot';
  /** The clock of the call budget and the sealed store (tests simulate hours of restarts). */
  now?: () => number;
}

/** What a run knows once its configuration is loaded and its owners resolved, before touching anything. */
interface Run {
  config: Config;
  outputs: PlannedOutput[];
  accounts: Accounts;
  root: boolean;
  layout: Layout;
  /** Owner and mode of the mount point and the generations' directories. */
  dirOwner: Ownership;
  /** fsync only where a power loss could lose data: a plain directory on a disk, not tmpfs or ramfs. */
  durable: boolean;
}

/** Refuses, before fetching anything, a run that could not set the owners it was asked to. */
function checkPrivileges(outputs: readonly PlannedOutput[], root: boolean): void {
  if (root) return;
  const self = currentUser();
  const groups = new Set(process.getgroups?.() ?? []);
  const refused = outputs.filter((o) => o.uid !== self.uid || (o.gid !== self.gid && !groups.has(o.gid)));
  if (refused.length > 0) {
    const names = refused.slice(0, 5).map((o) => o.spec.name);
    throw new PermissionError(`running as uid ${self.uid}, which cannot give ${names.join(', ')}${refused.length > 5 ? ` and ${refused.length - 5} more` : ''} to another owner or group; run as root, or remove owner/group`);
  }
}

/** Step 1, plan: load and validate the configuration, resolve owners; fails (exit 78/77) before anything is touched. */
async function planRun(options: ApplyOptions): Promise<Run> {
  const config = loadConfig(options.configFile);
  const root = currentUser().uid === 0;
  const accounts = options.accounts ?? new Accounts();
  const { outputs, issues } = await planOutputs(config, accounts, currentUser());
  if (issues.length > 0) throw new ConfigError(issues, config.file);
  checkPrivileges(outputs, root);
  const dirOwner: Ownership = root ? { uid: 0, gid: (await accounts.group({ name: 'keys' }, { filesOnly: true })) ?? 0, mode: 0o751 } : { ...currentUser(), mode: 0o751 };
  const durable = config.mount === 'none' && !isMemoryFileSystem(config.mountPoint);
  return { config, outputs, accounts, root, layout: { secretsDir: config.secretsDir, mountPoint: config.mountPoint }, dirOwner, durable };
}

/**
 * Step 2, under the lock: mount the mount point if needed, read the live generation and the digest
 * key that vouches for its files, remove what crashed runs left.
 */
async function openMountPoint(run: Run, report: ApplyReport, dryRun: boolean, log: Logger): Promise<{ live: LiveGeneration | undefined; key: DigestKey | undefined }> {
  if (!dryRun) await prepareMountPoint(run.config.mountPoint, run.config.mount, run.dirOwner, { root: run.root, log });
  const live = readLive(run.layout);
  report.previousGeneration = live?.number ?? null;
  const key = openDigestKey(run.config.mountPoint, { create: !dryRun, durable: run.durable, log });
  if (!dryRun) report.cleaned = cleanLeftovers(run.layout, live);
  for (const path of report.cleaned) log.info(`removed leftover ${path}`);
  return { live, key };
}

/** The budget and sealed store of network sources; undefined when no secret uses one. */
async function openRemote(config: Config, mode: NetworkMode, log: Logger, keyRing: () => Promise<KeyRing>, extra: { now?: () => number; dryRun: boolean }): Promise<RemoteSources | undefined> {
  const definitions = providerDefinitions();
  const configured = new Set<string>();
  for (const secret of config.secrets) for (const source of secret.sources) if (definitions.get(source.provider)?.network) configured.add(sourceKey(source.provider, source.options));
  if (configured.size === 0) return undefined;
  return RemoteSources.open({ settings: config.network, mode, configured, log, readOnly: extra.dryRun, ...(extra.now ? { now: extra.now } : {}) }, keyRing);
}

/**
 * `materialize apply`: plan → fetch → collect → compare → build generation N+1 → switch → link
 * custom paths → prune → units → report. Each step is one function; this one only orders them.
 */
export async function apply(options: ApplyOptions): Promise<ApplyReport> {
  const { log } = options;
  const dryRun = options.dryRun ?? false;
  const run = await planRun(options);
  const { config, layout } = run;
  const report = emptyReport(config, dryRun, log.warnings);

  // A mount point others could swap under us is refused before the lock is made beside it.
  if (!dryRun) assertSafeParent(config.mountPoint);
  let lock: HeldLock | undefined;
  if (!dryRun) lock = await acquireLock(config.mountPoint, { timeoutMs: options.lockTimeoutMs ?? 60_000, log });
  let tmpDir: string | undefined;
  try {
    const { live, key } = await openMountPoint(run, report, dryRun, log);
    // Shared by the providers and the sealed store.
    const keyRing = lazyKeyRing(config.keys, log, { ageLib: options.libs?.ageLib });
    const remote = await openRemote(config, options.network === 'boot' && !live ? 'cached' : 'live', log, keyRing, { now: options.now, dryRun });
    const fetched = await fetchSecrets(config.secrets, { settings: config.providers, keys: config.keys, log, timeoutMs: options.fetchTimeoutMs ?? 120_000, libs: options.libs, remote, keyRing });
    report.calls = fetched.calls;
    if (remote) {
      if (!dryRun) await remote.save(keyRing);
      report.budget = remote.budgetStatus();
    }
    const now = new Date().toISOString();
    const { built, missing, failedKinds, degradedKinds } = collectOutputs(config, run.outputs, fetched, live, key, now, log);
    markCopies(built);
    reportChanges(report, built, missing, live, { root: run.root, accounts: run.accounts });
    report.exitCode = exitCodeForKinds([...failedKinds, ...degradedKinds]);
    // A rollback made the live generation: this run replaces it, and takes over the units the
    // rollback still owes if it was killed before restarting them.
    const rolledBack = currentRollback(config.mountPoint, live?.number);
    if (rolledBack) {
      log.info(`the live generation ${rolledBack.to} was made live by \`materialize rollback\` (from ${rolledBack.from}, ${rolledBack.at}); a new generation replaces it`);
      if (!rolledBack.unitsDone) report.units = mergeUnits(report.units, rolledBack.units);
    }

    if (config.failurePolicy === 'abort' && failedKinds.length > 0) {
      log.error('failurePolicy is "abort": no new generation was made; the live one is untouched');
      report.units = { restart: [], reload: [] };
      return report;
    }
    const inTheWay = secretsDirInTheWay(layout);
    if (dryRun) {
      if (inTheWay) log.warn(`${layout.secretsDir} is a ${inTheWay}, not a symlink: a real run moves it aside (to ${layout.secretsDir}.materialize-displaced-<UTC time>) and puts the symlink there`);
      return report;
    }

    const number = nextGeneration(layout, live);
    const dir = await buildGeneration(built, { layout, number, dirOwner: run.dirOwner, root: run.root, durable: run.durable, createdAt: now, config: config.file, units: report.units }, (d) => (tmpDir = d));
    // Synchronously, right before the switch: a run that lost its lock must not make its generation live.
    lock?.verify();
    const moved = displaceSecretsDir(layout, new Date());
    if (moved) {
      report.displaced.push(moved);
      log.warn(`moved aside ${moved.path} (a ${moved.what} where the symlink to the live generation goes) to ${moved.to}`);
    }
    switchLive(layout, dir, run.durable);
    report.generation = number;
    report.switched = true;
    // The new generation is the highest ever live and carries the owed units: the record is done
    // (one left behind no longer matches the live generation, and is ignored).
    try {
      removeRollbackRecord(config.mountPoint);
    } catch (error) {
      log.warn(`cannot remove the rollback record: ${describeSystemError(error)}`);
    }

    await linkPaths(report, built, { layout, number, live, root: run.root, accounts: run.accounts, log });
    await pruneAndRestart(report, {
      layout,
      keepGenerations: config.keepGenerations,
      number,
      dir,
      units: options.units ?? 'auto',
      unitScope: options.unitScope ?? 'system',
      dirOwner: run.dirOwner,
      write: { chown: run.root, durable: run.durable },
      log,
    });
    if (report.paths.errors.length > 0) report.exitCode = ExitCode.io;
    return report;
  } finally {
    if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
    await lock?.release();
  }
}
