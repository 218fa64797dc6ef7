// `materialize run` through the CLI: the command sees each variable and file; while it runs no
// process's /proc/*/cmdline holds a value; the private files (0600, in a 0700 directory of
// $XDG_RUNTIME_DIR) are gone after a normal exit, after the command is SIGKILLed and after
// `materialize run` itself gets SIGTERM (forwarded); the command's exit code and its death by a
// signal propagate; the command keeps its caller's umask.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT_SKIP, runCli, type CliResult } from '../helpers/cli.js';
import { ageSource, encrypt, makeWorld, writeConfig, type World } from '../helpers/fixtures.js';
import { createUser } from '../helpers/users.js';

const TOKEN = 'run-env-token-value-0001';
const KEY = 'run-file-key-value-0002\n-----END-----\n';

function setup(t: Parameters<typeof makeWorld>[0]) {
  const world = makeWorld(t);
  writeConfig(world, { secrets: { 'api/token': ageSource(encrypt(world, 'token.age', TOKEN)), 'ssh/key': ageSource(encrypt(world, 'key.age', KEY)) } });
  const runtime = join(world.dir, 'runtime');
  mkdirSync(runtime, { mode: 0o700 });
  const out = join(world.dir, 'out');
  mkdirSync(out, { mode: 0o777 });
  chmodSync(out, 0o777);
  return { world, runtime, out };
}

/** Starts `materialize run` with a shell script as the command (the script holds names, never values). */
function run(world: World, script: string, options: { env?: Record<string, string>; args?: string[]; uid?: number; gid?: number } = {}): Promise<CliResult> {
  const args = options.args ?? ['--env', 'TOKEN=api/token', '--file', 'KEYFILE=ssh/key'];
  return runCli(['run', '--config', world.configFile, ...args, '--', 'sh', '-c', script, 'sh', 'an argument', '--help'], { env: options.env, uid: options.uid, gid: options.gid, timeoutMs: 60_000 });
}

async function waitFor(path: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!existsSync(path)) {
    if (Date.now() > end) throw new Error(`${path} did not appear`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every process's command line right now, as bytes. */
function allCommandLines(): Buffer[] {
  const lines: Buffer[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      lines.push(readFileSync(`/proc/${pid}/cmdline`));
    } catch {
      // gone meanwhile
    }
  }
  return lines;
}

test('run: the command sees the variable and the file; no argv anywhere holds a value; exit code passed on; files removed', async (t) => {
  const { world, runtime, out } = setup(t);
  const script = `printf %s "$TOKEN" > ${out}/env; cat "$KEYFILE" > ${out}/file; echo "$KEYFILE" > ${out}/path; stat -c %a "$KEYFILE" > ${out}/mode; stat -c %a "$(dirname "$KEYFILE")" > ${out}/dirmode; umask > ${out}/umask; printf '%s|' "$@" > ${out}/args; touch ${out}/ready; while [ ! -e ${out}/go ]; do sleep 0.05; done; exit 7`;
  const running = run(world, script, { env: { XDG_RUNTIME_DIR: runtime } });
  await waitFor(join(out, 'ready'));
  const lines = allCommandLines();
  assert.ok(lines.length > 3);
  for (const value of [TOKEN, KEY, 'run-file-key-value-0002']) assert.ok(!lines.some((l) => l.includes(value)), 'a value is in some process\'s argv');
  const path = readFileSync(join(out, 'path'), 'utf8').trim();
  assert.ok(existsSync(path), 'the file exists while the command runs');
  writeFileSync(join(out, 'go'), '');
  const r = await running;
  assert.equal(r.code, 7, r.stderr);
  assert.equal(readFileSync(join(out, 'env'), 'utf8'), TOKEN);
  assert.equal(readFileSync(join(out, 'file'), 'utf8'), KEY, 'the exact bytes, trailing newline included');
  assert.equal(readFileSync(join(out, 'mode'), 'utf8').trim(), '600');
  assert.equal(readFileSync(join(out, 'dirmode'), 'utf8').trim(), '700');
  assert.match(path, new RegExp(`^${runtime}/materialize-run-\\d+-\\w+/KEYFILE$`));
  assert.equal(readFileSync(join(out, 'args'), 'utf8'), 'an argument|--help|', 'arguments after the command pass through untouched');
  assert.equal(readFileSync(join(out, 'umask'), 'utf8').trim(), `0${process.umask().toString(8).padStart(3, '0')}`, "the caller's umask, not 077");
  assert.ok(!existsSync(path), 'the file is gone');
  assert.deepEqual(readdirSync(runtime), [], 'the private directory is gone');
});

test('run: the files are removed when the command is SIGKILLed, and materialize dies of the same signal', async (t) => {
  const { world, runtime, out } = setup(t);
  const r = await run(world, `echo "$KEYFILE" > ${out}/path; kill -KILL $$`, { env: { XDG_RUNTIME_DIR: runtime } });
  assert.equal(r.signal, 'SIGKILL', `${r.code} ${r.stderr}`);
  assert.ok(!existsSync(readFileSync(join(out, 'path'), 'utf8').trim()));
  assert.deepEqual(readdirSync(runtime), []);
  const term = await run(world, 'kill -TERM $$', { env: { XDG_RUNTIME_DIR: runtime } });
  assert.equal(term.signal, 'SIGTERM');
  const code = await run(world, 'exit 42', { env: { XDG_RUNTIME_DIR: runtime } });
  assert.equal(code.code, 42);
});

test('run: SIGTERM, SIGINT and SIGHUP sent to materialize reach the command; the files go either way', async (t) => {
  const { world, runtime, out } = setup(t);
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    await t.test(`${signal}, the command handles it`, async () => {
      const name = signal.slice(3).toLowerCase();
      const script = `trap 'echo caught > ${out}/${name}; exit 3' ${signal.slice(3)}; echo "$KEYFILE" > ${out}/path-${name}; echo $PPID > ${out}/ppid-${name}; while :; do sleep 0.05; done`;
      const running = run(world, script, { env: { XDG_RUNTIME_DIR: runtime } });
      await waitFor(join(out, `ppid-${name}`));
      const materialize = Number(readFileSync(join(out, `ppid-${name}`), 'utf8'));
      assert.match(readFileSync(`/proc/${materialize}/cmdline`, 'utf8'), /cli\.js\0run\0/, 'the command\'s parent is materialize run');
      process.kill(materialize, signal);
      const r = await running;
      assert.equal(r.code, 3, r.stderr);
      assert.equal(readFileSync(join(out, name), 'utf8'), 'caught\n');
      assert.ok(!existsSync(readFileSync(join(out, `path-${name}`), 'utf8').trim()));
    });
  }
  await t.test('SIGTERM, the command dies of it: so does materialize', async () => {
    const script = `echo "$KEYFILE" > ${out}/path-die; echo $PPID > ${out}/ppid-die; exec sleep 30`;
    const running = run(world, script, { env: { XDG_RUNTIME_DIR: runtime } });
    await waitFor(join(out, 'ppid-die'));
    process.kill(Number(readFileSync(join(out, 'ppid-die'), 'utf8')), 'SIGTERM');
    const r = await running;
    assert.equal(r.signal, 'SIGTERM');
    assert.ok(!existsSync(readFileSync(join(out, 'path-die'), 'utf8').trim()));
  });
  assert.deepEqual(readdirSync(runtime), []);
});

test('run: without a usable runtime directory the files go to /dev/shm; a directory left by a killed run is swept', async (t) => {
  const { world, runtime, out } = setup(t);
  const r = await run(world, `echo "$KEYFILE" > ${out}/path`, { env: { XDG_RUNTIME_DIR: '' } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(readFileSync(join(out, 'path'), 'utf8'), /^\/dev\/shm\/materialize-run-\d+-\w+\/KEYFILE\n$/);
  // A run killed outright (SIGKILL) could not clean up; the next one removes what it left.
  const dead = spawnSync('true').pid!;
  const left = join(runtime, `materialize-run-${dead}-abcdef`);
  mkdirSync(left, { mode: 0o700 });
  writeFileSync(join(left, 'KEYFILE'), 'left-behind');
  const again = await run(world, 'true', { env: { XDG_RUNTIME_DIR: runtime } });
  assert.equal(again.code, 0, again.stderr);
  assert.ok(!existsSync(left));
});

test('run, as an ordinary user: files of its own in its runtime directory', { skip: ROOT_SKIP }, async (t) => {
  const { world, out } = setup(t);
  const user = createUser(t);
  // The user may read the secrets live (owner); the runtime directory is the user's.
  writeConfig(world, { secrets: { 'api/token': { ...ageSource(join(world.dir, 'src/token.age')), owner: user.name }, 'ssh/key': { ...ageSource(join(world.dir, 'src/key.age')), owner: user.name } } });
  assert.equal((await runCli(['apply', '--config', world.configFile])).code, 0);
  chmodSync(world.dir, 0o755);
  chmodSync(world.configFile, 0o644);
  const runtime = join(world.dir, 'user-runtime');
  mkdirSync(runtime, { mode: 0o700 });
  chownSync(runtime, user.uid, user.gid);
  const r = await run(world, `stat -c '%u %a' "$KEYFILE" > ${out}/owner; printf %s "$TOKEN" > ${out}/env`, { env: { XDG_RUNTIME_DIR: runtime }, uid: user.uid, gid: user.gid });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(join(out, 'owner'), 'utf8'), `${user.uid} 600\n`);
  assert.equal(readFileSync(join(out, 'env'), 'utf8'), TOKEN);
  assert.deepEqual(readdirSync(runtime), []);
  assert.equal(statSync(runtime).uid, user.uid);
});

test('run: usage errors, a value an environment cannot hold, a command not found', async (t) => {
  const { world, runtime } = setup(t);
  const binary = encrypt(world, 'bin.age', Buffer.from([0x61, 0, 0x62, 0x63, 0x64]));
  writeConfig(world, { secrets: { bin: ageSource(binary), 'api/token': ageSource(join(world.dir, 'src/token.age')) } });
  const env = { XDG_RUNTIME_DIR: runtime };
  const nul = await run(world, 'true', { env, args: ['--env', 'B=bin'] });
  assert.equal(nul.code, 64);
  assert.match(nul.stderr, /"bin" is not text an environment variable can hold \(a NUL byte, or not UTF-8\): pass it as a file, --file B=bin/);
  const asFile = await run(world, 'true', { env, args: ['--file', 'B=bin'] });
  assert.equal(asFile.code, 0, asFile.stderr);
  for (const [args, message] of [
    [['--env', 'TOKEN'], /--env "TOKEN": expected VAR=NAME/],
    [['--env', '1X=api/token'], /expected VAR=NAME/],
    [['--env', 'X=api/token', '--file', 'X=api/token'], /X is set twice/],
    [['--env', 'X=api/tokn'], /no secret or template named "api\/tokn" .*did you mean "api\/token"/],
  ] as const) {
    const r = await run(world, 'true', { env, args: [...args] });
    assert.equal(r.code, 64, r.stderr);
    assert.match(r.stderr, message);
  }
  const missing = await runCli(['run', '--config', world.configFile, '--env', 'T=api/token', '--', 'no-such-command-here'], { env });
  assert.equal(missing.code, 127);
  assert.match(missing.stderr, /no-such-command-here: command not found/);
  assert.deepEqual(readdirSync(runtime), []);
  execFileSync('true');
});

const SCRIPT_SKIP = spawnSync('sh', ['-c', 'command -v script']).status === 0 ? false : 'needs script(1) (util-linux/bsdutils) to give the run a terminal';

test('run: Ctrl-C at a terminal reaches the command once (the terminal signals the whole foreground group)', { skip: SCRIPT_SKIP }, async (t) => {
  const { world, runtime, out } = setup(t);
  // A node command counts every SIGINT it receives (a shell would merge two that arrive close
  // together); after the first it waits 1 s for a second one, then exits 5.
  const child = join(out, 'child.cjs');
  writeFileSync(child, `const fs = require('fs');\nprocess.on('SIGINT', () => { fs.appendFileSync('${out}/count', 'INT\\n'); setTimeout(() => process.exit(5), 1000); });\nfs.writeFileSync('${out}/ready', '');\nsetTimeout(() => process.exit(6), 20000);\n`);
  const cli = join(process.cwd(), process.env.MATERIALIZE_DIST ?? 'dist-test', 'cli.js');
  const { spawn } = await import('node:child_process');
  // script(1) runs the command on a new pseudo-terminal; a 0x03 written to it is Ctrl-C. It starts
  // the command through $SHELL (sh when unset): `exec` makes materialize the terminal's foreground
  // process, as a shell with job control would, whatever that shell is (dash would otherwise stay
  // between them and die of the Ctrl-C itself).
  const term = spawn('script', ['-qfec', `exec "${process.execPath}" "${cli}" run --config "${world.configFile}" --env A=api/token -- "${process.execPath}" "${child}"`, '/dev/null'], { env: { ...process.env, XDG_RUNTIME_DIR: runtime }, stdio: ['pipe', 'pipe', 'pipe'] });
  term.stdout.resume();
  term.stderr.resume();
  await waitFor(join(out, 'ready'));
  const closed = new Promise<number | null>((resolve) => term.on('close', (c) => resolve(c)));
  term.stdin.write('\x03');
  // A terminal that never closes is a failure with a reason, not a suite that hangs.
  const guard = setTimeout(() => term.kill('SIGKILL'), 90_000);
  const code = await closed;
  clearTimeout(guard);
  term.stdin.end();
  assert.equal(code, 5, 'the command handled Ctrl-C and went on; materialize did not die of it');
  assert.equal(readFileSync(join(out, 'count'), 'utf8'), 'INT\n', 'delivered once, not once by the terminal and again by materialize');
});
