// `materialize apply` (and `materialize --dry-run`): runs the pipeline and prints its report.
import { apply } from '../../materialize/apply.js';
import type { UnitMode } from '../../materialize/units.js';
import { formatApply, loggerFor, printJson, requireConfig, type OutputFlags } from '../output.js';

export interface ApplyFlags extends OutputFlags {
  config?: string;
  dryRun?: boolean;
  units: UnitMode;
  unitsScope: 'system' | 'user';
  lockTimeout: number;
  timeout: number;
}


export async function runApply(flags: ApplyFlags): Promise<number> {
  const log = loggerFor(flags);
  const report = await apply({
    configFile: requireConfig(flags),
    dryRun: flags.dryRun,
    units: flags.units,
    unitScope: flags.unitsScope,
    lockTimeoutMs: flags.lockTimeout * 1000,
    fetchTimeoutMs: flags.timeout * 1000,
    log,
  });
  if (flags.json) printJson(report);
  else process.stdout.write(formatApply(report, !!flags.verbose));
  return report.exitCode;
}
