// `materialize apply` (and `materialize --dry-run`): runs the pipeline and prints its report.
import { ConfigError, MaterializeError } from '../../errors.js';
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
  boot?: boolean;
}

export async function runApply(flags: ApplyFlags): Promise<number> {
  const log = loggerFor(flags);
  let report;
  try {
    report = await apply({
      configFile: requireConfig(flags),
      dryRun: flags.dryRun,
      units: flags.units,
      unitScope: flags.unitsScope,
      lockTimeoutMs: flags.lockTimeout * 1000,
      fetchTimeoutMs: flags.timeout * 1000,
      network: flags.boot ? 'boot' : 'live',
      log,
    });
  } catch (error) {
    // With --json a failure before any report (config, lock, mount) is a JSON answer too.
    if (flags.json && error instanceof MaterializeError) {
      printJson({ ok: false, exitCode: error.exitCode, error: error.name, message: error.message, ...(error instanceof ConfigError ? { issues: error.issues } : {}), warnings: log.warnings });
    }
    throw error;
  }
  if (flags.json) printJson({ ok: report.exitCode === 0, ...report });
  else process.stdout.write(formatApply(report, !!flags.verbose));
  return report.exitCode;
}
