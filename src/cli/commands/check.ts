// `materialize check`: validation without decrypting; the NixOS module runs it at build time.
import type { Logger } from '../../log.js';
import { check } from '../../materialize/check.js';
import { formatCheck, printReport, requireConfig, type OutputFlags } from '../output.js';
import { stdout } from '../../stdio.js';

export interface CheckFlags extends OutputFlags {
  config?: string;
  skipOwners?: boolean;
  skipKeys?: boolean;
}

/** Problems are a ConfigError listing them all, thrown to main's handler (with --json: the failure JSON with its issues). */
export async function runCheck(flags: CheckFlags, log: Logger): Promise<number> {
  const report = await check({ configFile: requireConfig(flags), skipOwners: flags.skipOwners, skipKeys: flags.skipKeys, log });
  if (flags.json) printReport(0, report);
  else stdout.write(formatCheck(report));
  return 0;
}
