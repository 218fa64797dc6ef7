// `materialize keys`: the host's age recipients from its configured keys, from public key files or
// stdin, and from the defaults sops uses — and never a private key. runCli scans every output for
// the private key texts registered here.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateHybridIdentity, identityToRecipient } from 'age-encryption';
import { registerSecretValues, runCli } from '../helpers/cli.js';
import { writeAgeConfig } from '../age/helpers/config.js';
import { AGE_SKIP, SSH_SKIP, ageKeygen, sshKeygen, sshToAgeByHand, suiteDir, tempDir, type AgeKey, type SshKey } from '../age/helpers/tools.js';

const VECTOR = new URL('../fixtures/age/sops-nix/', import.meta.url).pathname;
const VECTOR_RECIPIENT = 'age1a8pk4akrdamj7nvqy3zywgtny8dxz7t5xzu7u8v9mhrayp9freqsqatyrs';
const HOST_KEY = '/etc/ssh/ssh_host_ed25519_key.pub';
/** An environment without the sops variables of whoever runs the tests. */
const cleanEnv = (extra: Record<string, string> = {}) => ({ SOPS_AGE_KEY: undefined, SOPS_AGE_KEY_FILE: undefined, ...extra });

interface KeyJson {
  source: string;
  type: string;
  recipient: string;
  sshPublicKey?: string;
}

/**
 * Registers every secret form of an SSH private key: its text, each base64 line, its converted age
 * secret (derived by hand and age-keygen, not by our code). Lines that lie wholly inside the public key (an RSA modulus is in both files, sometimes at
 * the same base64 alignment) are public data and are left out.
 */
function registerSshKey(key: SshKey & { passphrase?: boolean }): void {
  const lines = key.privateText.split('\n').filter((l) => l.length >= 16 && !l.startsWith('-----') && !key.publicLine.includes(l));
  registerSecretValues(key.privateText, ...lines);
  if (!key.passphrase && key.publicLine.startsWith('ssh-ed25519 ')) registerSecretValues(sshToAgeByHand(key).secret);
}

/** The public part of a `.pub` line (type and base64, no comment). */
const publicPart = (line: string) => line.trim().split(' ').slice(0, 2).join(' ');

/** Runs `materialize keys … --json` and returns its keys. */
async function keysJson(args: string[], options: { env?: Record<string, string | undefined>; input?: string } = {}): Promise<{ code: number | null; keys: KeyJson[]; warnings: string[]; stderr: string }> {
  const r = await runCli(['keys', ...args, '--json'], { env: cleanEnv(), ...options });
  const report = JSON.parse(r.stdout) as { keys: KeyJson[]; warnings: string[] };
  return { code: r.code, keys: report.keys, warnings: report.warnings, stderr: r.stderr };
}

describe('materialize keys', { skip: AGE_SKIP || SSH_SKIP }, () => {
  const dir = suiteDir('materialize-keys-');
  let age: AgeKey;
  let ed: SshKey;
  let rsa: SshKey;
  before(() => {
    age = ageKeygen(dir, 'age.txt');
    ed = sshKeygen(dir, 'ed25519');
    rsa = sshKeygen(dir, 'rsa');
    registerSecretValues(age.secret);
    registerSshKey(ed);
    registerSshKey(rsa);
  });

  test('--ssh-pubkey FILE prints what ssh-to-age prints for the sops-nix key', async () => {
    const r = await runCli(['keys', '--ssh-pubkey', join(VECTOR, 'ssh-ed25519-key.pub')], { env: cleanEnv() });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${join(VECTOR, 'ssh-ed25519-key.pub')}  ssh-ed25519  ${VECTOR_RECIPIENT}\n`);
    assert.equal(r.stderr, '');
  });

  test('public key lines from stdin (-): ed25519 converted, RSA as its ssh-rsa line, comments skipped', async () => {
    const input = `# the host\n${readFileSync(join(VECTOR, 'ssh-ed25519-key.pub'), 'utf8').trim()} root@host\n\n${rsa.publicLine}\n`;
    const r = await keysJson(['--ssh-pubkey', '-'], { input });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.keys, [
      { source: 'stdin:2', type: 'ssh-ed25519', recipient: VECTOR_RECIPIENT, sshPublicKey: publicPart(readFileSync(join(VECTOR, 'ssh-ed25519-key.pub'), 'utf8')) },
      { source: 'stdin:4', type: 'ssh-rsa', recipient: publicPart(rsa.publicLine), sshPublicKey: publicPart(rsa.publicLine) },
    ]);
  });

  test('--config: every configured key, recipients equal to what age-keygen and ssh-keygen wrote', async (t) => {
    const own = tempDir(t);
    const pq = await generateHybridIdentity();
    const pqRecipient = await identityToRecipient(pq);
    registerSecretValues(pq);
    const keyFile = join(own, 'keys.txt');
    writeFileSync(keyFile, `${readFileSync(age.file, 'utf8')}\n# post-quantum\n${pq}\n`, { mode: 0o600 });
    const config = writeAgeConfig(own, { ageKeyFiles: [keyFile, rsa.file], sshKeyPaths: [ed.file] });
    const r = await keysJson(['--config', config]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.warnings, []);
    // What ssh-to-age prints for this key, derived without our code (sshToAgeByHand: age-keygen -y).
    const edRecipient = sshToAgeByHand(ed).recipient;
    assert.deepEqual(r.keys, [
      { source: `${keyFile}:3`, type: 'age', recipient: age.recipient },
      { source: `${keyFile}:6`, type: 'age-pq', recipient: pqRecipient },
      { source: rsa.file, type: 'ssh-rsa', recipient: publicPart(rsa.publicLine), sshPublicKey: publicPart(rsa.publicLine) },
      { source: ed.file, type: 'ssh-ed25519', recipient: edRecipient, sshPublicKey: publicPart(ed.publicLine) },
    ]);
    const human = await runCli(['keys', '--config', config], { env: cleanEnv() });
    assert.equal(human.code, 0, human.stderr);
    const lines = human.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 4);
    assert.match(lines[0]!, new RegExp(`^${keyFile}:3 +age +${age.recipient}$`));
    assert.match(lines[3]!, new RegExp(`^${ed.file} +ssh-ed25519 +${edRecipient}$`));
  });

  test('a host key whose private half is absent (or unreadable) is read from its .pub file', async (t) => {
    const own = tempDir(t);
    const hostKey = join(own, 'ssh_host_ed25519_key');
    writeFileSync(`${hostKey}.pub`, readFileSync(join(VECTOR, 'ssh-ed25519-key.pub')));
    const r = await keysJson(['--config', writeAgeConfig(own, { sshKeyPaths: [hostKey] })]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.keys.map((k) => [k.source, k.recipient]), [[`${hostKey}.pub`, VECTOR_RECIPIENT]]);
  });

  test('without --config or --ssh-pubkey: SOPS_AGE_KEY, SOPS_AGE_KEY_FILE and $XDG_CONFIG_HOME/sops/age/keys.txt', async (t) => {
    const own = tempDir(t);
    const xdg = join(own, 'xdg');
    mkdirSync(join(xdg, 'sops/age'), { recursive: true });
    const userKey = ageKeygen(join(xdg, 'sops/age'), 'keys.txt');
    const fileKey = ageKeygen(own, 'sops-file.txt');
    const envKey = ageKeygen(own, 'env.txt');
    registerSecretValues(userKey.secret, fileKey.secret, envKey.secret);
    const r = await keysJson([], { env: cleanEnv({ XDG_CONFIG_HOME: xdg, SOPS_AGE_KEY: envKey.secret, SOPS_AGE_KEY_FILE: fileKey.file }) });
    assert.equal(r.code, 0, r.stderr);
    const expected = [
      ['SOPS_AGE_KEY:1', envKey.recipient],
      [`${fileKey.file}:3`, fileKey.recipient],
      [`${join(xdg, 'sops/age/keys.txt')}:3`, userKey.recipient],
    ];
    // This machine's own SSH host key comes first when it has one. Only its public half may be
    // read here, so its recipient is the one --ssh-pubkey gives: this checks that the default search
    // includes it; the conversion itself is checked above against published vectors and age-keygen.
    if (existsSync(HOST_KEY)) expected.unshift([HOST_KEY, (await keysJson(['--ssh-pubkey', HOST_KEY])).keys[0]!.recipient]);
    assert.deepEqual(r.keys.map((k) => [k.source, k.recipient]), expected);
  });

  test('nothing found: exit 78 naming every place looked at', { skip: existsSync(HOST_KEY) ? `${HOST_KEY} exists on this machine` : false }, async (t) => {
    const own = tempDir(t);
    const r = await runCli(['keys'], { env: cleanEnv({ XDG_CONFIG_HOME: own }) });
    assert.equal(r.code, 78);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `error: no usable key found (looked at: ${HOST_KEY}, ${join(own, 'sops/age/keys.txt')}); pass --config FILE or --ssh-pubkey FILE\n`);
  });

  test('a private key passed as --ssh-pubkey is refused unread; bad lines are warnings naming the line', async (t) => {
    const own = tempDir(t);
    const bad = join(own, 'bad.pub');
    // An age secret key pasted into a .pub file by mistake: named for what it is, never quoted.
    const ageSecret = 'AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ';
    registerSecretValues(ageSecret, ageSecret.slice(0, 30));
    writeFileSync(bad, `${ed.publicLine}\nssh-dss AAAAB3NzaC1kc3M= old\nssh-ed25519 !!!\n${ageSecret}\n`);
    const r = await keysJson(['--ssh-pubkey', ed.file, '--ssh-pubkey', bad]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.keys.map((k) => k.source), [`${bad}:1`]);
    assert.deepEqual(r.warnings, [
      `${ed.file} holds a private key; pass its public key (the .pub file) instead`,
      `${bad}:2: not an ssh-ed25519 or ssh-rsa public key line (an unsupported SSH key type)`,
      `${bad}:3: malformed public key (bad base64)`,
      `${bad}:4: not an ssh-ed25519 or ssh-rsa public key line (it is an age secret key)`,
    ]);
    assert.match(r.stderr, /warning: .* holds a private key/);
  });

  test('unusable configured keys are warnings; with none left the exit code is 78', async (t) => {
    const own = tempDir(t);
    const locked = sshKeygen(own, 'ed25519', { name: 'locked', passphrase: 'a passphrase' });
    registerSshKey({ ...locked, passphrase: true });
    const r = await keysJson(['--config', writeAgeConfig(own, { ageKeyFiles: [join(own, 'missing.txt')], sshKeyPaths: [locked.file] })]);
    assert.equal(r.code, 78);
    assert.deepEqual(r.keys, []);
    assert.equal(r.warnings.length, 2);
    assert.match(r.warnings[0]!, /missing\.txt does not exist/);
    assert.match(r.warnings[1]!, /locked cannot be used: the key is passphrase-protected/);
  });
});
