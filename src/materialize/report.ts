// The report of a run (`apply --json` prints it as is): names, sizes, owners, modes, sources,
// reasons and the units touched, never a value. Also the comparison step that fills it: what the
// new generation adds, changes and removes against the live one, and which units that concerns.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ExitCodeValue } from '../errors.js';
import { compare, unitActions, type Aspect } from './changes.js';
import type { Built } from './collect.js';
import type { Attempt } from './fetch.js';
import type { Displaced } from './displace.js';
import type { LiveGeneration } from './generation.js';
import type { PathResult } from './paths.js';
import { UNITS_DONE_NAME } from './manifest.js';
import type { UnitActions } from './units.js';
import type { Accounts } from './users.js';
import type { ScopeStatus } from './budget.js';

/** `cached`: the value came from the sealed store of network values (its age in `fetchedAt`). */
export type EntryStatus = 'added' | 'changed' | 'unchanged' | 'stale' | 'cached' | 'failed' | 'absent' | 'removed';

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
  /** For a cached value: when the network last gave it (ISO time). */
  fetchedAt?: string;
  /** A removed file the live generation's manifest did not name (another tool's, or hand-made). */
  stray?: boolean;
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
  /** Custom paths: symlinks made or checked, copies written or checked, removed, left (no longer ours), refused. */
  paths: Omit<PathResult, 'displaced'>;
  /** What stood in the way of a custom path or of secretsDir, and where it was moved (never deleted). */
  displaced: Displaced[];
  pruned: number[];
  cleaned: string[];
  /** Calls made to each network provider's service, by kind: what the run cost. */
  calls: Record<string, Record<string, number>>;
  /** The call budget left per provider and credential (when network sources are used). */
  budget?: ScopeStatus[];
  warnings: string[];
}

/** A report before anything happened: nothing published, nothing touched. */
export function emptyReport(config: { file: string; secretsDir: string }, dryRun: boolean, warnings: string[]): ApplyReport {
  return {
    dryRun,
    exitCode: 0,
    config: config.file,
    secretsDir: config.secretsDir,
    generation: null,
    previousGeneration: null,
    switched: false,
    entries: [],
    units: { restart: [], reload: [] },
    paths: { linked: [], copied: [], removed: [], left: [], errors: [] },
    displaced: [],
    pruned: [],
    cleaned: [],
    calls: {},
    warnings,
  };
}

// Why: a run killed between its switch and systemctl left its units undone, and the next run sees
// nothing changed; the live generation's manifest says what it still owes.
function owedUnits(live: LiveGeneration | undefined): UnitActions {
  const units = live?.manifest?.units;
  if (!live || !units || existsSync(join(live.dir, UNITS_DONE_NAME))) return { restart: [], reload: [] };
  return units;
}

/** Both sets of units, once each; a unit restarted is not also reloaded. */
export function mergeUnits(a: UnitActions, b: UnitActions): UnitActions {
  const restart = [...new Set([...a.restart, ...b.restart])].sort();
  return { restart, reload: [...new Set([...a.reload, ...b.reload])].filter((u) => !restart.includes(u)).sort() };
}

/**
 * Compares the new generation with the live one and records it in the report: one entry per output
 * (after the failed and absent ones), the removed ones, and the units to restart or reload.
 */
export function reportChanges(report: ApplyReport, built: readonly Built[], missing: readonly ReportEntry[], live: LiveGeneration | undefined, options: { root: boolean; accounts: Accounts }): void {
  const { changes, removed } = compare(built, live, { compareOwners: options.root });
  const byName = new Map(changes.map((c) => [c.name, c]));
  report.entries.push(...missing);
  for (const b of built) {
    const change = byName.get(b.name)!;
    report.entries.push({
      name: b.name,
      kind: b.entry.kind,
      status: b.stale ? 'stale' : b.entry.cached ? 'cached' : change.status,
      ...(change.aspects.length ? { aspects: change.aspects } : {}),
      source: b.entry.source,
      size: b.data.length,
      uid: b.uid,
      gid: b.gid,
      owner: options.accounts.userName(b.uid) ?? String(b.uid),
      group: options.accounts.groupName(b.gid) ?? String(b.gid),
      mode: b.entry.mode,
      ...(b.entry.path ? { path: b.entry.path } : {}),
      ...(b.stale ? { reason: b.entry.stale!.reason } : {}),
      ...(b.entry.cached ? { fetchedAt: b.entry.fetchedAt, ...(b.entry.cached.reason ? { reason: b.entry.cached.reason } : {}) } : {}),
    });
  }
  // A configured entry missing from the new generation was reported failed or absent above, not
  // removed. Its file goes away all the same: an absent one restarts its units like a removal; a
  // failed one does not (its new value is unknown and the run fails).
  const configured = new Map(report.entries.map((e) => [e.name, e.status]));
  for (const r of removed) {
    if (configured.has(r.name)) continue;
    const reason = r.stray ? `not in the manifest of generation ${live!.number} (left by another tool or by hand); not carried into the new one` : undefined;
    report.entries.push({ name: r.name, kind: live?.manifest?.entries[r.name]?.kind ?? 'secret', status: 'removed', ...(reason ? { stray: true, reason } : {}) });
  }
  report.units = mergeUnits(unitActions(built, changes, removed.filter((r) => configured.get(r.name) !== 'failed'), live !== undefined), owedUnits(live));
}
