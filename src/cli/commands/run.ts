// `materialize run [--env VAR=NAME]… [--file VAR=NAME]… -- CMD ARGS…`: CMD with its secrets; exits
// with CMD's code (or dies of CMD's signal).
import { runWithSecrets } from '../../materialize/run.js';
import type { Logger } from '../../log.js';
import type { OutputFlags } from '../output.js';

export interface RunFlags extends Omit<OutputFlags, 'json'> {
  config?: string;
  env?: string[];
  file?: string[];
  timeout: number;
}

export async function runRun(command: string[], flags: RunFlags, log: Logger): Promise<number> {
  return runWithSecrets({ configFile: flags.config, env: flags.env ?? [], files: flags.file ?? [], command, log, timeoutMs: flags.timeout * 1000 });
}
