// Key material for the sops tests, prepared the way a host holds it: key files mode 600 in a temp
// dir, gnupg homes copied or built with the real gpg (mode 700), agents stopped afterwards.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { REPO } from '../../../helpers/cli.js';

export { tempDir } from '../../../helpers/temp.js';

export const FIXTURES = join(REPO, 'test/fixtures/sops');
export const SOPS_NIX = join(FIXTURES, 'sops-nix');
export const SOPS_AGE = join(FIXTURES, 'sops-age');

/** Copies a key file into `dir` with mode 600 (key files readable by others are reported). */
export function keyFile(dir: string, from: string, name = from.split('/').at(-1)!): string {
  const to = join(dir, name);
  copyFileSync(from, to);
  chmodSync(to, 0o600);
  return to;
}

// Why: gpg starts an agent for each home it uses, and a test's home goes with the test.
/** Stops the gpg-agent of `home` after the test. */
function stopAgent(t: TestContext, home: string): void {
  t.after(() => {
    try {
      execFileSync('gpgconf', ['--homedir', home, '--kill', 'gpg-agent'], { stdio: 'ignore', env: { PATH: process.env.PATH, GNUPGHOME: home } });
    } catch {
      // No agent was started.
    }
  });
}

/** The vector's gnupg home (PGP 7FB89715…), copied with the modes gpg insists on. */
export function copyGnupgHome(t: TestContext, dir: string): string {
  const home = join(dir, 'gnupghome');
  cpSync(join(SOPS_NIX, 'gnupghome'), home, { recursive: true });
  execFileSync('chmod', ['-R', 'u+rwX,go-rwx', home]);
  chmodSync(home, 0o700);
  stopAgent(t, home);
  return home;
}

/** A fresh gnupg home holding the keys imported from armored private key files. */
export function importedGnupgHome(t: TestContext, dir: string, name: string, ...asc: string[]): string {
  const home = join(dir, name);
  mkdirSync(home, { mode: 0o700 });
  stopAgent(t, home);
  for (const file of asc) execFileSync('gpg', ['--batch', '--quiet', '--import', file], { env: { PATH: process.env.PATH, GNUPGHOME: home }, stdio: 'pipe' });
  return home;
}

/** A new age identity made by age-keygen: its file and recipient. */
export function ageKey(dir: string, name: string): { file: string; recipient: string } {
  const file = join(dir, name);
  execFileSync('age-keygen', ['-o', file], { stdio: 'pipe' });
  chmodSync(file, 0o600);
  return { file, recipient: /^# public key: (age1\S+)$/m.exec(readFileSync(file, 'utf8'))![1]! };
}
