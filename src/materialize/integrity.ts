// Whether a file in the live generation still holds what materialize wrote there. Each value's keyed
// digest (HMAC-SHA256 over its name and bytes) goes into the generation's manifest; the key is 32
// random bytes in `<mountPoint>/.materialize-key`, mode 0400, readable by the running user only
// (root), made by the first run that finds none. On a ramfs or tmpfs mount point it lives as long as
// the generations it vouches for: one boot. A secret's owner can rewrite their file, but cannot
// make its bytes match the digest without the key; timestamps (ctime) prove nothing on ramfs.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, constants, fstatSync, fsyncSync, openSync, readSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { WriteError, describeSystemError } from '../errors.js';
import { untraced } from '../untraced.js';
import type { Logger } from '../log.js';

export const KEY_NAME = '.materialize-key';
const KEY_BYTES = 32;
/** Versioned, so that a later change of what is digested cannot be confused with this one. */
const DIGEST_PREFIX = 'hmac-sha256:';

/** The run's digest key: computes and checks the digests recorded in manifests. */
export class DigestKey {
  readonly #key: Buffer;
  constructor(key: Buffer) {
    this.#key = key;
  }

  /** The digest of `data` published under `name` (the name is bound in: a value cannot move to another name). */
  digest(name: string, data: Uint8Array): string {
    const mac = untraced(() => createHmac('sha256', this.#key).update('materialize generation file v1\0').update(name).update('\0').update(data).digest('base64'));
    return `${DIGEST_PREFIX}${mac}`;
  }

  /** Whether `data` under `name` has the recorded digest. */
  verify(name: string, data: Uint8Array, recorded: string | undefined): boolean {
    if (typeof recorded !== 'string' || !recorded.startsWith(DIGEST_PREFIX)) return false;
    const expected = Buffer.from(this.digest(name, data));
    const given = Buffer.from(recorded);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }
}

/** Why an existing key file cannot be trusted, or undefined when it can. */
function distrust(st: import('node:fs').Stats): string | undefined {
  if (!st.isFile()) return 'not a regular file';
  if (st.uid !== (process.geteuid?.() ?? st.uid)) return `owned by uid ${st.uid}`;
  if ((st.mode & 0o077) !== 0) return `mode 0${(st.mode & 0o777).toString(8)} lets others read or write it`;
  if (st.size !== KEY_BYTES) return `${st.size} bytes, not ${KEY_BYTES}`;
  return undefined;
}

/** The key in an existing file, or why it is unusable (ENOENT: there is none). */
function readKey(path: string): DigestKey | { missing: true } | { bad: string } {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { missing: true };
    return { bad: code === 'ELOOP' ? 'a symlink' : describeSystemError(error) };
  }
  try {
    const why = distrust(fstatSync(fd));
    if (why) return { bad: why };
    const key = Buffer.alloc(KEY_BYTES);
    if (readSync(fd, key, 0, KEY_BYTES, 0) !== KEY_BYTES) return { bad: 'short read' };
    return new DigestKey(key);
  } finally {
    closeSync(fd);
  }
}

/** Creates the key file: O_EXCL|O_NOFOLLOW, mode 0400, never over anything. */
function createKey(path: string, durable: boolean): DigestKey {
  const key = randomBytes(KEY_BYTES);
  try {
    const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o400);
    try {
      writeSync(fd, key);
      if (durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    throw new WriteError(`cannot create the digest key ${path}: ${describeSystemError(error)}`, path, { cause: error });
  }
  return new DigestKey(key);
}

/**
 * The digest key of `mountPoint`. With `create` (a run that writes), a missing key is made and an
 * untrustworthy one is moved aside (reported) and replaced: values digested under it are then not
 * carried forward. Without (`--dry-run`), undefined when there is no usable key.
 */
export function openDigestKey(mountPoint: string, options: { create: boolean; durable: boolean; log: Logger }): DigestKey | undefined {
  const path = join(mountPoint, KEY_NAME);
  const found = readKey(path);
  if (found instanceof DigestKey) return found;
  if ('bad' in found) {
    if (!options.create) {
      options.log.warn(`${path} is not a usable digest key (${found.bad}); no value could be carried forward`);
      return undefined;
    }
    const aside = `${path}.untrusted-${Date.now()}`;
    try {
      renameSync(path, aside);
    } catch (error) {
      throw new WriteError(`${path} is not a usable digest key (${found.bad}) and cannot be moved aside: ${describeSystemError(error)}`, path, { cause: error });
    }
    options.log.warn(`${path} was not a usable digest key (${found.bad}); moved to ${aside} and replaced: no value of the live generation can be carried forward this time`);
  }
  return options.create ? createKey(path, options.durable) : undefined;
}
