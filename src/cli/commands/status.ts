// `materialize status`: what is live, from the files and the generation manifest.
import { loadConfig } from '../../config/load.js';
import { status } from '../../materialize/status.js';
import { formatStatus, printReport, type OutputFlags } from '../output.js';
import { stdout } from '../../stdio.js';

export interface StatusFlags extends OutputFlags {
  config?: string;
  secretsDir?: string;
}

export async function runStatus(flags: StatusFlags): Promise<number> {
  const secretsDir = flags.secretsDir ?? (flags.config ? loadConfig(flags.config).secretsDir : '/run/secrets');
  const report = status(secretsDir);
  const exitCode = report.live ? 0 : 1;
  if (flags.json) printReport(exitCode, report);
  else stdout.write(formatStatus(report));
  return exitCode;
}
