// Source files are read only when they are regular files: a FIFO or a device
// named by mistake is refused at once (it used to block the run, and the lock's heartbeat, forever).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProviderError } from '../../src/errors.js';
import { readSourceFile } from '../../src/providers/files.js';
import { tempDir } from '../helpers/temp.js';

test('a FIFO, a device and a directory are refused as configuration errors, without blocking', (t) => {
  const d = tempDir(t, 'materialize-files-');
  const fifo = join(d, 'pipe.age');
  execFileSync('mkfifo', [fifo]);
  for (const [path, reason] of [
    [fifo, /is not a regular file/],
    ['/dev/zero', /is not a regular file/],
    [d, /is a directory/],
  ] as const) {
    const result = readSourceFile('age', path);
    assert.ok(result instanceof ProviderError, path);
    assert.equal(result.kind, 'config');
    assert.match(result.message, reason);
  }
});

test('a regular file is read whole; a missing one is not-found', (t) => {
  const d = tempDir(t, 'materialize-files-');
  writeFileSync(join(d, 'present'), 'content of the file');
  assert.equal(String(readSourceFile('age', join(d, 'present'))), 'content of the file');
  const missing = readSourceFile('age', join(d, 'missing'));
  assert.ok(missing instanceof ProviderError && missing.kind === 'not-found');
});
