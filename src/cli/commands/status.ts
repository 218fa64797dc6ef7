// `materialize status`: what is live, from the files and the generation manifest.
import { loadConfig } from '../../config/load.js';
import { status } from '../../materialize/status.js';
import { formatStatus, printJson, type OutputFlags } from '../output.js';

export interface StatusFlags extends OutputFlags {
  config?: string;
  secretsDir?: string;
}

export async function runStatus(flags: StatusFlags): Promise<number> {
  const secretsDir = flags.secretsDir ?? (flags.config ? loadConfig(flags.config).secretsDir : '/run/secrets');
  const report = status(secretsDir);
  if (flags.json) printJson(report);
  else process.stdout.write(formatStatus(report));
  return report.live ? 0 : 1;
}
