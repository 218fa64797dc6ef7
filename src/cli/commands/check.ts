// `materialize check`: validation without decrypting; the NixOS module runs it at build time.
import { ConfigError } from '../../errors.js';
import { check } from '../../materialize/check.js';
import { formatCheck, loggerFor, printJson, requireConfig, type OutputFlags } from '../output.js';

export interface CheckFlags extends OutputFlags {
  config?: string;
  skipOwners?: boolean;
  skipKeys?: boolean;
}

export async function runCheck(flags: CheckFlags): Promise<number> {
  const log = loggerFor(flags);
  try {
    const report = await check({ configFile: requireConfig(flags), skipOwners: flags.skipOwners, skipKeys: flags.skipKeys, log });
    if (flags.json) printJson({ ok: true, ...report });
    else process.stdout.write(formatCheck(report));
    return 0;
  } catch (error) {
    // With --json, configuration problems are a report too (and still the config exit code).
    if (flags.json && error instanceof ConfigError) {
      printJson({ ok: false, config: error.file ?? null, issues: error.issues, warnings: log.warnings });
      return error.exitCode;
    }
    throw error;
  }
}
