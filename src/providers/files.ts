// Reading the files a secrets.json references (.age files, sops files). Only regular files: a FIFO
// or a device named by mistake is refused at once instead of blocking the run (and the lock's
// heartbeat) forever. Reads are synchronous on purpose: measured at 1,000 files, reading through
// the thread pool (open, stat, read, close: four round trips per file) made a run ~30% slower
// than reading in place, and the main thread has nothing else to do meanwhile.
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { ProviderError } from '../errors.js';

const MAX_SIZE = 64 * 1024 * 1024;

/** Reads one referenced file; a missing, unreadable or non-regular file becomes the matching ProviderError. */
export function readSourceFile(provider: string, file: string): Buffer | ProviderError {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return new ProviderError(provider, 'not-found', `${file} does not exist`);
    if (code === 'EACCES' || code === 'EPERM') return new ProviderError(provider, 'unauthorized', `${file} is not readable (permission denied)`);
    return new ProviderError(provider, 'unavailable', `${file} cannot be opened (${code ?? 'error'})`);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) return new ProviderError(provider, 'config', `${file} is a directory`);
    if (!st.isFile()) return new ProviderError(provider, 'config', `${file} is not a regular file`);
    if (st.size > MAX_SIZE) return new ProviderError(provider, 'config', `${file} is larger than ${MAX_SIZE / 1024 / 1024} MiB`);
    return readFileSync(fd);
  } catch (error) {
    return new ProviderError(provider, 'unavailable', `${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  } finally {
    closeSync(fd);
  }
}
