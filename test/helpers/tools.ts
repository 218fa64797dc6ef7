// The outside tools the suite drives, and what a test does when one is missing: it skips, saying
// which tool and how to install it (README, "Tests and what they skip"). CI installs them all.
import { spawnSync } from 'node:child_process';
import { test, type TestOptions } from 'node:test';

/** True when `name` is on PATH. */
export function have(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/** Skip reasons (false = available). */
export const AGE_SKIP = have('age') && have('age-keygen') ? false : 'needs the age CLI (Debian: apt-get install age)';
export const GPG_SKIP = have('gpg') && have('gpgconf') ? false : 'needs gpg (Debian: apt-get install gnupg)';
export const SSH_SKIP = have('ssh-keygen') ? false : 'needs ssh-keygen (Debian: apt-get install openssh-client)';
/** `age -p` reads the passphrase from a terminal only; `script` provides one. */
export const SCRYPT_SKIP = AGE_SKIP || (have('script') ? false : 'needs script(1) to give age -p a terminal (Debian: bsdutils)');

type Skip = string | false;

/**
 * node:test's `test`, skipped with the first of `reasons` that applies, for a file whose every test
 * drives a tool (`const test = testNeeding(AGE_SKIP)`). A test's own `skip` (ROOT_SKIP) comes first.
 */
export function testNeeding(...reasons: Skip[]): typeof test {
  const reason = reasons.find((r): r is string => typeof r === 'string');
  if (!reason) return test;
  const wrapped = (name: string, options?: TestOptions | ((...args: never[]) => unknown), fn?: (...args: never[]) => unknown) => {
    if (typeof options === 'function') return test(name, { skip: reason }, options as never);
    return test(name, { ...options, skip: options?.skip || reason }, fn as never);
  };
  return Object.assign(wrapped, test) as unknown as typeof test;
}

/** The first reason that applies, for one test's options: `{ skip: needs(AGE_SKIP, GPG_SKIP) }`. */
export const needs = (...reasons: Skip[]): Skip => reasons.find((r): r is string => typeof r === 'string') ?? false;
