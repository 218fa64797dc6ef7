// What every network provider (1Password, Bitwarden) shares: reading its token from a file only
// root can read, a deadline on every call (their clients have none: 1Password's SDK waited ~300 s
// and `bw` 150 s+ on a silent server), and retries of temporary failures only, with backoff,
// inside the run's deadline. A failure that cannot change (not found, bad reference, bad token,
// rate limit) is never retried.
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { ProviderError } from '../errors.js';

export interface TokenFileOptions {
  /** Accept a file that its group or others can read (the documented opt-out). */
  allowReadable?: boolean;
  /** Largest accepted size: a token file is small; anything bigger is a mistake. */
  maxBytes?: number;
  /** Drop one final line ending (`\n` or `\r\n`) only, keeping trailing spaces and tabs: a password may end in them. */
  finalLineEndingOnly?: boolean;
}

// Why refuse readable files: a token readable by a group or by everyone is a token any local user
// can steal, and with it every secret of the vault; the owner must opt out explicitly.
/** Reads a token file: a regular file, not readable by group or others unless allowed; trailing whitespace (or one line ending) dropped. */
export function readTokenFile(provider: string, file: string, setting: string, options: TokenFileOptions = {}): Buffer {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new ProviderError(provider, 'config', `${setting}: ${file} does not exist`);
    if (code === 'ELOOP') throw new ProviderError(provider, 'config', `${setting}: ${file} is a symlink; name the file itself`);
    if (code === 'EACCES' || code === 'EPERM') throw new ProviderError(provider, 'unauthorized', `${setting}: ${file} is not readable by this user (permission denied)`);
    throw new ProviderError(provider, 'unavailable', `${setting}: ${file} cannot be opened (${code ?? 'error'})`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ProviderError(provider, 'config', `${setting}: ${file} is not a regular file`);
    if ((st.mode & 0o077) !== 0 && !options.allowReadable) {
      throw new ProviderError(provider, 'config', `${setting}: ${file} has mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}, readable by its group or by others; make it 0600 or 0400 (chmod 600 ${file}), or allow it explicitly`);
    }
    if (st.size > (options.maxBytes ?? 16384)) throw new ProviderError(provider, 'config', `${setting}: ${file} is too large to be a token (${st.size} bytes)`);
    const data = readFileSync(fd);
    let end = data.length;
    if (options.finalLineEndingOnly) {
      if (data[end - 1] === 0x0a) end -= data[end - 2] === 0x0d ? 2 : 1;
    } else {
      while (end > 0 && (data[end - 1] === 0x0a || data[end - 1] === 0x0d || data[end - 1] === 0x20 || data[end - 1] === 0x09)) end--;
    }
    if (end === 0) throw new ProviderError(provider, 'config', `${setting}: ${file} is empty`);
    return data.subarray(0, end);
  } finally {
    closeSync(fd);
  }
}

/** Why a deadline fired: the message says who did not answer and for how long. */
export class DeadlineError extends Error {
  override name = 'DeadlineError';
}

// Why a race and not the client's own timeout: none of the clients has one we can trust.
/** Runs `call` with a deadline of `ms` (and the run's `signal`): rejects with DeadlineError when either fires first. */
export async function withDeadline<T>(call: (signal: AbortSignal) => Promise<T>, ms: number, signal: AbortSignal, what: string): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onRunDeadline: (() => void) | undefined;
  const onAbort = () => controller.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await Promise.race([
      call(controller.signal),
      new Promise<never>((_, reject) => {
        const fire = (message: string) => {
          controller.abort(new DeadlineError(message));
          reject(new DeadlineError(message));
        };
        timer = setTimeout(() => fire(`${what} did not answer in ${formatSeconds(ms)}`), ms);
        if (signal.aborted) fire(`${what}: the run's deadline passed`);
        onRunDeadline = () => fire(`${what}: the run's deadline passed`);
        signal.addEventListener('abort', onRunDeadline, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
    // Both listeners go: a run makes many calls on one signal, and each would stay attached otherwise.
    if (onRunDeadline) signal.removeEventListener('abort', onRunDeadline);
  }
}

export function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

export interface RetryOptions {
  /** Attempts in all, the first included. */
  attempts: number;
  /** Delay before the second attempt; doubled each time, with ±25 % jitter. */
  baseDelayMs: number;
  /** The run's signal: no retry starts after it is aborted. */
  signal: AbortSignal;
  /** Whether a failure may be retried; only temporary ones should be (kind `unavailable`). */
  retryable: (error: unknown) => boolean;
  /** Source of jitter in [0, 1) (tests pass a seeded one). */
  random?: () => number;
}

/** Runs `call` until it succeeds, a failure is not retryable, the attempts are spent or the run's signal fires. */
export async function retrying<T>(call: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call(attempt);
    } catch (error) {
      if (attempt >= options.attempts || !options.retryable(error) || options.signal.aborted) throw error;
      const delay = options.baseDelayMs * 2 ** (attempt - 1) * (0.75 + random() * 0.5);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, delay);
        function done() {
          clearTimeout(timer);
          options.signal.removeEventListener('abort', done);
          resolve();
        }
        options.signal.addEventListener('abort', done, { once: true });
      });
      if (options.signal.aborted) throw error;
    }
  }
}

// Why a deadline is never retried: the request may have reached the server and cost quota, and a
// server that stayed silent for a whole deadline would most likely stay silent for the next one.
/** The one retry rule of every network provider: a failure of kind `unavailable` whose cause is not a deadline. */
export function retryable(error: unknown): boolean {
  return error instanceof ProviderError && error.kind === 'unavailable' && !(error.cause instanceof DeadlineError);
}

// Why these: no connection was made (refused, no route, the name does not resolve), so the server
// saw nothing and charged no quota; a reset or a timeout may come after it read the request.
const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);

/**
 * Whether a failed request provably never reached the server: its error, or one in its `cause`
 * chain (fetch's TypeError wraps the socket's error), has one of the codes above; an AggregateError
 * (one attempt per address) only when every attempt has one.
 */
export function neverSent(error: unknown, depth = 0): boolean {
  if (depth > 8 || typeof error !== 'object' || error === null) return false;
  if (error instanceof AggregateError && error.errors.length > 0) return error.errors.every((e) => neverSent(e, depth + 1));
  const code = (error as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && NEVER_SENT.has(code)) return true;
  return neverSent((error as { cause?: unknown }).cause, depth + 1);
}
