// A minimal secrets.json for CLI tests of age secrets: mount "none", everything inside one temp dir.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface AgeConfig {
  ageKeyFiles?: string[];
  sshKeyPaths?: string[];
  /** Secret name → .age file. */
  secrets?: Record<string, string>;
}

/** Writes DIR/secrets.json publishing under DIR/out; returns its path. */
export function writeAgeConfig(dir: string, config: AgeConfig): string {
  const file = join(dir, 'secrets.json');
  const json = {
    version: 1,
    secretsDir: join(dir, 'out/secrets'),
    mountPoint: join(dir, 'out/secrets.d'),
    mount: 'none',
    failurePolicy: 'abort',
    keys: { ageKeyFiles: config.ageKeyFiles ?? [], sshKeyPaths: config.sshKeyPaths ?? [] },
    secrets: Object.fromEntries(Object.entries(config.secrets ?? {}).map(([name, f]) => [name, { sources: [{ age: { file: f } }] }])),
  };
  writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
  return file;
}
