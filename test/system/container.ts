// A Debian 12 container booted with systemd-nspawn: the root file system is made once with
// debootstrap (from Debian's packages) and cached outside the checkout; each test run boots a
// writable overlay of it (or a copy, where overlayfs cannot be mounted), so the cache stays clean.
// Everything runs inside through `nsenter -t <the container's init> -a`.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const CACHE = process.env.MATERIALIZE_TEST_CACHE ?? '/var/cache/materialize-test';
const STATE = join(CACHE, 'running.json');

/** What the scenarios need inside, beyond debootstrap's minimal base (all from Debian 12's archive). */
const PACKAGES = ['systemd', 'systemd-sysv', 'dbus', 'libpam-systemd', 'dbus-user-session', 'util-linux', 'procps'];
const MIRROR = process.env.MATERIALIZE_TEST_MIRROR ?? 'http://deb.debian.org/debian';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export class SkipError extends Error {}

const sh = (cmd: string, args: string[], options: { timeout?: number } = {}) =>
  spawnSync(cmd, args, { encoding: 'utf8', timeout: options.timeout ?? 60_000, maxBuffer: 64 * 1024 * 1024 });

/** Why a container cannot run here, or false. */
export function unavailable(): string | false {
  if (process.getuid?.() !== 0) return 'not running as root: booting a container needs root (systemd-nspawn, mounts)';
  for (const tool of ['systemd-nspawn', 'debootstrap', 'nsenter']) {
    if (sh('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed (Debian: apt-get install systemd-container debootstrap util-linux)`;
  }
  return false;
}

/** The cached root file system, made with debootstrap on first use (about a minute). */
export function rootfs(log: (s: string) => void): string {
  const key = createHash('sha256').update(JSON.stringify({ suite: 'bookworm', PACKAGES, v: 1 })).digest('hex').slice(0, 12);
  const dir = join(CACHE, `bookworm-${key}`);
  if (existsSync(join(dir, '.complete'))) return dir;
  mkdirSync(CACHE, { recursive: true });
  const partial = `${dir}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  log(`building the Debian 12 root file system in ${dir} (debootstrap, once)`);
  const r = sh('debootstrap', ['--variant=minbase', `--include=${PACKAGES.join(',')}`, 'bookworm', partial, MIRROR], { timeout: 15 * 60_000 });
  if (r.status !== 0) {
    rmSync(partial, { recursive: true, force: true });
    throw new SkipError(`debootstrap of Debian 12 failed (exit ${r.status}; is Debian's archive reachable?): ${(r.stderr || r.stdout).slice(-1500)}`);
  }
  // No login prompt on the console; a fixed hostname for the journal.
  rmSync(join(partial, 'etc/systemd/system/console-getty.service'), { force: true });
  execFileSync('ln', ['-sf', '/dev/null', join(partial, 'etc/systemd/system/console-getty.service')]);
  writeFileSync(join(partial, 'etc/hostname'), 'materialize-test\n');
  writeFileSync(join(partial, '.complete'), `${new Date().toISOString()}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(partial, dir);
  return dir;
}

interface State {
  nspawn: number;
  root: string;
}

const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return undefined;
  }
};

/**
 * Ends what an earlier run left behind (killed, timed out): its nspawn (named in the state file,
 * and only if it still runs on that run's root), its overlay mount and its run directory.
 */
export function cleanStray(log: (s: string) => void = () => {}): void {
  let state: State | undefined;
  try {
    state = JSON.parse(readFileSync(STATE, 'utf8')) as State;
  } catch {
    state = undefined;
  }
  if (state) {
    const argv = cmdline(state.nspawn);
    if (argv?.[0]?.endsWith('systemd-nspawn') && argv.includes(state.root)) {
      log(`ending a container left by an earlier run (nspawn ${state.nspawn})`);
      for (const child of childrenOf(state.nspawn)) killQuietly(child);
      killQuietly(state.nspawn);
      waitGone(state.nspawn, 10_000);
    }
    rmSync(STATE, { force: true });
  }
  if (!existsSync(CACHE)) return;
  for (const name of readdirSync(CACHE)) {
    if (!name.startsWith('run-')) continue;
    const dir = join(CACHE, name);
    sh('umount', ['-R', join(dir, 'root')]);
    rmSync(dir, { recursive: true, force: true });
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
  } catch {
    return [];
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

function waitGone(pid: number, ms: number): boolean {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!existsSync(`/proc/${pid}`)) return true;
    sh('sleep', ['0.1']);
  }
  return !existsSync(`/proc/${pid}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Container {
  readonly root: string;
  private readonly dir: string;
  private nspawn?: ChildProcess;
  private exited?: Promise<number | null>;
  init = 0;
  boots = 0;

  private constructor(dir: string, root: string, private readonly log: (s: string) => void) {
    this.dir = dir;
    this.root = root;
  }

  /** A writable root over the cached one: overlayfs, or a copy where it cannot be mounted. */
  static create(base: string, log: (s: string) => void): Container {
    const dir = mkdtempSync(join(CACHE, 'run-'));
    const root = join(dir, 'root');
    for (const d of ['upper', 'work', 'root']) mkdirSync(join(dir, d));
    const overlay = sh('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${base},upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`, root]);
    if (overlay.status !== 0) {
      log(`overlayfs is not available (${overlay.stderr.trim()}); copying the root file system`);
      const cp = sh('cp', ['-a', '--reflink=auto', `${base}/.`, root], { timeout: 10 * 60_000 });
      if (cp.status !== 0) throw new Error(`copying ${base}: ${cp.stderr}`);
    }
    return new Container(dir, root, log);
  }

  /** Boots the container and waits until systemd says the boot is over. */
  async boot(timeoutMs = Number(process.env.SYSTEM_BOOT_TIMEOUT ?? 120) * 1000): Promise<void> {
    this.boots++;
    const logFile = join(this.dir, `boot-${this.boots}.log`);
    const out = openSync(logFile, 'w');
    const nspawn = spawn('systemd-nspawn', ['-q', '-b', '--register=no', '--keep-unit', '--console=read-only', '-D', this.root, '-M', 'materialize-test'], {
      stdio: ['ignore', out, out],
    });
    closeSync(out);
    this.nspawn = nspawn;
    this.exited = new Promise((resolve) => nspawn.on('exit', (code) => resolve(code)));
    writeFileSync(STATE, JSON.stringify({ nspawn: nspawn.pid!, root: this.root } satisfies State));
    const end = Date.now() + timeoutMs;
    const bootLog = () => readFileSync(logFile, 'utf8').slice(-3000);
    while (!this.init) {
      if (nspawn.exitCode !== null) throw new SkipError(`the container cannot boot here: systemd-nspawn exited ${nspawn.exitCode}:\n${bootLog()}`);
      if (Date.now() > end) throw new SkipError(`the container did not start within ${timeoutMs / 1000} s:\n${bootLog()}`);
      // The container's init, not nspawn's own short-lived forked child (its argv is still
      // `systemd-nspawn …`): taking that one made nsenter fail once it was gone.
      const init = childrenOf(nspawn.pid!).find((pid) => {
        const argv0 = cmdline(pid)?.[0] ?? '';
        return /(^|\/)(systemd|init)$/.test(argv0);
      });
      if (init) this.init = init;
      else await sleep(100);
    }
    // "offline" until the container's systemd answers on its socket; --wait covers the boot itself.
    for (;;) {
      const state = await this.exec(['systemctl', 'is-system-running', '--wait'], { timeoutMs: Math.max(5_000, end - Date.now()) }).catch((error: Error) => ({ stdout: 'timeout', stderr: error.message.split('\n')[0]! }));
      if (/running|degraded/.test(state.stdout)) break;
      if (nspawn.exitCode !== null || Date.now() > end) {
        const jobs = await this.exec(['systemctl', 'list-jobs', '--no-pager'], { timeoutMs: 10_000 }).catch(() => undefined);
        const journal = await this.exec(['journalctl', '-b', '--no-pager', '-n', '80'], { timeoutMs: 10_000 }).catch(() => undefined);
        throw new Error(`the container did not finish booting (${state.stdout.trim()} ${state.stderr.trim()}).\nJobs:\n${jobs?.stdout}\nJournal:\n${journal?.stdout}\nConsole:\n${bootLog()}`);
      }
      await sleep(200);
    }
  }

  /** Runs argv inside the container as root, with a clean environment. */
  exec(argv: string[], options: { timeoutMs?: number; input?: string; env?: Record<string, string> } = {}): Promise<Run> {
    const env = Object.entries({ PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', ...options.env }).map(([k, v]) => `${k}=${v}`);
    return new Promise((resolve, reject) => {
      const child = spawn('nsenter', ['-t', String(this.init), '-a', '/usr/bin/env', '-i', ...env, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`timed out after ${options.timeoutMs ?? 60_000} ms in the container: ${argv.join(' ')}\n${stdout}\n${stderr}`));
      }, options.timeoutMs ?? 60_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
      // A command that never reads its input may be gone before it is written.
      child.stdin.on('error', () => {});
      child.stdin.end(options.input ?? '');
    });
  }

  /** A shell script inside; throws with its output unless it exits 0. */
  async sh(script: string, options: { timeoutMs?: number; input?: string } = {}): Promise<string> {
    const r = await this.exec(['sh', '-euc', script], options);
    if (r.code !== 0) throw new Error(`in the container, exit ${r.code}: ${script}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  /** Powers the container off and waits for nspawn to exit (the root stays for the next boot). */
  async poweroff(timeoutMs = 60_000): Promise<void> {
    if (!this.nspawn || this.nspawn.exitCode !== null) return;
    await this.exec(['systemctl', 'poweroff', '--no-block'], { timeoutMs: 10_000 }).catch(() => undefined);
    const done = await Promise.race([this.exited, sleep(timeoutMs).then(() => 'timeout' as const)]);
    if (done === 'timeout') {
      this.log('the container did not power off in time; killing it');
      this.kill();
      await this.exited;
    }
    this.init = 0;
  }

  private kill(): void {
    if (this.init) killQuietly(this.init);
    if (this.nspawn?.pid) killQuietly(this.nspawn.pid);
  }

  /** Always safe to call: ends the container, unmounts and removes the run directory. */
  async destroy(): Promise<void> {
    try {
      await this.poweroff(30_000);
    } catch {
      this.kill();
    }
    if (this.nspawn?.pid) waitGone(this.nspawn.pid, 10_000);
    sh('umount', ['-R', this.root]);
    rmSync(this.dir, { recursive: true, force: true });
    rmSync(STATE, { force: true });
  }

  bootLog(): string {
    try {
      return readFileSync(join(this.dir, `boot-${this.boots}.log`), 'utf8');
    } catch {
      return '';
    }
  }
}
