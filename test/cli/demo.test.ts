// The README's promise: the bundled example materializes with no account anywhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, readlinkSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, registerSecretValues, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

test('the bundled example materializes, twice, with a generation switch', async (t) => {
  const dir = tempDir(t, 'materialize-demo-');
  cpSync(join(REPO, 'demo'), join(dir, 'demo'), { recursive: true, filter: (src) => !src.includes('/demo/out') });
  cpSync(join(REPO, 'secrets.json.example'), join(dir, 'secrets.json'));
  for (const k of ['demo/keys/demo.agekey', 'demo/keys/ssh_host_ed25519_key']) chmodSync(join(dir, k), 0o600);
  registerSecretValues('correct horse battery staple', 'not a real key');

  const first = await runCli(['apply', '--config', join(dir, 'secrets.json'), '--json']);
  assert.equal(first.code, 0, first.stderr);
  const report = JSON.parse(first.stdout);
  assert.equal(report.generation, 1);
  assert.deepEqual(report.entries.map((e: { name: string; status: string }) => `${e.name}:${e.status}`).sort(), ['api/token:added', 'app.env:added', 'db/password:added', 'deploy-key:added']);
  const secrets = join(dir, 'demo/out/secrets');
  assert.equal(readFileSync(join(secrets, 'db/password'), 'utf8'), 'correct horse battery staple');
  assert.match(readFileSync(join(secrets, 'app.env'), 'utf8'), /^DB_PASSWORD=correct horse battery staple\nAPI_TOKEN=tok_demo_\w+\n$/);
  assert.match(readFileSync(join(secrets, 'deploy-key'), 'utf8'), /not a real key/);
  assert.equal(readlinkSync(join(dir, 'demo/out/home/.ssh/deploy-key')), join(secrets, 'deploy-key'));

  const second = await runCli(['apply', '--config', join(dir, 'secrets.json'), '--json']);
  assert.equal(second.code, 0, second.stderr);
  const again = JSON.parse(second.stdout);
  assert.equal(again.generation, 2);
  assert.equal(again.previousGeneration, 1);
  assert.ok(again.entries.every((e: { status: string }) => e.status === 'unchanged'));
  assert.equal(readlinkSync(secrets), join(dir, 'demo/out/secrets.d/2'));
});
