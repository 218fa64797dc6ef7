// The program's stdout/stderr text: written by write(2), the rest through the stream once that fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { textOut } from '../src/stdio.js';

test('text goes to the descriptor as it is, in order', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'materialize-stdio-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const fd = openSync(join(dir, 'out'), 'w');
  const out = textOut(fd, () => assert.fail('the stream is not needed'));
  out.write('line one\n');
  out.write('ünïcödé ✓\n');
  closeSync(fd);
  assert.equal(readFileSync(join(dir, 'out'), 'utf8'), 'line one\nünïcödé ✓\n');
});

test('a write that fails hands that text and all after it to the stream', () => {
  const fd = openSync('/dev/null', 'w');
  closeSync(fd); // EBADF from now on
  const seen: string[] = [];
  const out = textOut(fd, () => ({ write: (chunk: string | Uint8Array) => seen.push(Buffer.from(chunk).toString('utf8')) }));
  out.write('first\n');
  out.write('second\n');
  assert.deepEqual(seen, ['first\n', 'second\n']);
});
