// A bad command line exits 64 with one clear line (never a stack trace); --help and --version exit 0;
// --json answers in JSON even when a run fails before it has a report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

const usage: [string[], RegExp][] = [
  [['apply'], /^error: no configuration given: pass --config FILE \(or set MATERIALIZE_CONFIG\)$/],
  [['check'], /^error: no configuration given/],
  [['bogus'], /^error: too many arguments for 'apply'/],
  [['apply', '-c', 'x.json', '--units', 'maybe'], /^error: option '--units <mode>' argument 'maybe' is invalid\. Allowed choices are auto, yes, no\.$/],
  [['apply', '-c', 'x.json', '--timeout', 'abc'], /^error: option '--timeout <seconds>' argument 'abc' is invalid\. expected a positive number of seconds\.$/],
  [['apply', '-c', 'x.json', '--lock-timeout', '0'], /argument '0' is invalid/],
  [['apply', '--nope'], /^error: unknown option '--nope'$/],
  [['-c'], /^error: option '-c, --config <file>' argument missing$/],
  [['status', '--secrets-dir'], /^error: option '-d, --secrets-dir <dir>' argument missing$/],
  [['status', 'extra'], /^error: too many arguments for 'status'/],
];

test('usage errors exit 64 with one line', async (t) => {
  for (const [args, message] of usage) {
    await t.test(args.join(' '), async () => {
      const r = await runCli(args);
      assert.equal(r.code, 64, r.stderr);
      assert.match(r.stderr.trimEnd(), message);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
      assert.equal(r.stdout, '');
    });
  }
});

test('--config may come from MATERIALIZE_CONFIG', async () => {
  const r = await runCli(['check'], { env: { MATERIALIZE_CONFIG: '/nonexistent/secrets.json' } });
  assert.equal(r.code, 78);
  assert.match(r.stderr, /\/nonexistent\/secrets\.json: invalid configuration \(1 problem\):\n {2}cannot read the configuration: no such file/);
});

test('--help and --version exit 0', async () => {
  const help = await runCli(['apply', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--dry-run/);
  const version = await runCli(['--version']);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
});

test('apply --json answers in JSON even when it fails before any report', async (t) => {
  const dir = tempDir(t, 'materialize-json-');
  const config = join(dir, 'secrets.json');
  writeFileSync(config, JSON.stringify({ version: 1, secrets: { x: { sources: [], mode: '0999' } } }));
  const r = await runCli(['apply', '--json', '--config', config]);
  assert.equal(r.code, 78);
  const answer = JSON.parse(r.stdout) as { ok: boolean; exitCode: number; error: string; issues: { path: string }[] };
  assert.deepEqual([answer.ok, answer.exitCode, answer.error], [false, 78, 'ConfigError']);
  assert.deepEqual(answer.issues.map((i) => i.path), ['secrets.x.sources']);
});

test('every command that fails before its report answers --json with the same failure shape', async (t) => {
  const dir = tempDir(t, 'materialize-json-');
  const config = join(dir, 'secrets.json');
  writeFileSync(config, JSON.stringify({ version: 1, secrets: { x: { sources: [], mode: '0999' } } }));
  const keys = ['config', 'error', 'exitCode', 'issues', 'message', 'ok', 'warnings'];
  for (const command of ['apply', 'check', 'status', 'keys', 'rollback']) {
    const r = await runCli([command, '--json', '--config', config]);
    assert.equal(r.code, 78, `${command}: ${r.stderr}`);
    const answer = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(answer).sort(), keys, command);
    assert.deepEqual([answer.ok, answer.exitCode, answer.error, answer.config], [false, 78, 'ConfigError', config], command);
    assert.match(r.stderr, /^error: .*invalid configuration/, command);
  }
  // A bad command line too (no configuration involved: no config, no issues).
  const usage = await runCli(['status', '--json', '--nope']);
  assert.equal(usage.code, 64);
  const answer = JSON.parse(usage.stdout) as Record<string, unknown>;
  assert.deepEqual([answer.ok, answer.exitCode, answer.error, answer.message, answer.warnings], [false, 64, 'UsageError', "unknown option '--nope'", []]);
});

test("--json after run's `--` is the command's argument: a failure of run is reported as text, never as JSON", async (t) => {
  const dir = tempDir(t, 'materialize-json-');
  const config = join(dir, 'secrets.json');
  writeFileSync(config, JSON.stringify({ version: 1, secretsDir: join(dir, 's'), mountPoint: join(dir, 'm'), mount: 'none', secrets: {} }));
  for (const args of [['run', '--config', config, '--env', 'X=nosuch', '--', 'echo', '--json'], ['get', 'nosuch', '--config', config]]) {
    const r = await runCli(args);
    assert.equal(r.code, 64, r.stderr);
    assert.equal(r.stdout, '', args.join(' '));
    assert.match(r.stderr, /^error: no secret or template named "nosuch"/);
  }
});

test('reports carry ok and exitCode on every command', async () => {
  const status = JSON.parse((await runCli(['status', '--json', '--secrets-dir', '/nonexistent/secrets'])).stdout) as Record<string, unknown>;
  assert.deepEqual([status.ok, status.exitCode], [false, 1]);
  const keys = JSON.parse((await runCli(['keys', '--json', '--ssh-pubkey', '/nonexistent.pub'])).stdout) as Record<string, unknown>;
  assert.deepEqual([keys.ok, keys.exitCode, keys.keys], [false, 78, []]);
});
