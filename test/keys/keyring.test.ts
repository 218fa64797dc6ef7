// Loading the host's keys from keys.ageKeyFiles and keys.sshKeyPaths: every file shape age and
// ssh-keygen write, and every way a key can be unusable — each a warning naming the file (and
// line), never the key text, and never fatal on its own.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadKeyRing, type KeyRing } from '../../src/keys/index.js';
import { silentLogger } from '../../src/log.js';
import { isRoot, REPO } from '../helpers/cli.js';
import { AGE_SKIP, SSH_SKIP, ageKeygen, sshKeygen, sshToAgeByHand, suiteDir, tempDir, type AgeKey, type SshKey } from '../age/helpers/tools.js';

const settings = (ageKeyFiles: string[], sshKeyPaths: string[] = []) => ({ ageKeyFiles, sshKeyPaths, gnupgHome: null });

/** Loads a ring and returns it with the warnings it logged. */
async function load(ageKeyFiles: string[], sshKeyPaths: string[] = []): Promise<KeyRing & { warnings: string[] }> {
  const log = silentLogger();
  const ring = await loadKeyRing(settings(ageKeyFiles, sshKeyPaths), log);
  assert.deepEqual(ring.problems, log.warnings, 'every problem is logged as a warning');
  return { ...ring, warnings: log.warnings };
}

/** Writes a key file with mode 0600 (the mode that draws no warning). */
function keyFile(dir: string, name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}

/** Asserts that no warning contains any of the secret texts. */
function assertNoKeyText(warnings: string[], secrets: string[]): void {
  for (const w of warnings) for (const s of secrets) assert.ok(!w.includes(s), `a warning shows key material: ${w}`);
}

describe('age key files', { skip: AGE_SKIP }, () => {
  const dir = suiteDir();
  let a: AgeKey;
  let b: AgeKey;
  before(() => {
    a = ageKeygen(dir, 'a.txt');
    b = ageKeygen(dir, 'b.txt');
  });

  test('the file age-keygen writes: one key, its recipient, no warning', async () => {
    const ring = await load([a.file]);
    assert.deepEqual(ring.warnings, []);
    assert.deepEqual(ring.entries, [{ file: a.file, line: 3, kind: 'age', recipients: [a.recipient] }]);
    assert.deepEqual(ring.identities.map((i) => i.recipient), [a.recipient]);
  });

  test('comments, blank lines, indentation, CRLF and several keys in one file', async () => {
    const text = ['# first key', '', `  ${a.secret}  `, '# second key', '\t', b.secret, '# trailing comment', ''].join('\r\n');
    const file = keyFile(dir, 'several.txt', text);
    const ring = await load([file]);
    assert.deepEqual(ring.warnings, []);
    assert.deepEqual(ring.entries.map((e) => [e.line, e.recipients[0]]), [[3, a.recipient], [6, b.recipient]]);
  });

  test('a line with a bad checksum is skipped with a warning naming file and line, not the key', async () => {
    const broken = `${a.secret.slice(0, 20)}${a.secret[20] === 'Q' ? 'P' : 'Q'}${a.secret.slice(21)}`;
    const file = keyFile(dir, 'broken.txt', `# public key: ${a.recipient}\n${broken}\n${b.secret}\n`);
    const ring = await load([file]);
    assert.deepEqual(ring.warnings, [`age key file ${file}, line 2: not a valid AGE-SECRET-KEY-1 key (bad checksum or length); skipped`]);
    assert.deepEqual(ring.identities.map((i) => i.recipient), [b.recipient]);
    assertNoKeyText(ring.warnings, [broken, a.secret, b.secret, broken.slice(16, 40)]);
  });

  test('plugin identities, public recipients and other lines are skipped, each with its own warning', async () => {
    const file = keyFile(dir, 'mixed.txt', `AGE-PLUGIN-YUBIKEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ\n${a.recipient}\nhello world\n${a.secret}\n`);
    const ring = await load([file]);
    assert.deepEqual(ring.warnings, [
      `age key file ${file}, line 1: age plugin identities (AGE-PLUGIN-…) are not supported; skipped`,
      `age key file ${file}, line 2: a public recipient, not a secret key; skipped`,
      `age key file ${file}, line 3: not an age secret key; skipped`,
    ]);
    assert.equal(ring.identities.length, 1);
    assertNoKeyText(ring.warnings, ['hello world', a.secret]);
  });

  test('an empty file, a missing file and a directory are warnings; the other keys still load', async (t) => {
    const own = tempDir(t);
    const empty = keyFile(own, 'empty.txt', '# nothing here\n\n');
    mkdirSync(join(own, 'a-dir'));
    const ring = await load([empty, join(own, 'missing.txt'), join(own, 'a-dir'), a.file]);
    assert.deepEqual(ring.warnings, [
      `age key file ${empty} holds no keys`,
      `age key file ${join(own, 'missing.txt')} does not exist`,
      `age key file ${join(own, 'a-dir')} is not a regular file`,
    ]);
    assert.deepEqual(ring.identities.map((i) => i.recipient), [a.recipient]);
  });

  test('a key file every user can read: loaded, with a warning', async (t) => {
    const own = tempDir(t);
    const file = keyFile(own, 'open.txt', readFileSync(a.file, 'utf8'));
    chmodSync(file, 0o644);
    const ring = await load([file]);
    assert.deepEqual(ring.warnings, [`age key file ${file} is readable by every user (mode 0644); chmod 600 it`]);
    assert.equal(ring.identities.length, 1);
    chmodSync(file, 0o640);
    assert.deepEqual((await load([file])).warnings, [], 'group-readable is the admin\'s choice (e.g. group keys)');
  });

  test('the same key twice (two files) gives one identity and two entries', async (t) => {
    const own = tempDir(t);
    const copy = keyFile(own, 'copy.txt', readFileSync(a.file, 'utf8'));
    const ring = await load([a.file, copy]);
    assert.equal(ring.entries.length, 2);
    assert.equal(ring.identities.length, 1);
  });

  test('an unreadable key file (permission denied) is a warning', async (t) => {
    const own = tempDir(t);
    chmodSync(own, 0o755);
    const file = keyFile(own, 'locked.txt', readFileSync(a.file, 'utf8'));
    const other = keyFile(own, 'other.txt', readFileSync(b.file, 'utf8'));
    chmodSync(file, 0o000);
    chmodSync(other, 0o644);
    let result: { warnings: string[]; recipients: string[] };
    if (isRoot) {
      // Root reads every file: load as nobody instead, in a child process.
      const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'test/keys/helpers/load-ring.ts'), JSON.stringify(settings([file, other]))], { cwd: REPO, uid: 65534, gid: 65534, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      result = JSON.parse(r.stdout);
    } else {
      const ring = await load([file, other]);
      result = { warnings: ring.warnings, recipients: ring.identities.map((i) => i.recipient) };
    }
    assert.deepEqual(result.warnings, [`age key file ${file} is not readable (permission denied)`, `age key file ${other} is readable by every user (mode 0644); chmod 600 it`]);
    assert.deepEqual(result.recipients, [b.recipient]);
  });

  test('no usable key at all: an empty ring whose problems say why', async (t) => {
    const own = tempDir(t);
    const ring = await load([keyFile(own, 'bad.txt', 'AGE-SECRET-KEY-1QQQQ\n'), join(own, 'missing.txt')]);
    assert.equal(ring.identities.length, 0);
    assert.equal(ring.problems.length, 2);
  });
});

describe('SSH keys as identities', { skip: SSH_SKIP }, () => {
  const dir = suiteDir();
  let ed: SshKey;
  let rsa: SshKey;
  before(() => {
    ed = sshKeygen(dir, 'ed25519');
    rsa = sshKeygen(dir, 'rsa');
  });

  test('keys.sshKeyPaths: ed25519 gives the native and the converted identity, RSA one', async () => {
    const ring = await load([], [ed.file, rsa.file]);
    assert.deepEqual(ring.warnings, []);
    const edLine = ed.publicLine.split(' ').slice(0, 2).join(' ');
    assert.equal(ring.entries[0]!.kind, 'ssh-ed25519');
    assert.equal(ring.entries[0]!.recipients[0], edLine);
    assert.match(ring.entries[0]!.recipients[1]!, /^age1[a-z0-9]{58}$/);
    if (!AGE_SKIP) assert.equal(ring.entries[0]!.recipients[1], sshToAgeByHand(ed).recipient, 'not what ssh-to-age makes of the key');
    assert.deepEqual(ring.entries[1], { file: rsa.file, kind: 'ssh-rsa', recipients: [rsa.publicLine.split(' ').slice(0, 2).join(' ')] });
    assert.equal(ring.identities.length, 3);
  });

  test('an SSH private key given as an age identity file works (as age -i accepts it)', async () => {
    const ring = await load([ed.file, rsa.file]);
    assert.deepEqual(ring.warnings, []);
    assert.deepEqual(ring.entries.map((e) => e.kind), ['ssh-ed25519', 'ssh-rsa']);
    assert.equal(ring.identities.length, 3);
  });

  test('a passphrase-protected key is a clear warning, in either list', async (t) => {
    const own = tempDir(t);
    const locked = sshKeygen(own, 'ed25519', { name: 'locked', passphrase: 'a passphrase' });
    const ring = await load([locked.file], [locked.file]);
    const reason = 'the key is passphrase-protected, and nothing can type a passphrase at boot (use a key without one; `ssh-keygen -p` removes it)';
    assert.deepEqual(ring.warnings, [`age key file ${locked.file} cannot be used: ${reason}`, `SSH key ${locked.file} cannot be used: ${reason}`]);
    assert.equal(ring.identities.length, 0);
  });

  test('a .pub file where the private key belongs gets a hint', async () => {
    const ring = await load([], [ed.pubFile]);
    assert.deepEqual(ring.warnings, [`SSH key ${ed.pubFile} cannot be used: it holds a public key; point at the private key (the file without .pub)`]);
  });

  test('a world-readable SSH key: loaded, with a warning; no warning shows key text', async (t) => {
    const own = tempDir(t);
    const file = keyFile(own, 'host_key', ed.privateText);
    chmodSync(file, 0o604);
    const ring = await load([], [file]);
    assert.deepEqual(ring.warnings, [`SSH key ${file} is readable by every user (mode 0604); chmod 600 it`]);
    assert.equal(ring.identities.length, 2);
    assertNoKeyText(ring.warnings, ed.privateText.split('\n').filter((l) => l.length > 20));
  });
});
