// The persistent state of network sources (the sealed store, the call budget) lives in one
// directory on disk (`network.stateDir`, /var/lib/materialize for root): made 0700, owned by the
// running user, refused when another user could write to it or replace it. Files there are
// replaced whole: temp file, fsync, rename, fsync of the directory.
import { closeSync, constants, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { WriteError, describeSystemError } from '../errors.js';
import { checkpoint } from './checkpoint.js';
import { syncDirectory } from './write.js';

const TMP_INFIX = '.tmp-';

/**
 * Creates (0700) or checks the state directory; removes temp files that killed runs left. With
 * `readOnly` (a dry run) nothing is created or removed: a missing directory is an empty state.
 */
export function openStateDir(dir: string, options: { readOnly?: boolean } = {}): string {
  try {
    if (options.readOnly) {
      try {
        lstatSync(dir);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return dir;
        throw error;
      }
    } else mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    const uid = process.getuid?.() ?? 0;
    if (!st.isDirectory()) throw new WriteError(`${dir} (network.stateDir) is not a directory`, dir);
    if (st.uid !== uid) throw new WriteError(`${dir} (network.stateDir) is owned by uid ${st.uid}, not by this user (uid ${uid}); refusing to keep sealed values there`, dir);
    if ((st.mode & 0o022) !== 0) throw new WriteError(`${dir} (network.stateDir) is writable by its group or others (mode ${(st.mode & 0o777).toString(8)}); make it 0700`, dir);
  } catch (error) {
    if (error instanceof WriteError) throw error;
    throw new WriteError(`cannot create ${dir} (network.stateDir): ${describeSystemError(error)}`, dir, { cause: error });
  }
  if (options.readOnly) return dir;
  for (const name of readdirSync(dir)) {
    if (name.startsWith('.') && name.includes(TMP_INFIX)) {
      try {
        unlinkSync(join(dir, name));
      } catch {
        // gone already
      }
    }
  }
  return dir;
}

/** Replaces `file` with `data` whole (mode 0600): a kill at any instant leaves the old content or the new. */
export function replaceFile(file: string, data: Uint8Array): void {
  const tmp = join(dirname(file), `.${basename(file)}${TMP_INFIX}${process.pid}`);
  try {
    unlinkSync(tmp);
  } catch {
    // none left by an earlier run with this pid
  }
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off);
    checkpoint();
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    unlinkSync(tmp);
    throw error;
  }
  closeSync(fd);
  renameSync(tmp, file);
  syncDirectory(dirname(file));
  checkpoint();
}
