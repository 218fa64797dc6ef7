// Source files are read asynchronously and only when they are regular files: a FIFO or a device
// named by mistake is refused at once (it used to block the run, and the lock's heartbeat, forever).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProviderError } from '../../src/errors.js';
import { readAhead, readSourceFile } from '../../src/providers/files.js';

function dir(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'materialize-files-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('a FIFO, a device and a directory are refused as configuration errors, without blocking', async (t) => {
  const d = dir(t);
  const fifo = join(d, 'pipe.age');
  execFileSync('mkfifo', [fifo]);
  for (const [path, reason] of [
    [fifo, /is not a regular file/],
    ['/dev/zero', /is not a regular file/],
    [d, /is a directory/],
  ] as const) {
    const result = await readSourceFile('age', path);
    assert.ok(result instanceof ProviderError, path);
    assert.equal(result.kind, 'config');
    assert.match(result.message, reason);
  }
});

test('missing files are not-found; files are read in order with reads ahead', async (t) => {
  const d = dir(t);
  const files = Array.from({ length: 50 }, (_, i) => join(d, `f${i}`));
  files.forEach((f, i) => i !== 7 && writeFileSync(f, `content ${i}`));
  const seen: string[] = [];
  for await (const data of readAhead('age', files, 8)) seen.push(data instanceof ProviderError ? `${data.kind}` : data.toString());
  assert.deepEqual(seen, files.map((_, i) => (i === 7 ? 'not-found' : `content ${i}`)));
});
