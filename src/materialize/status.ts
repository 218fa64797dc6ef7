// `materialize status`: the live generation and, per secret, its path, owner, mode, size and
// freshness — read from the files themselves and the generation's manifest. Never a value.
import { lstatSync, readlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { formatMode } from '../config/names.js';
import { listGenerations, readLive } from './generation.js';
import type { ManifestEntry } from './manifest.js';
import { currentRollback } from './rollback-record.js';
import { Accounts } from './users.js';

export interface StatusEntry {
  name: string;
  kind: 'secret' | 'template';
  file: string;
  present: boolean;
  owner: string;
  group: string;
  mode: string | null;
  size: number | null;
  source: string;
  fetchedAt: string;
  stale: ManifestEntry['stale'] | null;
  /** Set when the value came from the sealed store of network values (when the network gave it: fetchedAt). */
  cached: ManifestEntry['cached'] | null;
  path: string | null;
  /** Whether the custom-path symlink exists and points at the file. */
  linked: boolean | null;
}

export interface StatusReport {
  secretsDir: string;
  live: { generation: number; dir: string; createdAt: string | null; config: string | null } | null;
  /** Set when secretsDir points somewhere materialize does not manage. */
  foreignTarget: string | null;
  /** Generations kept on disk (the live one among them). */
  generations: number[];
  /** Set when `materialize rollback` made the live generation live: from which, when. */
  rollback: { from: number; to: number; at: string } | null;
  entries: StatusEntry[];
}

export function status(secretsDir: string, accounts = new Accounts({ useGetent: false })): StatusReport {
  let target: string | null = null;
  try {
    target = resolve(dirname(secretsDir), readlinkSync(secretsDir));
  } catch {
    target = null;
  }
  const mountPoint = target ? dirname(target) : `${secretsDir}.d`;
  const live = target ? readLive({ secretsDir, mountPoint }) : undefined;
  const report: StatusReport = {
    secretsDir,
    live: live ? { generation: live.number, dir: live.dir, createdAt: live.manifest?.createdAt ?? null, config: live.manifest?.config ?? null } : null,
    foreignTarget: target && !live ? target : null,
    generations: live ? listGenerations(mountPoint) : [],
    rollback: null,
    entries: [],
  };
  const rolledBack = live ? currentRollback(mountPoint, live.number) : undefined;
  if (rolledBack) report.rollback = { from: rolledBack.from, to: rolledBack.to, at: rolledBack.at };
  const name = (id: number, lookup: (id: number) => string | undefined) => lookup(id) ?? String(id);
  for (const [entryName, entry] of Object.entries(live?.manifest?.entries ?? {})) {
    const file = join(secretsDir, entryName);
    let st: ReturnType<typeof lstatSync> | undefined;
    try {
      st = lstatSync(join(live!.dir, entryName));
    } catch {
      st = undefined;
    }
    let linked: boolean | null = null;
    if (entry.path) {
      try {
        linked = readlinkSync(entry.path) === file;
      } catch {
        linked = false;
      }
    }
    report.entries.push({
      name: entryName,
      kind: entry.kind,
      file,
      present: !!st,
      owner: name(st ? st.uid : entry.uid, (id) => accounts.userName(id)),
      group: name(st ? st.gid : entry.gid, (id) => accounts.groupName(id)),
      mode: st ? formatMode(st.mode) : null,
      size: st ? st.size : null,
      source: entry.source,
      fetchedAt: entry.fetchedAt,
      stale: entry.stale ?? null,
      cached: entry.cached ?? null,
      path: entry.path ?? null,
      linked,
    });
  }
  report.entries.sort((a, b) => a.name.localeCompare(b.name));
  return report;
}
