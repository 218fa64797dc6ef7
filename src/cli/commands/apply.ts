// `materialize apply` (and `materialize --dry-run`): runs the pipeline and prints its report.
import { UsageError } from '../../errors.js';
import { apply } from '../../materialize/apply.js';
import type { UnitMode } from '../../materialize/units.js';
import { formatApply, loggerFor, printJson, type OutputFlags } from '../output.js';

export interface ApplyFlags extends OutputFlags {
  config?: string;
  dryRun?: boolean;
  units: UnitMode;
  lockTimeout: number;
  timeout: number;
}

export function requireConfig(flags: { config?: string }): string {
  if (!flags.config) throw new UsageError('no configuration given: pass --config FILE (or set MATERIALIZE_CONFIG)');
  return flags.config;
}

export async function runApply(flags: ApplyFlags): Promise<number> {
  const log = loggerFor(flags);
  const report = await apply({
    configFile: requireConfig(flags),
    dryRun: flags.dryRun,
    units: flags.units,
    lockTimeoutMs: flags.lockTimeout * 1000,
    fetchTimeoutMs: flags.timeout * 1000,
    log,
  });
  if (flags.json) printJson(report);
  else process.stdout.write(formatApply(report, !!flags.verbose));
  return report.exitCode;
}
