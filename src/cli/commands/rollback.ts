// `materialize rollback [--to N]`: a kept earlier generation made live again; prints what differs
// and the units restarted (never a value).
import { rollback, type RollbackReport } from '../../materialize/rollback.js';
import type { UnitMode } from '../../materialize/units.js';
import type { Logger } from '../../log.js';
import { printReport, requireConfig, type OutputFlags } from '../output.js';
import { stdout } from '../../stdio.js';

export interface RollbackFlags extends OutputFlags {
  config?: string;
  to?: number;
  units: UnitMode;
  unitsScope: 'system' | 'user';
  lockTimeout: number;
}

/** One line for the switch, one per difference, the units. */
function formatRollback(report: RollbackReport): string {
  if (!report.switched) return `generation ${report.to} is already live at ${report.secretsDir}; nothing changed (kept: ${report.generations.join(', ')})\n`;
  const lines = [`generation ${report.to} is live at ${report.secretsDir} again (rolled back from ${report.from}; kept: ${report.generations.join(', ')})`];
  const width = Math.min(40, Math.max(0, ...report.entries.map((e) => e.name.length)));
  for (const e of report.entries.filter((x) => x.status !== 'unchanged')) lines.push(`  ${e.status.padEnd(9)} ${e.name.padEnd(width)}${e.aspects ? ` (${e.aspects.join(', ')})` : ''}`.trimEnd());
  const unchanged = report.entries.filter((e) => e.status === 'unchanged').length;
  if (unchanged) lines.push(`  ${unchanged} unchanged`);
  if (report.units.restart.length) lines.push(`restart: ${report.units.restart.join(' ')}`);
  if (report.units.reload.length) lines.push(`reload: ${report.units.reload.join(' ')}`);
  return `${lines.join('\n')}\n`;
}

export async function runRollback(flags: RollbackFlags, log: Logger): Promise<number> {
  const report = await rollback({ configFile: requireConfig(flags), to: flags.to, units: flags.units, unitScope: flags.unitsScope, lockTimeoutMs: flags.lockTimeout * 1000, log });
  if (flags.json) printReport(report.exitCode, report);
  else stdout.write(formatRollback(report));
  return report.exitCode;
}
