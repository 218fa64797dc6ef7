// No output ever contains a secret value. runCli scans every run of the suite against every
// plaintext registered; this test drives every command and flag, succeeding and failing, over
// secrets with distinctive values — including --config pointed at a secret file by mistake.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { needs, AGE_SKIP } from '../helpers/tools.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertNoSecretValues, registerSecretValues, runCli } from '../helpers/cli.js';
import { ageSource, encrypt, makeWorld, writeConfig } from '../helpers/fixtures.js';
import { fakeSystemctl } from '../helpers/systemctl.js';

test('the output scan catches a value, wherever it is in the text', () => {
  registerSecretValues('scan-probe-7c1e9a');
  assert.throws(() => assertNoSecretValues('ok\nbefore scan-probe-7c1e9a after', 'probe'), /output contains a secret value/);
  assert.doesNotThrow(() => assertNoSecretValues('scan-probe-7c1e9 (one short)', 'probe'));
});

test('the scan works on raw bytes: binary values, and short values where a leak would stand', () => {
  // Bytes that are not UTF-8: a UTF-8 decoding of the output would have turned them into U+FFFD.
  const binary = Buffer.from([0xff, 0xfe, 0x00, 0x41, 0x80]);
  registerSecretValues(binary);
  assert.throws(() => assertNoSecretValues(Buffer.concat([Buffer.from('x '), binary, Buffer.from(' y')]), 'probe'), /5 bytes/);
  assert.doesNotThrow(() => assertNoSecretValues(Buffer.from('x \ufffd\ufffd\u0000A\ufffd y'), 'probe'));
  // A 2-byte value with a byte no UTF-8 text holds: found anywhere.
  registerSecretValues(Buffer.from([0xf8, 0x01]));
  assert.throws(() => assertNoSecretValues(Buffer.from([0x61, 0xf8, 0x01, 0x62]), 'probe'), /2 bytes/);
  // Short printable values: found where a printed value stands whole, not inside words or numbers.
  registerSecretValues('q7', 'Zq');
  for (const leak of ['q7\n', 'A=q7\n', 'key: q7', '{"value": "q7"}', 'ok\nZq\n']) assert.throws(() => assertNoSecretValues(leak, 'probe'), /output contains/, leak);
  for (const fine of ['q71 B', 'the Zqx zone', 'mode 0400, size 17']) assert.doesNotThrow(() => assertNoSecretValues(fine, 'probe'), fine);
});

test('no command, flag or failure prints a secret value', { skip: needs(AGE_SKIP) }, async (t) => {
  const world = makeWorld(t);
  const systemctl = fakeSystemctl(world.dir);
  const values = {
    db: 'Zq8#value-of-db-password-5b1f',
    multi: '-----BEGIN FAKE KEY-----\nMIIvalue-of-the-multiline-key-77\n-----END FAKE KEY-----\n',
    json: '{"version": "value-inside-json-secret-3e", "mount": "value-inside-json-secret-3f"}',
    api: 'tok_value_of_api_token_9d2c',
  };
  const files = Object.fromEntries(Object.entries(values).map(([name, value]) => [name, encrypt(world, `${name}.age`, value)]));
  const config = (policy: string) =>
    writeConfig(world, {
      failurePolicy: policy,
      secrets: Object.fromEntries(Object.keys(values).map((name) => [name, { ...ageSource(files[name]!), restartUnits: [`${name}.service`], path: join(world.dir, 'links', name) }])),
      templates: { 'app.env': { content: 'DB={{db}}\nAPI={{ api }}\n', reloadUnits: ['app.service'] } },
    });
  registerSecretValues(`DB=${values.db}\nAPI=${values.api}\n`, 'value-inside-json-secret-3e', 'value-inside-json-secret-3f', 'MIIvalue-of-the-multiline-key-77');
  const run = async (args: string[], codes: number[]) => {
    const r = await runCli(args, { env: systemctl.env }); // scanned inside runCli
    assert.ok(codes.includes(r.code!), `materialize ${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
    return r;
  };
  const c = ['--config', world.configFile];

  config('keep-previous');
  for (const flags of [[], ['--json'], ['-v', '-q'], ['--json', '-v']]) {
    await run(['check', ...c, ...flags], [0]);
    await run(['apply', ...c, '--dry-run', ...flags], [0]);
    await run(['apply', ...c, '--units', 'yes', ...flags], [0]);
    await run(['status', ...c, ...flags], [0]);
  }
  assert.equal(readFileSync(join(world.secretsDir, 'multi'), 'utf8'), values.multi, 'the values really are on disk');

  // Changed values restart units; failing values go stale; then the abort policy.
  const changed = 'value-of-db-password-changed-41';
  encrypt(world, 'db.age', changed);
  writeFileSync(files.api!, 'garbage, not age');
  for (const flags of [[], ['--json'], ['-v']]) {
    await run(['apply', ...c, '--dry-run', ...flags], [65]);
    await run(['apply', ...c, '--units', 'yes', ...flags], [65]);
    await run(['status', ...c, ...flags], [0]);
  }
  config('abort');
  for (const flags of [[], ['--json'], ['-v']]) await run(['apply', ...c, ...flags], [65]);

  // --config pointed at secret files (the live plaintext), and at a broken config.
  for (const name of ['multi', 'json']) {
    for (const cmd of [['check'], ['apply', '--dry-run'], ['status'], ['check', '--json']]) await run([...cmd, '--config', join(world.secretsDir, name)], [78]);
  }
  writeFileSync(join(world.dir, 'broken.json'), '{"version": 1, "secrets": {"x": {"sources": [{"age": {"file": 7}}]}}');
  for (const flags of [[], ['--json'], ['-v']]) await run(['apply', '--config', join(world.dir, 'broken.json'), ...flags], [78]);
  assert.ok(systemctl.take().length > 0, 'the unit path ran too');
});
