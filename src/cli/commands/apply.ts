// `materialize apply` (and `materialize --dry-run`): runs the pipeline and prints its report.
import type { Logger } from '../../log.js';
import { apply } from '../../materialize/apply.js';
import type { UnitMode } from '../../materialize/units.js';
import { formatApply, printReport, requireConfig, type OutputFlags } from '../output.js';
import { stdout } from '../../stdio.js';

export interface ApplyFlags extends OutputFlags {
  config?: string;
  dryRun?: boolean;
  units: UnitMode;
  unitsScope: 'system' | 'user';
  lockTimeout: number;
  timeout: number;
  boot?: boolean;
}

/** Runs the pipeline; a failure before any report (config, lock, mount) is thrown to main's handler. */
export async function runApply(flags: ApplyFlags, log: Logger): Promise<number> {
  const report = await apply({
    configFile: requireConfig(flags),
    dryRun: flags.dryRun,
    units: flags.units,
    unitScope: flags.unitsScope,
    lockTimeoutMs: flags.lockTimeout * 1000,
    fetchTimeoutMs: flags.timeout * 1000,
    network: flags.boot ? 'boot' : 'live',
    log,
  });
  if (flags.json) printReport(report.exitCode, report);
  else stdout.write(formatApply(report, !!flags.verbose));
  return report.exitCode;
}
