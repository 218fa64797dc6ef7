// `materialize apply`: plan → fetch → build generation N+1 → diff against N → atomic switch →
// custom paths → prune → units → report. The report carries names, sizes, owners and reasons; the
// values stay in Buffers from the provider to the file descriptor.
import { closeSync, constants, existsSync, fstatSync, openSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadConfig, type OutputSpec } from '../config/load.js';
import { formatMode } from '../config/names.js';
import { ConfigError, ExitCode, PermissionError, describeSystemError, exitCodeForKinds, type ExitCodeValue } from '../errors.js';
import type { Logger } from '../log.js';
import { compare, unitActions, type Aspect, type Comparable } from './changes.js';
import { checkpoint } from './checkpoint.js';
import { fetchSecrets, type Attempt } from './fetch.js';
import { isMemoryFileSystem, cleanLeftovers, listGenerations, nextGeneration, prepareMountPoint, prune, publishGeneration, readLive, startGeneration, switchLive, type LiveGeneration } from './generation.js';
import { acquireLock, type HeldLock } from './lock.js';
import { MANIFEST_NAME, UNITS_DONE_NAME, readManifest, serializeManifest, type GenerationManifest, type ManifestEntry } from './manifest.js';
import { syncPaths, type PreviousLink } from './paths.js';
import { currentUser, planOutputs, type PlannedOutput } from './plan.js';
import { renderTemplate } from './templates.js';
import { runUnitActions, type UnitActions, type UnitMode } from './units.js';
import { Accounts } from './users.js';
import { makeDirectory, writeSecretFile, type Ownership } from './write.js';
import { YIELD_EVERY, yieldToEventLoop } from '../yield.js';

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
}

export type EntryStatus = 'added' | 'changed' | 'unchanged' | 'stale' | 'failed' | 'absent' | 'removed';

export interface ReportEntry {
  name: string;
  kind: 'secret' | 'template';
  status: EntryStatus;
  aspects?: Aspect[];
  source?: string;
  size?: number;
  uid?: number;
  gid?: number;
  /** Owner and group names for display (the id when the name is unknown). */
  owner?: string;
  group?: string;
  mode?: string;
  path?: string;
  /** Why the value is stale, failed or absent: every source tried, in order. */
  attempts?: Attempt[];
  reason?: string;
}

export interface ApplyReport {
  dryRun: boolean;
  exitCode: ExitCodeValue;
  config: string;
  secretsDir: string;
  generation: number | null;
  previousGeneration: number | null;
  switched: boolean;
  entries: ReportEntry[];
  units: UnitActions;
  paths: { linked: string[]; removed: string[]; errors: { name: string; path: string; message: string }[] };
  pruned: number[];
  cleaned: string[];
  /** Calls made to each network provider's service, by kind: what the run cost. */
  calls: Record<string, Record<string, number>>;
  warnings: string[];
}

interface Built extends Comparable {
  planned: PlannedOutput;
  entry: ManifestEntry;
  stale: boolean;
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

// Why no symlinks: a value carried forward must be the file a run wrote, never what a link planted
// in the generation (at the name or at a directory above it) points to.
/** The live value to carry forward; a string says why it may not be (changed since it was written). */
function readLiveValue(live: LiveGeneration | undefined, name: string): Buffer | string | undefined {
  if (!live) return undefined;
  const path = join(live.dir, name);
  try {
    if (realpathSync(path) !== join(realpathSync(live.dir), name)) return undefined;
    const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const st = fstatSync(fd, { bigint: true });
      if (!st.isFile()) return undefined;
      const recorded = live.manifest?.entries[name]?.ctime;
      if (recorded !== undefined && String(st.ctimeNs) !== recorded) return `the file in generation ${live.number} was changed after materialize wrote it`;
      return readFileSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

// Why: a run killed between its switch and systemctl left its units undone, and the next run sees
// nothing changed; the live generation's manifest says what it still owes.
function owedUnits(live: LiveGeneration | undefined): UnitActions {
  const units = live?.manifest?.units;
  if (!live || !units || existsSync(join(live.dir, UNITS_DONE_NAME))) return { restart: [], reload: [] };
  return units;
}

function mergeUnits(a: UnitActions, b: UnitActions): UnitActions {
  const restart = [...new Set([...a.restart, ...b.restart])].sort();
  return { restart, reload: [...new Set([...a.reload, ...b.reload])].filter((u) => !restart.includes(u)).sort() };
}

// Why not `source: message`: provider messages already name their file or reference.
function describeAttempts(attempts: readonly Attempt[]): string {
  return attempts.map((a) => `${a.provider}: ${a.message}`).join('; ') || 'no source answered';
}

export async function apply(options: ApplyOptions): Promise<ApplyReport> {
  const { log } = options;
  const dryRun = options.dryRun ?? false;
  const config = loadConfig(options.configFile);
  const root = currentUser().uid === 0;
  const accounts = options.accounts ?? new Accounts();
  const { outputs, issues } = await planOutputs(config, accounts, currentUser());
  if (issues.length > 0) throw new ConfigError(issues, config.file);
  checkPrivileges(outputs, root);

  const dirOwner: Ownership = root ? { uid: 0, gid: (await accounts.group({ name: 'keys' }, { filesOnly: true })) ?? 0, mode: 0o751 } : { ...currentUser(), mode: 0o751 };
  const layout = { secretsDir: config.secretsDir, mountPoint: config.mountPoint };
  // fsync only where a power loss could lose data: a plain directory on a disk, not tmpfs or ramfs.
  const durable = config.mount === 'none' && !isMemoryFileSystem(config.mountPoint);
  const write = { chown: root, durable };

  const report: ApplyReport = {
    dryRun,
    exitCode: ExitCode.ok,
    config: config.file,
    secretsDir: config.secretsDir,
    generation: null,
    previousGeneration: null,
    switched: false,
    entries: [],
    units: { restart: [], reload: [] },
    paths: { linked: [], removed: [], errors: [] },
    pruned: [],
    cleaned: [],
    calls: {},
    warnings: log.warnings,
  };

  // A secretsDir that is not a symlink is refused here, before anything is touched (lock, mount).
  readLive(layout);
  let lock: HeldLock | undefined;
  if (!dryRun) lock = await acquireLock(config.mountPoint, { timeoutMs: options.lockTimeoutMs ?? 60_000, log });
  let tmpDir: string | undefined;
  try {
    if (!dryRun) await prepareMountPoint(config.mountPoint, config.mount, dirOwner, { root, log });
    const live = readLive(layout);
    report.previousGeneration = live?.number ?? null;
    if (!dryRun) report.cleaned = cleanLeftovers(layout, live);
    for (const path of report.cleaned) log.info(`removed leftover ${path}`);

    const fetched = await fetchSecrets(config.secrets, {
      settings: config.providers,
      keys: config.keys,
      log,
      timeoutMs: options.fetchTimeoutMs ?? 120_000,
      libs: options.libs,
    });
    report.calls = fetched.calls;

    const now = new Date().toISOString();
    const built: Built[] = [];
    const values = new Map<string, Buffer>();
    const staleNames = new Set<string>();
    const failedKinds: Attempt['kind'][] = [];
    const planned = new Map(outputs.map((o) => [o.spec.name, o]));
    const add = (spec: OutputSpec, data: Buffer, source: string, stale?: { reason: string }) => {
      const p = planned.get(spec.name)!;
      const previous = live?.manifest?.entries[spec.name];
      const entry: ManifestEntry = {
        kind: spec.kind,
        uid: p.uid,
        gid: p.gid,
        mode: formatMode(p.mode),
        size: data.length,
        ...(spec.path ? { path: spec.path } : {}),
        restartUnits: spec.restartUnits,
        reloadUnits: spec.reloadUnits,
        source: stale ? (previous?.source ?? source) : source,
        fetchedAt: stale ? (previous?.fetchedAt ?? 'unknown') : now,
        ...(stale ? { stale: { reason: stale.reason, since: previous?.stale?.since ?? now } } : {}),
      };
      built.push({ name: spec.name, data, uid: p.uid, gid: p.gid, mode: p.mode, restartUnits: spec.restartUnits, reloadUnits: spec.reloadUnits, planned: p, entry, stale: !!stale });
      if (stale) staleNames.add(spec.name);
    };
    const failed = (spec: OutputSpec, status: 'failed' | 'absent', reason: string, attempts?: Attempt[]) => {
      report.entries.push({ name: spec.name, kind: spec.kind, status, reason, ...(attempts ? { attempts } : {}) });
    };

    for (const secret of config.secrets) {
      const value = fetched.values.get(secret.name);
      if (value) {
        values.set(secret.name, value);
        add(secret, value, fetched.answeredBy.get(secret.name)!);
        continue;
      }
      const attempts = fetched.failures.get(secret.name) ?? [];
      const reason = describeAttempts(attempts);
      if (secret.optional) {
        log.warn(`${secret.name}: optional secret left out: ${reason}`);
        failed(secret, 'absent', reason, attempts);
        continue;
      }
      failedKinds.push(...attempts.map((a) => a.kind));
      const previous = config.failurePolicy === 'keep-previous' ? readLiveValue(live, secret.name) : undefined;
      if (Buffer.isBuffer(previous)) {
        log.error(`${secret.name}: every source failed (${reason}); keeping the value from generation ${live!.number} (stale)`);
        values.set(secret.name, previous);
        add(secret, previous, 'previous generation', { reason });
      } else {
        const why = previous ? `${reason}; not kept: ${previous}` : reason;
        log.error(`${secret.name}: every source failed: ${why}`);
        failed(secret, 'failed', why, attempts);
      }
    }
    for (const template of config.templates) {
      const missing = template.uses.filter((name) => !values.has(name));
      if (missing.length === 0) {
        const stale = template.uses.filter((n) => staleNames.has(n));
        add(template, renderTemplate(template.parts, values), 'template', stale.length ? { reason: `uses stale ${stale.join(', ')}` } : undefined);
        continue;
      }
      const reason = `uses ${missing.join(', ')}, which could not be fetched`;
      const previous = config.failurePolicy === 'keep-previous' ? readLiveValue(live, template.name) : undefined;
      if (Buffer.isBuffer(previous)) {
        log.error(`${template.name}: ${reason}; keeping the rendering from generation ${live!.number} (stale)`);
        add(template, previous, 'template', { reason });
      } else {
        const why = previous ? `${reason}; not kept: ${previous}` : reason;
        log.error(`${template.name}: ${why}`);
        failed(template, 'failed', why);
        // Secrets that failed are counted already; a template missing only optional ones is a failure of its own.
        if (missing.every((m) => config.secrets.find((s) => s.name === m)?.optional)) failedKinds.push('not-found');
      }
    }

    const { changes, removed } = compare(built, live, { compareOwners: root });
    const byName = new Map(changes.map((c) => [c.name, c]));
    for (const b of built) {
      const change = byName.get(b.name)!;
      report.entries.push({
        name: b.name,
        kind: b.entry.kind,
        status: b.stale ? 'stale' : change.status,
        ...(change.aspects.length ? { aspects: change.aspects } : {}),
        source: b.entry.source,
        size: b.data.length,
        uid: b.uid,
        gid: b.gid,
        owner: accounts.userName(b.uid) ?? String(b.uid),
        group: accounts.groupName(b.gid) ?? String(b.gid),
        mode: b.entry.mode,
        ...(b.entry.path ? { path: b.entry.path } : {}),
        ...(b.stale ? { reason: b.entry.stale!.reason } : {}),
      });
    }
    // A configured entry missing from the new generation was reported failed or absent above, not
    // removed. Its file goes away all the same: an absent one restarts its units like a removal; a
    // failed one does not (its new value is unknown and the run fails).
    const configured = new Map(report.entries.map((e) => [e.name, e.status]));
    for (const r of removed) if (!configured.has(r.name)) report.entries.push({ name: r.name, kind: live?.manifest?.entries[r.name]?.kind ?? 'secret', status: 'removed' });
    report.units = mergeUnits(unitActions(built, changes, removed.filter((r) => configured.get(r.name) !== 'failed'), live !== undefined), owedUnits(live));
    const fetchCode = exitCodeForKinds(failedKinds);
    report.exitCode = fetchCode;

    if (config.failurePolicy === 'abort' && failedKinds.length > 0) {
      log.error('failurePolicy is "abort": no new generation was made; the live one is untouched');
      report.units = { restart: [], reload: [] };
      return report;
    }
    if (dryRun) return report;

    // Build generation N+1 out of sight.
    const number = nextGeneration(layout, live);
    tmpDir = startGeneration(layout, number, dirOwner, root);
    checkpoint();
    const dirs = new Set<string>();
    for (const [i, b] of built.entries()) {
      if (i % YIELD_EVERY === YIELD_EVERY - 1) await yieldToEventLoop();
      const parent = dirname(b.name);
      if (parent !== '.') {
        const segments = parent.split('/');
        for (let i = 1; i <= segments.length; i++) {
          const dir = segments.slice(0, i).join('/');
          if (!dirs.has(dir)) {
            makeDirectory(join(tmpDir, dir), dirOwner, { chown: root });
            dirs.add(dir);
          }
        }
      }
      b.entry.ctime = writeSecretFile(join(tmpDir, b.name), b.data, { uid: b.uid, gid: b.gid, mode: b.mode }, write);
      checkpoint();
    }
    const manifest: GenerationManifest = {
      version: 1,
      generation: number,
      createdAt: now,
      config: config.file,
      secretsDir: config.secretsDir,
      entries: Object.fromEntries(built.map((b) => [b.name, b.entry])),
      ...(report.units.restart.length + report.units.reload.length > 0 ? { units: report.units } : {}),
    };
    writeSecretFile(join(tmpDir, MANIFEST_NAME), serializeManifest(manifest), { uid: 0, gid: dirOwner.gid, mode: 0o640 }, write);
    checkpoint();
    const dir = publishGeneration(layout, tmpDir, number, durable);
    tmpDir = undefined;
    // Synchronously, right before the switch: a run that lost its lock must not make its generation live.
    lock?.verify();
    switchLive(layout, dir, durable);
    report.generation = number;
    report.switched = true;

    // Every kept generation's paths, not only the live one's: a run killed between its switch and
    // this step left symlinks that only the generation before it names.
    const previousPaths = new Map<string, PreviousLink>();
    for (const n of listGenerations(config.mountPoint).filter((g) => g < number)) {
      const kept = n === live?.number ? live.manifest : readManifest(join(config.mountPoint, String(n)));
      for (const [name, entry] of Object.entries(kept?.entries ?? {})) if (entry.path) previousPaths.set(entry.path, { name, uid: entry.uid, gid: entry.gid });
    }
    const links = syncPaths(
      built.filter((b) => b.entry.path).map((b) => ({ name: b.name, path: b.entry.path!, uid: b.uid, gid: b.gid })),
      previousPaths,
      config.secretsDir,
      root,
    );
    report.paths = links;
    for (const e of links.errors) log.error(`${e.name}: ${e.message}`);
    for (const p of links.removed) log.info(`removed stale symlink ${p}`);

    // The new generation is live; a generation that cannot be removed must not stop the restarts.
    try {
      report.pruned = prune(layout, config.keepGenerations, number);
    } catch (error) {
      log.warn(`could not prune old generations: ${describeSystemError(error)}; the next run tries again`);
    }
    for (const problem of await runUnitActions(report.units, { mode: options.units ?? 'auto', scope: options.unitScope ?? 'system', log })) log.warn(problem);
    if (manifest.units) {
      try {
        writeSecretFile(join(dir, UNITS_DONE_NAME), Buffer.alloc(0), { uid: 0, gid: dirOwner.gid, mode: 0o640 }, write);
      } catch (error) {
        log.warn(`cannot record that the units were handled (the next run will do them again): ${(error as Error).message}`);
      }
    }
    if (links.errors.length > 0) report.exitCode = ExitCode.io;
    return report;
  } finally {
    if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
    await lock?.release();
  }
}
