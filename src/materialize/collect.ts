// What goes into the new generation, decided from what the fetch brought back: each secret's value,
// or (every source failed) the live value carried forward under keep-previous, or nothing (optional,
// or failed); then each template rendered from those values. Values stay in Buffers.
import { closeSync, constants, fstatSync, openSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { Config, OutputSpec, SecretSpec, TemplateSpec } from '../config/load.js';
import { formatMode } from '../config/names.js';
import type { Logger } from '../log.js';
import type { Comparable } from './changes.js';
import type { DigestKey } from './integrity.js';
import type { Attempt, FetchResult } from './fetch.js';
import type { LiveGeneration } from './generation.js';
import type { ManifestEntry } from './manifest.js';
import type { PlannedOutput } from './plan.js';
import type { ReportEntry } from './report.js';
import { renderTemplate } from './templates.js';

/** One file of the new generation: its bytes, ownership, units, and its manifest entry. */
export interface Built extends Comparable {
  planned: PlannedOutput;
  entry: ManifestEntry;
  stale: boolean;
}

export interface Collected {
  built: Built[];
  /** Report entries of outputs that are not in the new generation (failed, absent). */
  missing: ReportEntry[];
  /** The kinds of every failure that counts against the run (for its exit code). */
  failedKinds: Attempt['kind'][];
  /** Failures a sealed value stood in for: they set the exit code (retry later) but are not failed secrets. */
  degradedKinds: Attempt['kind'][];
}

/** A live value that may be carried forward, and who could have written its file. */
interface LiveValue {
  data: Buffer;
  /** The file's owner, and whether its mode lets its group or others write it. */
  uid: number;
  othersWrite: boolean;
}

// Why no symlinks: a value carried forward must be the file a run wrote, never what a link planted
// in the generation (at the name or at a directory above it) points to.
// Why the digest is checked on the bytes read: what is verified is exactly what is used, whatever
// the owner does to the file meanwhile.
/** The live value to carry forward; a string says why it may not be (not what materialize wrote). */
function readLiveValue(live: LiveGeneration | undefined, name: string, key: DigestKey | undefined): LiveValue | string | undefined {
  if (!live) return undefined;
  const path = join(live.dir, name);
  try {
    if (realpathSync(path) !== join(realpathSync(live.dir), name)) return undefined;
    const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) return undefined;
      const data = readFileSync(fd);
      const recorded = live.manifest?.entries[name]?.digest;
      if (!key) return `no digest key to check the file in generation ${live.number} against`;
      if (recorded === undefined) return `generation ${live.number} recorded no digest for it (made by an older materialize)`;
      if (!key.verify(name, data, recorded)) {
        data.fill(0);
        return `the file in generation ${live.number} is not what materialize wrote there (changed since)`;
      }
      return { data, uid: st.uid, othersWrite: (st.mode & 0o022) !== 0 };
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

// Why not `source: message`: provider messages already name their file or reference.
/** Every source's reason, in order, as one line. */
export function describeAttempts(attempts: readonly Attempt[]): string {
  return attempts.map((a) => `${a.provider}: ${a.message}`).join('; ') || 'no source answered';
}

/** Decides every output of the new generation from the fetch's results and the live generation. */
export function collectOutputs(config: Config, outputs: readonly PlannedOutput[], fetched: FetchResult, live: LiveGeneration | undefined, key: DigestKey | undefined, now: string, log: Logger): Collected {
  const collector = new Collector(outputs, live, key, now, config.failurePolicy === 'keep-previous');
  for (const secret of config.secrets) collector.secret(secret, fetched, log);
  for (const template of config.templates) collector.template(template, config, log);
  return collector.result;
}

/** The state of one collection: the outputs so far, the values templates may use, which are stale. */
class Collector {
  readonly result: Collected = { built: [], missing: [], failedKinds: [], degradedKinds: [] };
  readonly #planned: Map<string, PlannedOutput>;
  readonly #values = new Map<string, Buffer>();
  readonly #staleNames = new Set<string>();
  /** The files stale values were carried from: who could have written them. */
  readonly #carried = new Map<string, Omit<LiveValue, 'data'>>();

  constructor(
    outputs: readonly PlannedOutput[],
    private readonly live: LiveGeneration | undefined,
    private readonly key: DigestKey | undefined,
    private readonly now: string,
    private readonly keepPrevious: boolean,
  ) {
    this.#planned = new Map(outputs.map((o) => [o.spec.name, o]));
  }

  /** A secret: its fetched value; else absent (optional), carried forward (keep-previous) or failed. */
  secret(secret: SecretSpec, fetched: FetchResult, log: Logger): void {
    const value = fetched.values.get(secret.name);
    if (value) {
      this.#values.set(secret.name, value);
      const cached = fetched.cached.get(secret.name);
      if (cached?.because) {
        this.result.degradedKinds.push(cached.because.kind);
        log.warn(`${secret.name}: ${cached.because.message}; using the sealed value from ${cached.fetchedAt}`);
      }
      this.#add(secret, value, fetched.answeredBy.get(secret.name)!, undefined, cached ? { fetchedAt: cached.fetchedAt, ...(cached.because ? { reason: cached.because.message } : {}) } : undefined);
      return;
    }
    const attempts = fetched.failures.get(secret.name) ?? [];
    const reason = describeAttempts(attempts);
    if (secret.optional) {
      log.warn(`${secret.name}: optional secret left out: ${reason}`);
      this.#miss(secret, 'absent', reason, attempts);
      return;
    }
    this.result.failedKinds.push(...attempts.map((a) => a.kind));
    const previous = this.keepPrevious ? readLiveValue(this.live, secret.name, this.key) : undefined;
    if (typeof previous === 'object') {
      log.error(`${secret.name}: every source failed (${reason}); keeping the value from generation ${this.live!.number} (stale)`);
      this.#values.set(secret.name, previous.data);
      this.#carried.set(secret.name, { uid: previous.uid, othersWrite: previous.othersWrite });
      this.#add(secret, previous.data, 'previous generation', { reason });
    } else {
      const why = previous ? `${reason}; not kept: ${previous}` : reason;
      log.error(`${secret.name}: every source failed: ${why}`);
      this.#miss(secret, 'failed', why, attempts);
    }
  }

  /**
   * A template: rendered from the values collected so far; else carried forward or failed. It never
   * uses a stale value read from a file that someone other than root and its own owner could write
   * (that file's owner, above all): then it keeps its own previous rendering instead.
   */
  template(template: TemplateSpec, config: Config, log: Logger): void {
    const missing = template.uses.filter((name) => !this.#values.has(name));
    const uid = this.#planned.get(template.name)!.uid;
    const foreign = template.uses.filter((name) => {
      const from = this.#carried.get(name);
      return from !== undefined && (from.othersWrite || (from.uid !== 0 && from.uid !== uid));
    });
    if (missing.length === 0 && foreign.length === 0) {
      const stale = template.uses.filter((n) => this.#staleNames.has(n));
      this.#add(template, renderTemplate(template.parts, this.#values), 'template', stale.length ? { reason: `uses stale ${stale.join(', ')}` } : undefined);
      return;
    }
    const reason =
      missing.length > 0
        ? `uses ${missing.join(', ')}, which could not be fetched`
        : `${foreign.join(', ')} ${foreign.length === 1 ? 'is' : 'are'} stale and ${foreign.length === 1 ? 'its file belongs' : 'their files belong'} to another user, whose bytes a template is never rendered from`;
    const previous = this.keepPrevious ? readLiveValue(this.live, template.name, this.key) : undefined;
    if (typeof previous === 'object') {
      log.error(`${template.name}: ${reason}; keeping the rendering from generation ${this.live!.number} (stale)`);
      this.#add(template, previous.data, 'template', { reason });
    } else {
      const why = previous ? `${reason}; not kept: ${previous}` : reason;
      log.error(`${template.name}: ${why}`);
      this.#miss(template, 'failed', why);
      // Secrets that failed are counted already; a template missing only optional ones (or refused
      // a foreign stale value) is a failure of its own.
      if (missing.every((m) => config.secrets.find((s) => s.name === m)?.optional)) this.result.failedKinds.push('not-found');
    }
  }

  #add(spec: OutputSpec, data: Buffer, source: string, stale?: { reason: string }, cached?: { fetchedAt: string; reason?: string }): void {
    const p = this.#planned.get(spec.name)!;
    const previous = this.live?.manifest?.entries[spec.name];
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
      fetchedAt: stale ? (previous?.fetchedAt ?? 'unknown') : (cached?.fetchedAt ?? this.now),
      ...(stale ? { stale: { reason: stale.reason, since: previous?.stale?.since ?? this.now } } : {}),
      ...(cached ? { cached: cached.reason ? { reason: cached.reason } : {} } : {}),
      ...(this.key ? { digest: this.key.digest(spec.name, data) } : {}),
    };
    this.result.built.push({ name: spec.name, data, uid: p.uid, gid: p.gid, mode: p.mode, restartUnits: spec.restartUnits, reloadUnits: spec.reloadUnits, planned: p, entry, stale: !!stale });
    if (stale) this.#staleNames.add(spec.name);
  }

  #miss(spec: OutputSpec, status: 'failed' | 'absent', reason: string, attempts?: Attempt[]): void {
    this.result.missing.push({ name: spec.name, kind: spec.kind, status, reason, ...(attempts ? { attempts } : {}) });
  }
}
