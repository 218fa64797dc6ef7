// Real users and groups for ownership tests, made with useradd/groupadd and removed after the test,
// with unique names so the suite can run twice (or beside another suite) on one machine.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { tempDir } from './temp.js';

let counter = 0;

/** A name no other run of the suite uses: prefix + pid + counter (well under useradd's 32 bytes). */
export function uniqueName(prefix: string): string {
  return `${prefix}${process.pid.toString(36)}x${(counter++).toString(36)}`;
}

// Why retry: useradd/groupadd fail while another process holds /etc/passwd.lock or /etc/group.lock.
/** Runs a user or group tool, retrying for two seconds; `ignoreFailure` for clean-ups. */
function run(cmd: string, args: string[], ignoreFailure = false): void {
  for (let attempt = 0; ; attempt++) {
    try {
      execFileSync(cmd, args, { stdio: 'pipe' });
      return;
    } catch (error) {
      if (attempt >= 20) {
        if (ignoreFailure) return;
        throw error;
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
}

/** The rows of /etc/passwd or /etc/group, split into fields. */
function table(file: string): string[][] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(':'));
}

/** The gid of group `name`, or undefined when there is none. */
export function groupId(name: string): number | undefined {
  const row = table('/etc/group').find((f) => f[0] === name);
  return row ? Number(row[2]) : undefined;
}

export interface TestGroup {
  name: string;
  gid: number;
}

export interface TestUser {
  name: string;
  uid: number;
  /** The user's primary group (its own, made by useradd --user-group). */
  gid: number;
}

/** A real group (groupadd), removed after the test. */
export function createGroup(t: TestContext, name = uniqueName('mg')): TestGroup {
  run('groupadd', [name]);
  t.after(() => run('groupdel', [name], true));
  return { name, gid: groupId(name)! };
}

/** A real user with its own group and no home or login (useradd), both removed after the test. */
export function createUser(t: TestContext, name = uniqueName('mu')): TestUser {
  run('useradd', ['--no-create-home', '--user-group', '--shell', '/usr/sbin/nologin', name]);
  t.after(() => {
    run('userdel', [name], true);
    if (groupId(name) !== undefined) run('groupdel', [name], true);
  });
  const row = table('/etc/passwd').find((f) => f[0] === name)!;
  return { name, uid: Number(row[2]), gid: Number(row[3]) };
}

/**
 * A copy of /etc/group with `lines` added, removed after the test: the /etc/group of a run in a
 * private mount namespace (runCli's `groupFile`). Groups named in `lines` are dropped from the copy
 * first, so the machine's own (say, a `keys` group someone left) cannot show through.
 */
export function privateGroupFile(t: TestContext, lines: string[]): string {
  const dir = tempDir(t, 'materialize-group-');
  const names = new Set(lines.map((l) => l.split(':')[0]));
  const kept = table('/etc/group').filter((f) => !names.has(f[0]!)).map((f) => f.join(':'));
  const file = join(dir, 'group');
  writeFileSync(file, [...kept, ...lines, ''].join('\n'), { mode: 0o644 });
  return file;
}

/** An id that is neither a user nor a group here: what DynamicUser= services and containers use. */
export function unusedId(): number {
  const used = new Set([...table('/etc/passwd').map((f) => Number(f[2])), ...table('/etc/group').map((f) => Number(f[2]))]);
  let id = 61000 + (process.pid % 3000);
  while (used.has(id)) id++;
  return id;
}
