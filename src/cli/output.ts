// Human-readable and JSON rendering of reports. Reports hold names, sizes, owners, modes and
// reasons only, so printing them whole is safe by construction.
import type { ApplyReport, ReportEntry } from '../materialize/apply.js';
import type { CheckReport } from '../materialize/check.js';
import type { StatusReport } from '../materialize/status.js';
import type { ScopeStatus } from '../materialize/budget.js';
import type { NetworkStatus } from '../materialize/remote-status.js';
import { UsageError } from '../errors.js';
import { stdout } from '../stdio.js';
import { formatDuration } from '../config/duration.js';

export interface OutputFlags {
  json?: boolean;
  verbose?: boolean;
  quiet?: boolean;
}

/** The --config value, or a usage error (kept here, not in a command, so commands import no other command). */
export function requireConfig(flags: { config?: string }): string {
  if (!flags.config) throw new UsageError('no configuration given: pass --config FILE (or set MATERIALIZE_CONFIG)');
  return flags.config;
}

export function printJson(value: unknown): void {
  stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * A command's report as JSON, the same way for every command: `ok` and `exitCode` first, then the
 * report's own fields. (A command that fails before it has a report answers with errors.ts's
 * failure JSON instead.)
 */
export function printReport(exitCode: number, report: object): void {
  printJson({ ok: exitCode === 0, exitCode, ...report });
}

const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));

function size(n: number | undefined | null): string {
  if (n === undefined || n === null) return '-';
  return n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** How old a sealed value is, roughly (" (3h 12min old)"), or nothing when its time is unknown. */
function age(iso: string | undefined): string {
  const at = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(at) ? '' : ` (${formatDuration(Math.max(0, Date.now() - at), 2)} old)`;
}

function entryLine(e: ReportEntry, width: number): string {
  const detail =
    e.status === 'failed' || e.status === 'absent' || e.status === 'stale'
      ? `  ${e.reason ?? ''}`
      : e.status === 'removed'
        ? e.stray
          ? `  ${e.reason}`
          : ''
        : e.status === 'cached'
          ? `  ${e.mode} ${e.owner}:${e.group} ${size(e.size)}  sealed value from ${e.fetchedAt}${age(e.fetchedAt)}${e.reason ? `: ${e.reason}` : ''}`
          : `  ${e.mode} ${e.owner}:${e.group} ${size(e.size)}${e.aspects ? ` (${e.aspects.join(', ')})` : ''}  ${e.source ?? ''}`;
  return `  ${pad(e.status, 9)} ${pad(e.name, width)}${detail}`;
}

export function formatApply(report: ApplyReport, verbose: boolean): string {
  const lines: string[] = [];
  const total = report.entries.filter((e) => e.status !== 'removed').length;
  if (report.dryRun) lines.push(`dry run: nothing was written. Live generation: ${report.previousGeneration ?? 'none'}.`);
  else if (report.switched) lines.push(`generation ${report.generation} is live at ${report.secretsDir} (${total} file${total === 1 ? '' : 's'}; previous: ${report.previousGeneration ?? 'none'})`);
  else lines.push(`no new generation; ${report.secretsDir} still shows generation ${report.previousGeneration ?? 'none'}`);
  // Problems are always listed one by one; routine changes up to ROUTINE_LINES per status (a first
  // generation of 1,000 secrets should not print 1,000 lines), everything with -v.
  const ROUTINE_LINES = 20;
  const routine = new Set(['added', 'changed', 'removed', 'unchanged']);
  const perStatus = new Map<string, number>();
  const shown = report.entries.filter((e) => {
    if (verbose || !routine.has(e.status)) return true;
    if (e.status === 'unchanged') return false;
    const n = (perStatus.get(e.status) ?? 0) + 1;
    perStatus.set(e.status, n);
    return n <= ROUTINE_LINES;
  });
  const width = Math.min(40, Math.max(0, ...shown.map((e) => e.name.length)));
  for (const e of shown) lines.push(entryLine(e, width));
  if (!verbose) {
    for (const [status, n] of perStatus) if (n > ROUTINE_LINES) lines.push(`  … and ${n - ROUTINE_LINES} more ${status} (-v lists them all)`);
    const unchanged = report.entries.filter((e) => e.status === 'unchanged').length;
    if (unchanged > 0) lines.push(`  ${unchanged} unchanged`);
  }
  const verb = report.dryRun ? 'would ' : '';
  if (report.units.restart.length) lines.push(`${verb}restart: ${report.units.restart.join(' ')}`);
  if (report.units.reload.length) lines.push(`${verb}reload: ${report.units.reload.join(' ')}`);
  if (report.pruned.length) lines.push(`pruned generations: ${report.pruned.join(', ')}`);
  // Only a budget that holds calls back is news after a run; `status --config` shows them all.
  for (const b of report.budget ?? []) if (b.nextCallAt) lines.push(budgetLine(b));
  const bad = report.entries.filter((e) => e.status === 'failed' || e.status === 'stale');
  if (bad.length) {
    const templates = bad.filter((e) => e.kind === 'template').length;
    const what = templates === 0 ? ['secret', 'secrets'] : templates === bad.length ? ['template', 'templates'] : ['', 'secrets and templates'];
    lines.push(`${bad.length} ${what[bad.length === 1 ? 0 : 1]} not up to date (failed or stale): ${bad.map((e) => e.name).join(', ')} (exit ${report.exitCode})`);
  }
  return `${lines.join('\n')}\n`;
}

export function formatCheck(report: CheckReport): string {
  const lines = [`${report.config}: OK — ${report.secrets} secret${report.secrets === 1 ? '' : 's'}, ${report.templates} template${report.templates === 1 ? '' : 's'}; providers: ${report.providers.join(', ') || 'none'}`];
  for (const k of report.keys ?? []) lines.push(`  key ${k.kind} ${k.file}: ${k.recipients.join(', ')}`);
  return `${lines.join('\n')}\n`;
}

/** One credential's call budget in a line: what is left this hour, and when the next call may go out. */
export function budgetLine(b: ScopeStatus): string {
  const who = `call budget (${b.label ?? b.scope})`;
  if (b.left === null) return `${who}: no limit (network.callsPerHour is 0); ${b.used} call${b.used === 1 ? '' : 's'} in the last hour`;
  if (b.blockedUntil) return `${who}: rate limited by the provider; no call before ${b.blockedUntil} (${b.used} of ${b.perHour} used in the last hour)`;
  if (b.left === 0) return `${who}: spent (${b.perHour} calls in the last hour); next call allowed at ${b.nextCallAt}`;
  return `${who}: ${b.left} of ${b.perHour} calls left this hour; next call allowed now`;
}

function networkLines(network: NetworkStatus): string[] {
  const lines = [`network sources: state in ${network.stateDir}`];
  const seal = network.seal;
  if (!seal) lines.push('  sealed store: off (network.seal is false): an outage leaves only the live values');
  else if (!seal.exists) lines.push(`  sealed store: ${seal.file}: none yet (written after the first answer from the network)`);
  else lines.push(`  sealed store: ${seal.file}, written ${seal.writtenAt}; sealed values stand in for up to ${formatDuration(seal.maxAgeSeconds * 1000)} (network.seal.maxAge) after the network gave them`);
  for (const b of network.budget) lines.push(`  ${budgetLine(b)}`);
  return lines;
}

export function formatStatus(report: StatusReport & { network?: NetworkStatus | null }): string {
  const lines: string[] = [];
  const network = report.network ? networkLines(report.network) : [];
  if (!report.live) {
    lines.push(report.foreignTarget ? `${report.secretsDir} points at ${report.foreignTarget}, which materialize does not manage` : `${report.secretsDir}: no live generation`);
    return `${[...lines, ...network].join('\n')}\n`;
  }
  lines.push(`${report.secretsDir} -> ${report.live.dir} (generation ${report.live.generation}${report.live.createdAt ? `, made ${report.live.createdAt}` : ''}; kept: ${report.generations.join(', ')})`);
  if (report.rollback) lines.push(`rolled back from generation ${report.rollback.from} at ${report.rollback.at} (materialize rollback); the next apply makes generation ${Math.max(...report.generations, report.rollback.from) + 1}`);
  const width = Math.min(40, Math.max(4, ...report.entries.map((e) => e.name.length)));
  lines.push(`  ${pad('NAME', width)}  MODE  OWNER:GROUP          SIZE      FRESHNESS`);
  for (const e of report.entries) {
    const fresh = !e.present
      ? 'MISSING'
      : e.stale
        ? `STALE since ${e.stale.since}: ${e.stale.reason}`
        : e.cached
          ? `CACHED: sealed value from ${e.fetchedAt}${age(e.fetchedAt)} (${e.source})${e.cached.reason ? `: ${e.cached.reason}` : ''}`
          : `fetched ${e.fetchedAt} from ${e.source}`;
    const link = e.path ? `  -> ${e.path}${e.linked ? '' : ' (link missing)'}` : '';
    lines.push(`  ${pad(e.name, width)}  ${e.mode ?? '----'}  ${pad(`${e.owner}:${e.group}`, 20)} ${pad(size(e.size), 9)} ${fresh}${link}`);
  }
  lines.push(...network);
  return `${lines.join('\n')}\n`;
}
