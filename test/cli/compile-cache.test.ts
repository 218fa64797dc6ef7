// The module compile cache (src/cli/compile-cache.ts): where it lives, that Node really fills it
// (Node ≥ 22.1; Node 20 has none and runs as before), and that an unsafe or unusable place is
// skipped without failing the run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import module from 'node:module';
import { compileCacheDir } from '../../src/cli/compile-cache.js';
import { runCli } from '../helpers/cli.js';

const offered = typeof (module as { enableCompileCache?: unknown }).enableCompileCache === 'function';

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

test(`a run fills the cache where Node offers one (${process.version}: ${offered ? 'yes' : 'no, Node < 22.1'}), and the next run uses it`, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'materialize-cc-'));
  try {
    const cache = join(dir, 'cache');
    const first = await runCli(['--version'], { env: { MATERIALIZE_COMPILE_CACHE: cache } });
    assert.equal(first.code, 0, first.stderr);
    const written = files(cache);
    if (!offered) {
      assert.deepEqual(written, [], 'no cache on a Node without one');
      return;
    }
    assert.ok(written.length > 0, 'Node wrote compiled code for the modules the run loaded');
    // Node's own debug output says the second run read its modules from the cache.
    const second = await runCli(['--version'], { env: { MATERIALIZE_COMPILE_CACHE: cache, NODE_DEBUG_NATIVE: 'COMPILE_CACHE' } });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /V8 code cache for ESM file:\S+\/program-\w+\.js was accepted/);
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
