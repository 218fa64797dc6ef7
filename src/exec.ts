// The one way the program starts a child process (gpg, mount, systemctl, getent, and the network
// clients): a minimal environment, input on stdin, a deadline after which the whole process group
// is killed, and a result that never throws for an exit code. Secrets and tokens reach a child
// through stdin, its environment or a private file, never its argv. node:child_process is imported
// on first use: most runs start no child, and it pulls in net and stream (~9 ms of start-up).

/** Where children find their programs when the caller's environment has no PATH (systemd's default is set). */
export function childPath(): string {
  return process.env.PATH || '/run/current-system/sw/bin:/usr/local/bin:/usr/bin:/bin';
}

export interface ChildOptions {
  /** The child's environment is PATH (and LC_ALL=C) plus exactly these; nothing is inherited. */
  env?: Record<string, string | undefined>;
  /** Written to the child's stdin, which is then closed (an empty stdin when absent). */
  input?: Buffer | string;
  /** The child and its process group are killed (SIGKILL) after this many milliseconds. */
  timeoutMs: number;
  /** Also kills the child when aborted (the run's deadline). */
  signal?: AbortSignal;
  cwd?: string;
  uid?: number;
  gid?: number;
  /** Stdout beyond this many bytes kills the child (a runaway program cannot exhaust memory). Default 64 MiB. */
  maxOutputBytes?: number;
}

export interface ChildResult {
  /** The exit code; null when the child was killed or could not start. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: Buffer;
  /** Killed by the deadline (timeoutMs). */
  timedOut: boolean;
  /** Killed because `signal` was aborted. */
  aborted: boolean;
  /** Killed because its output passed maxOutputBytes. */
  overflow: boolean;
  /** The program could not be started: `ENOENT` (not installed), `EACCES`… */
  spawnError?: string;
}

/** Runs `file args` to completion under the options' deadline; never rejects for the child's failure. */
export async function runChild(file: string, args: readonly string[], options: ChildOptions): Promise<ChildResult> {
  const { spawn } = await import('node:child_process');
  const env: Record<string, string> = { PATH: childPath(), LC_ALL: 'C' };
  for (const [k, v] of Object.entries(options.env ?? {})) if (v !== undefined) env[k] = v;
  const max = options.maxOutputBytes ?? 64 * 1024 * 1024;
  return new Promise((resolve) => {
    const result: ChildResult = { code: null, signal: null, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), timedOut: false, aborted: false, overflow: false };
    let child: ReturnType<typeof spawn>;
    try {
      // detached: its own process group, so the deadline also kills what it started (gpg's helpers).
      child = spawn(file, args, {
        env,
        cwd: options.cwd,
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true,
        ...(options.uid !== undefined ? { uid: options.uid, gid: options.gid ?? options.uid } : {}),
      });
    } catch (error) {
      resolve({ ...result, spawnError: (error as NodeJS.ErrnoException).code ?? 'spawn failed' });
      return;
    }
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    const kill = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const timer = setTimeout(() => {
      result.timedOut = true;
      kill();
    }, options.timeoutMs);
    const onAbort = () => {
      result.aborted = true;
      kill();
    };
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout!.on('data', (d: Buffer) => {
      outBytes += d.length;
      if (outBytes > max) {
        result.overflow = true;
        kill();
      } else out.push(d);
    });
    child.stderr!.on('data', (d: Buffer) => {
      // Only the first 64 KiB of stderr is kept: it is for short reasons, never data.
      if (errBytes < 65536) err.push(d);
      errBytes += d.length;
    });
    child.stdin!.on('error', () => {}); // a child that exits without reading its input (EPIPE)
    child.stdin!.end(options.input ?? '');
    child.on('error', (error: NodeJS.ErrnoException) => {
      result.spawnError = error.code ?? 'spawn failed';
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      resolve({ ...result, code: result.spawnError ? null : code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err) });
    });
  });
}

/** A child's first stderr line, printable ASCII only and short: a reason fit for a message. */
export function firstLine(stderr: Buffer, max = 160): string {
  const line = stderr.toString('utf8').trim().split('\n')[0] ?? '';
  const clean = line.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

/** Why a child failed, when it printed nothing to say so: not installed, timed out, killed, an exit code. */
export function childFailure(result: ChildResult): string {
  if (result.spawnError) return result.spawnError === 'ENOENT' ? 'not installed (not found on PATH)' : `could not be started (${result.spawnError})`;
  if (result.timedOut) return 'did not finish in time';
  if (result.aborted) return 'interrupted (run deadline)';
  if (result.signal) return `killed by ${result.signal}`;
  return `exit code ${result.code}`;
}

/**
 * Whether process `pid` exists in this pid namespace (EPERM: it does, as another user's): one rule
 * for the lock's owner, a generation's builder and a private directory's run.
 */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
