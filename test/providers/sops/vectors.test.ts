// Every file written by the real sops (test/fixtures/sops, see its README) decrypts to its stated
// plaintext (notes: sops-format.md §7), through every identity route it supports: age key file, SSH
// ed25519 host key (converted to X25519), a copied gnupg home, and the RSA SSH key's PGP form; and
// data keys wrapped to SSH public keys by the real age CLI (native ssh-ed25519 / ssh-rsa stanzas).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { needs, AGE_SKIP, GPG_SKIP } from '../../helpers/tools.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as yaml from 'yaml';
import { registerSecretValues } from '../../helpers/cli.js';
import { copyGnupgHome, importedGnupgHome, keyFile, SOPS_AGE, SOPS_NIX, tempDir } from './helpers/keys.js';
import { fetchSops, fetchText, type FetchOptions } from './helpers/run.js';
import { ageWrap, enc as encrypted, map, newDataKey, writeSops } from './helpers/writer.js';

const NIX_PLAIN = ['test_value', 'another value', 'binary_value\n', 'Welcome to SOPS! Edit this file as you please!', 'example_value', 'foo\nbar\nbaz', 'give you up', 'This is an example file.'];
const AGE_PLAIN = JSON.parse(readFileSync(join(SOPS_AGE, 'secret.json'), 'utf8')) as Record<string, unknown>;
registerSecretValues(...NIX_PLAIN, 'this is a secret', 'gotta match go');

const yamlFile = join(SOPS_NIX, 'secrets.yaml');
const YAML_WHOLE = 'test_key: test_value\na_list:\n    - e1\n    - e3\nnested:\n    test:\n        file: another value\n';

/** Decrypts secrets.yaml's four values with one set of keys; returns which key opened it. */
async function checkSecretsYaml(keys: FetchOptions['keys']) {
  const opened: string[] = [];
  const outcomes = await fetchSops(
    ['test_key', 'a_list/0', 'a_list/1', 'nested/test/file', ''].map((key) => ({ file: yamlFile, key })),
    { keys, lib: { onUnwrap: (k) => opened.push(k) } },
  );
  assert.deepEqual(
    outcomes.map((o) => ('ok' in o ? o.ok.toString() : `error: ${o.error.message}`)),
    ['test_value', 'e1', 'e3', 'another value', YAML_WHOLE],
  );
  return opened;
}

test('secrets.yaml (sops 3.7.1) through its age key file', async (t) => {
  const dir = tempDir(t);
  assert.deepEqual(await checkSecretsYaml({ ageKeyFiles: [keyFile(dir, join(SOPS_NIX, 'age-keys.txt'))] }), ['age age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw']);
});

test('secrets.yaml through the SSH ed25519 host key, converted to X25519 as sops-nix does', async (t) => {
  const dir = tempDir(t);
  assert.deepEqual(await checkSecretsYaml({ sshKeyPaths: [keyFile(dir, join(SOPS_NIX, 'ssh-ed25519-key'))] }), ['age age1a8pk4akrdamj7nvqy3zywgtny8dxz7t5xzu7u8v9mhrayp9freqsqatyrs']);
});

test('secrets.yaml through a gnupg home (PGP 7FB89715…), with no age key configured', { skip: needs(GPG_SKIP) }, async (t) => {
  const dir = tempDir(t);
  assert.deepEqual(await checkSecretsYaml({ gnupgHome: copyGnupgHome(t, dir) }), ['pgp 7FB89715AADA920D65D25E63F9BA9DEBD03F57C0']);
});

test('secrets.yaml through the RSA SSH key in its PGP form (ssh-key.asc, PGP 2504…)', { skip: needs(GPG_SKIP) }, async (t) => {
  const dir = tempDir(t);
  const home = importedGnupgHome(t, dir, 'rsa-home', join(SOPS_NIX, 'ssh-key.asc'));
  assert.deepEqual(await checkSecretsYaml({ gnupgHome: home }), ['pgp 2504791468B153B8A3963CC97BA53D1919C5DFD4']);
});

test('the PGP-only vectors (json, binary, dotenv, ini in both metadata forms) through gnupg', { skip: needs(GPG_SKIP) }, async (t) => {
  const dir = tempDir(t);
  const keys = { gnupgHome: copyGnupgHome(t, dir) };
  const f = (name: string, key?: string, format?: 'binary') => ({ file: join(SOPS_NIX, name), ...(key !== undefined ? { key } : {}), ...(format ? { format } : {}) });
  const outcomes = await fetchSops(
    [
      f('secrets.json', 'test_key'),
      f('secrets.json'),
      f('secrets.bin'),
      f('secrets.env', 'hello'),
      f('secrets.env', 'example_key'),
      f('secrets.env', 'example_multiline'),
      f('secrets.env', 'never_gonna'),
      f('secrets.env'),
      f('secrets.ini', 'Welcome!/hello'),
      f('secrets.ini', 'Welcome!/example_key'),
      f('secrets.ini', 'Welcome!/never_gonna'),
      f('secrets.ini'),
      f('secrets-3.13.0.ini', 'Welcome!/never_gonna'),
    ],
    { keys },
  );
  const texts = outcomes.map((o) => ('ok' in o ? o.ok.toString() : `error: ${o.error.message}`));
  assert.deepEqual(texts, [
    'test_value',
    '{\n\t"test_key": "test_value"\n}\n',
    'binary_value\n',
    'Welcome to SOPS! Edit this file as you please!',
    'example_value',
    'foo\nbar\nbaz',
    'give you up',
    '# This is an example file.\nhello=Welcome to SOPS! Edit this file as you please!\nexample_key=example_value\nexample_multiline=foo\\nbar\\nbaz\nnever_gonna=give you up\n',
    'Welcome to SOPS! Edit this file as you please!',
    'example_value',
    'give you up',
    '; This is an example file.\n[Welcome!]\nhello       = Welcome to SOPS! Edit this file as you please!\nexample_key = example_value\nnever_gonna = give you up\n',
    'give you up',
  ]);
  assert.equal(Buffer.byteLength(texts[2]!), 13);
});

test('secrets.env opens with the second PGP key of its group too (ssh-key.asc)', { skip: needs(GPG_SKIP) }, async (t) => {
  const dir = tempDir(t);
  const opened: string[] = [];
  const value = await fetchText({ file: join(SOPS_NIX, 'secrets.env'), key: 'never_gonna' }, { keys: { gnupgHome: importedGnupgHome(t, dir, 'rsa', join(SOPS_NIX, 'ssh-key.asc')) }, lib: { onUnwrap: (k) => opened.push(k) } });
  assert.equal(value, 'give you up');
  assert.deepEqual(opened, ['pgp 2504791468B153B8A3963CC97BA53D1919C5DFD4']);
});

test('sops-age vectors: YAML and JSON match secret.json, every leaf and the whole file', async (t) => {
  const dir = tempDir(t);
  const keys = { ageKeyFiles: [keyFile(dir, join(SOPS_AGE, 'key.txt'))] };
  const json = join(SOPS_AGE, 'secret.enc.json');
  const yml = join(SOPS_AGE, 'secret.enc.yaml');
  // Leaves of the stated plaintext, with their natural text (7, 3.14, true: not failures, sops-nix #848).
  const leaves: [string, string][] = [
    ['secret', 'this is a secret'],
    ['string', 'string'],
    ['int', '7'],
    ['float', '3.14'],
    ['boolean', 'true'],
    ['complex/value', 'this is a secret'],
    ['complex/array/0', 'one'],
    ['complex/array/1', 'two'],
    ['complex/array/2', 'three'],
  ];
  for (const [key, expected] of leaves) {
    assert.equal(await fetchText({ file: json, key }, { keys }), expected, `json ${key}`);
    assert.equal(await fetchText({ file: yml, key }, { keys }), expected, `yaml ${key}`);
  }
  assert.equal(await fetchText({ file: json, key: '0word' }, { keys }), 'gotta match go');
  const wholeJson = await fetchText({ file: json }, { keys });
  assert.deepEqual(JSON.parse(wholeJson), AGE_PLAIN);
  // Document order kept: JSON.parse would have moved the integer-like "0word" first.
  assert.ok(wholeJson.indexOf('"boolean"') < wholeJson.indexOf('"0word"') && wholeJson.indexOf('"0word"') < wholeJson.indexOf('"complex"'));
  const { '0word': _, ...withoutWord } = AGE_PLAIN;
  assert.deepEqual(yaml.parse(await fetchText({ file: yml }, { keys })), withoutWord);
  assert.equal(await fetchText({ file: yml, key: 'complex/array' }, { keys }), '- one\n- two\n- three\n');
  assert.deepEqual(JSON.parse(await fetchText({ file: json, key: 'complex' }, { keys })), AGE_PLAIN.complex);
});

test('sops-age dotenv vector: each variable and the whole file', async (t) => {
  const dir = tempDir(t);
  const keys = { ageKeyFiles: [keyFile(dir, join(SOPS_AGE, 'key.txt'))] };
  const file = join(SOPS_AGE, 'secret.enc.env');
  assert.equal(await fetchText({ file, key: 'secret' }, { keys }), 'this is a secret');
  assert.equal(await fetchText({ file, key: 'another_secret' }, { keys }), '7');
  assert.equal(await fetchText({ file }, { keys }), 'secret=this is a secret\nanother_secret=7\n');
});

test('a key that opens nothing: every key of the group is named with its reason, never a value', { skip: needs(GPG_SKIP) }, async (t) => {
  const dir = tempDir(t);
  // The sops-age key only, and a gnupg home holding 2504… (the RSA SSH key's PGP form).
  const keys = { ageKeyFiles: [keyFile(dir, join(SOPS_AGE, 'key.txt'))], gnupgHome: importedGnupgHome(t, dir, 'other', join(SOPS_NIX, 'ssh-key.asc')) };
  const opened: string[] = [];
  const [yamlOutcome, jsonOutcome] = await fetchSops([{ file: yamlFile, key: 'test_key' }, { file: join(SOPS_NIX, 'secrets.json'), key: 'test_key' }], { keys, lib: { onUnwrap: (k) => opened.push(k) } });
  // secrets.yaml: neither age recipient matches, its first PGP key is not in the home, the second is.
  assert.deepEqual(yamlOutcome, { ok: Buffer.from('test_value') });
  assert.deepEqual(opened, ['pgp 2504791468B153B8A3963CC97BA53D1919C5DFD4']);
  // secrets.json is for 7FB8… only.
  assert.ok('error' in jsonOutcome!);
  assert.equal(jsonOutcome.error.kind, 'unauthorized');
  assert.match(jsonOutcome.error.message, /secrets\.json: cannot recover the data key: no key opens it \(pgp 7FB89715AADA920D65D25E63F9BA9DEBD03F57C0: gpg failed \(decryption failed: No secret key\)\)/);
});

test('without any configured key the message says which settings are missing', async () => {
  const [outcome] = await fetchSops([{ file: yamlFile, key: 'test_key' }]);
  assert.ok('error' in outcome!);
  assert.equal(outcome.error.kind, 'unauthorized');
  assert.match(outcome.error.message, /age age1yt3t\S+: no age identity configured \(keys\.ageKeyFiles, keys\.sshKeyPaths\)/);
  assert.match(outcome.error.message, /pgp 7FB89715AADA920D65D25E63F9BA9DEBD03F57C0: keys\.gnupgHome is not set/);
});

test('native SSH stanzas (age -r with SSH public keys, as sops >= 3.10 writes them): ed25519 and RSA', { skip: needs(AGE_SKIP) }, async (t) => {
  const dir = tempDir(t);
  for (const [pub, priv] of [['ssh-ed25519-key.pub', 'ssh-ed25519-key'], ['ssh-key.pub', 'ssh-key']] as const) {
    const recipient = readFileSync(join(SOPS_NIX, pub), 'utf8').trim().split(' ').slice(0, 2).join(' ');
    const dataKey = newDataKey();
    const enc = ageWrap(dataKey, recipient);
    assert.match(enc, /BEGIN AGE ENCRYPTED FILE/);
    const file = join(dir, `${priv}.yaml`);
    writeFileSync(file, writeSops('yaml', [map(['test_key', encrypted('test_value')])], { dataKey, groups: [{ age: [{ recipient, enc }] }] }));
    const opened: string[] = [];
    const value = await fetchText({ file, key: 'test_key' }, { keys: { sshKeyPaths: [keyFile(dir, join(SOPS_NIX, priv))] }, lib: { onUnwrap: (k) => opened.push(k) } });
    assert.equal(value, 'test_value', priv);
    const shown = recipient.length > 100 ? `${recipient.slice(0, 40)}…${recipient.slice(-12)}` : recipient;
    assert.deepEqual(opened, [`age ${shown}`], priv);
  }
});
