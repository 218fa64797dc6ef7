// A fake `systemctl` first on PATH that appends its argv (one call per line) to a log file, so unit
// tests can assert the exact restart/reload calls a run makes without a running systemd.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface FakeSystemctl {
  /** Environment for runCli: PATH with the fake first. */
  env: Record<string, string>;
  /** Calls recorded so far, each as its argv joined by spaces; reading clears the log. */
  take(): string[];
}

export function fakeSystemctl(dir: string): FakeSystemctl {
  const bin = join(dir, 'fake-bin');
  const log = join(dir, 'systemctl.log');
  mkdirSync(bin, { recursive: true });
  writeFileSync(log, '');
  writeFileSync(join(bin, 'systemctl'), `#!/bin/sh\necho "$*" >> '${log}'\n`);
  chmodSync(join(bin, 'systemctl'), 0o755);
  return {
    env: { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` },
    take() {
      const calls = readFileSync(log, 'utf8').split('\n').filter(Boolean);
      writeFileSync(log, '');
      return calls;
    },
  };
}
