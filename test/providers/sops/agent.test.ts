// gpg starts a gpg-agent for the gnupg home when none runs, and that agent used to outlive the run
// (issue 9): with the real gpg and the vectors' gnupg home, a run leaves no agent behind for that
// home; and an agent that was running before (the user's own) is left running.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { registerSecretValues, runCli } from '../../helpers/cli.js';
import { writeConfigIn } from './helpers/config.js';
import { copyGnupgHome, SOPS_NIX, tempDir } from './helpers/keys.js';

registerSecretValues('test_value');

/** Live gpg-agent processes for `home` (zombies, which have no command line, do not count). */
function agentsFor(home: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (!/(^|\/)gpg-agent$/.test(argv[0] ?? '')) continue;
      const at = argv.indexOf('--homedir');
      if (at >= 0 && argv[at + 1] === home) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Waits (polling, up to 10 s) for `check` to hold; gpgconf --kill returns before the agent has exited. */
async function eventually(check: () => boolean): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

/** A configuration with one PGP-encrypted secret, opened with a copy of the vectors' gnupg home. */
function setup(t: TestContext): { config: string; home: string; secretsDir: string } {
  const dir = tempDir(t);
  cpSync(join(SOPS_NIX, 'secrets.json'), join(dir, 'secrets-pgp.json'));
  const home = copyGnupgHome(t, dir);
  const written = writeConfigIn(dir, {
    keys: { gnupgHome: home },
    secrets: { pgp: { sources: [{ sops: { file: 'secrets-pgp.json', key: 'test_key' } }] } },
  }, 'config.json');
  return { ...written, home };
}

test('a run stops the gpg-agent its gpg started: none is left for the gnupg home', async (t) => {
  const { config, home, secretsDir } = setup(t);
  assert.deepEqual(agentsFor(home), [], 'no agent before');
  const r = await runCli(['apply', '--config', config]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(join(secretsDir, 'pgp'), 'utf8'), 'test_value', 'gpg (and so an agent) was used');
  assert.ok(await eventually(() => agentsFor(home).length === 0), `gpg-agent left running for ${home}: pids ${agentsFor(home).join(', ')}`);
});

test('an agent that was running before the run (the user\'s own) is left running', async (t) => {
  const { config, home } = setup(t);
  execFileSync('gpg-connect-agent', ['/bye'], { env: { PATH: process.env.PATH, GNUPGHOME: home }, stdio: 'pipe' });
  const [pid] = agentsFor(home);
  assert.ok(pid, 'the user\'s agent runs');
  const r = await runCli(['apply', '--config', config]);
  assert.equal(r.code, 0, r.stderr);
  await new Promise((done) => setTimeout(done, 500));
  assert.deepEqual(agentsFor(home), [pid], 'the same agent, still running');
});
