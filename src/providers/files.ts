// Reading the files a secrets.json references (.age files, sops files): asynchronously, so reads
// run in libuv's thread pool (the second core) while the main thread decrypts, and so a file on a
// hung network file system cannot stall the run past its deadline; only regular files, so a FIFO
// or a device named by mistake is refused instead of blocking forever.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { ProviderError } from '../errors.js';

const MAX_SIZE = 64 * 1024 * 1024;

/** Reads one referenced file; a missing, unreadable or non-regular file becomes the matching ProviderError. */
export async function readSourceFile(provider: string, file: string): Promise<Buffer | ProviderError> {
  let handle;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return new ProviderError(provider, 'not-found', `${file} does not exist`);
    if (code === 'EACCES' || code === 'EPERM') return new ProviderError(provider, 'unauthorized', `${file} is not readable (permission denied)`);
    return new ProviderError(provider, 'unavailable', `${file} cannot be opened (${code ?? 'error'})`);
  }
  try {
    const st = await handle.stat();
    if (st.isDirectory()) return new ProviderError(provider, 'config', `${file} is a directory`);
    if (!st.isFile()) return new ProviderError(provider, 'config', `${file} is not a regular file`);
    if (st.size > MAX_SIZE) return new ProviderError(provider, 'config', `${file} is larger than ${MAX_SIZE / 1024 / 1024} MiB`);
    return await handle.readFile();
  } catch (error) {
    return new ProviderError(provider, 'unavailable', `${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  } finally {
    await handle.close();
  }
}

/**
 * Reads files in order with up to `depth` reads in flight: while the caller works on one file
 * (decrypts it), the next ones are being read by the thread pool.
 */
export async function* readAhead(provider: string, files: readonly string[], depth = 32): AsyncGenerator<Buffer | ProviderError> {
  const pending: Promise<Buffer | ProviderError>[] = [];
  let next = 0;
  const start = () => {
    if (next < files.length) pending.push(readSourceFile(provider, files[next++]!));
  };
  for (let i = 0; i < depth; i++) start();
  for (let i = 0; i < files.length; i++) {
    const data = await pending[i]!;
    delete pending[i];
    start();
    yield data;
  }
}
