// The secrets.json of a sops test that runs the CLI: its directories under the test's own, no mount.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Writes `dir`/`name` with secretsDir `dir`/run/secrets, mountPoint `dir`/run/secrets.d, mount
 * "none" and `settings` (keys, secrets, failurePolicy…); returns its path and the secretsDir.
 */
export function writeConfigIn(dir: string, settings: Record<string, unknown>, name = 'secrets.json'): { config: string; secretsDir: string } {
  const config = join(dir, name);
  const secretsDir = join(dir, 'run/secrets');
  writeFileSync(config, `${JSON.stringify({ version: 1, secretsDir, mountPoint: join(dir, 'run/secrets.d'), mount: 'none', ...settings }, null, 2)}\n`);
  return { config, secretsDir };
}
