// Human-readable and JSON rendering of reports. Reports hold names, sizes, owners, modes and
// reasons only, so printing them whole is safe by construction.
import type { ApplyReport, ReportEntry } from '../materialize/apply.js';
import type { CheckReport } from '../materialize/check.js';
import type { StatusReport } from '../materialize/status.js';
import { createLogger, type Level } from '../log.js';
import { UsageError } from '../errors.js';
import { stdout } from '../stdio.js';

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

export function loggerFor(flags: OutputFlags) {
  const level: Level = flags.verbose ? 'debug' : flags.quiet ? 'warn' : 'info';
  return createLogger({ level });
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

function entryLine(e: ReportEntry, width: number): string {
  const detail =
    e.status === 'failed' || e.status === 'absent' || e.status === 'stale'
      ? `  ${e.reason ?? ''}`
      : e.status === 'removed'
        ? e.stray
          ? `  ${e.reason}`
          : ''
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

export function formatStatus(report: StatusReport): string {
  const lines: string[] = [];
  if (!report.live) {
    lines.push(report.foreignTarget ? `${report.secretsDir} points at ${report.foreignTarget}, which materialize does not manage` : `${report.secretsDir}: no live generation`);
    return `${lines.join('\n')}\n`;
  }
  lines.push(`${report.secretsDir} -> ${report.live.dir} (generation ${report.live.generation}${report.live.createdAt ? `, made ${report.live.createdAt}` : ''}; kept: ${report.generations.join(', ')})`);
  if (report.rollback) lines.push(`rolled back from generation ${report.rollback.from} at ${report.rollback.at} (materialize rollback); the next apply makes generation ${Math.max(...report.generations, report.rollback.from) + 1}`);
  const width = Math.min(40, Math.max(4, ...report.entries.map((e) => e.name.length)));
  lines.push(`  ${pad('NAME', width)}  MODE  OWNER:GROUP          SIZE      FRESHNESS`);
  for (const e of report.entries) {
    const fresh = !e.present ? 'MISSING' : e.stale ? `STALE since ${e.stale.since}: ${e.stale.reason}` : `fetched ${e.fetchedAt} from ${e.source}`;
    const link = e.path ? `  -> ${e.path}${e.linked ? '' : ' (link missing)'}` : '';
    lines.push(`  ${pad(e.name, width)}  ${e.mode ?? '----'}  ${pad(`${e.owner}:${e.group}`, 20)} ${pad(size(e.size), 9)} ${fresh}${link}`);
  }
  return `${lines.join('\n')}\n`;
}
