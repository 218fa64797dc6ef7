// `materialize status`: what is live, from the files and the generation manifest.
import { loadConfig } from '../../config/load.js';
import { networkStatus } from '../../materialize/remote-status.js';
import { status } from '../../materialize/status.js';
import { formatStatus, printReport, type OutputFlags } from '../output.js';
import { stdout } from '../../stdio.js';

export interface StatusFlags extends OutputFlags {
  config?: string;
  secretsDir?: string;
}

export async function runStatus(flags: StatusFlags): Promise<number> {
  const config = flags.config ? loadConfig(flags.config) : undefined;
  const secretsDir = flags.secretsDir ?? config?.secretsDir ?? '/run/secrets';
  // The network sources' state (sealed store, call budget) is known only from a configuration.
  const report = { ...status(secretsDir), network: config ? networkStatus(config) : null };
  const exitCode = report.live ? 0 : 1;
  if (flags.json) printReport(exitCode, report);
  else stdout.write(formatStatus(report));
  return exitCode;
}
