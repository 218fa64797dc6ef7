// The caches of compiled code (src/cli/compile-cache.ts, code-cache.ts): where they live, that the
// bundle's code cache is written once and then used, and that an unsafe or unusable place is
// skipped without failing the run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileCacheDir } from '../../src/cli/compile-cache.js';
import { runCli } from '../helpers/cli.js';


/** Every file under dir (the cache is a directory per Node build with a file per module). */
const files = (dir: string): string[] =>
  existsSync(dir) ? readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)])) : [];

test('the cache directory: persistent for root, the XDG cache for users, or what MATERIALIZE_COMPILE_CACHE says', () => {
  assert.equal(compileCacheDir({}, 0), '/var/cache/materialize/compile');
  assert.equal(compileCacheDir({ XDG_CACHE_HOME: '/home/a/.xdg' }, 1000), '/home/a/.xdg/materialize/compile');
  assert.equal(compileCacheDir({ HOME: '/home/a' }, 1000), '/home/a/.cache/materialize/compile');
  assert.equal(compileCacheDir({ HOME: '/home/a', XDG_CACHE_HOME: 'relative' }, 1000), '/home/a/.cache/materialize/compile');
  assert.equal(compileCacheDir({ MATERIALIZE_COMPILE_CACHE: '/srv/c' }, 0), '/srv/c');
  assert.equal(compileCacheDir({ MATERIALIZE_COMPILE_CACHE: 'off' }, 0), undefined);
});

test('the bundle\'s code cache: written after the first run of a command, then used as it is (a cache V8 rejected would be rewritten); a damaged one is replaced; those of other builds are removed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'materialize-cc-'));
  try {
    const cache = join(dir, 'cache');
    const env = { MATERIALIZE_COMPILE_CACHE: cache };
    // What an upgrade leaves behind: the cache of another build, removed when this one writes its own.
    mkdirSync(cache, { recursive: true, mode: 0o700 });
    const old = join(cache, 'materialize-0123456789abcdef-v20.0.0-x64-cli.v8');
    writeFileSync(old, 'a cache of an earlier build');
    const first = await runCli(['--version'], { env });
    assert.equal(first.code, 0, first.stderr);
    const written = files(cache).filter((f) => /\/materialize-[0-9a-f]{16}-v[\d.]+-\w+-cli\.v8$/.test(f));
    assert.equal(written.length, 1, `one cache for --version: ${files(cache).join(', ')}`);
    assert.ok(!existsSync(old), 'the cache of another build was removed');
    const file = written[0]!;
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const made = statSync(file);
    // The next run reads it; V8 accepts it, so it is not written again.
    const second = await runCli(['--version'], { env });
    assert.equal(second.stdout, first.stdout);
    const kept = statSync(file);
    assert.deepEqual([kept.ino, kept.mtimeMs], [made.ino, made.mtimeMs], 'the cache was rewritten: V8 rejected it');
    // Another command has a cache of its own (what it compiles is not what --version does).
    assert.equal((await runCli(['status', '--secrets-dir', join(dir, 'none')], { env })).code, 1);
    assert.equal(files(cache).filter((f) => /-status\.v8$/.test(f)).length, 1);
    // Damaged (what V8 cannot use): the run works all the same, and the cache is made again.
    writeFileSync(file, Buffer.alloc(made.size, 0x5a));
    const damaged = await runCli(['--version'], { env });
    assert.equal(damaged.code, 0, damaged.stderr);
    assert.equal(damaged.stdout, first.stdout);
    assert.notDeepEqual(readFileSync(file), Buffer.alloc(made.size, 0x5a), 'the damaged cache was replaced');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a cache directory others can write to, or none that can be made, is skipped and the run works', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'materialize-cc-'));
  try {
    const open = join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const r = await runCli(['--version'], { env: { MATERIALIZE_COMPILE_CACHE: open } });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(files(open), [], 'a world-writable cache is never used');
    writeFileSync(join(dir, 'file'), '');
    const blocked = await runCli(['--version'], { env: { MATERIALIZE_COMPILE_CACHE: join(dir, 'file', 'cache') } });
    assert.equal(blocked.code, 0, blocked.stderr);
    assert.match(blocked.stdout, /^\d+\.\d+\.\d+/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
