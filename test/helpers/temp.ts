// Temporary directories for tests: made under os.tmpdir() with a prefix that says whose they are,
// removed when the test (or the suite) that asked for them ends.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, type TestContext } from 'node:test';

/** A fresh directory removed after the test that asked for it. */
export function tempDir(t: Pick<TestContext, 'after'>, prefix = 'materialize-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A fresh directory removed when the enclosing suite ends (call it in a describe body). */
export function suiteDir(prefix = 'materialize-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
