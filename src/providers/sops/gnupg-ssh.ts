// `keys.gnupgSshKeyPaths`: RSA SSH host keys used as PGP keys (sops-nix's `gnupg.sshKeyPaths`).
// Each key is converted once per run (ssh-pgp.ts) and, only when a sops file has a PGP recipient
// with one of their fingerprints, imported by the real gpg into a temporary GnuPG home made for
// this run: in the runtime directory (a tmpfs: the unprotected key never reaches a disk), mode
// 0700, removed at the end of the run together with the gpg-agent gpg started for it.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SshKeyError, parseSshPrivateKey } from '../../age/ssh-key.js';
import { openKeyFileWarning } from '../../keys/files.js';
import { childFailure, firstLine, runChild } from '../../exec.js';
import type { Logger } from '../../log.js';
import { leftovers, places, privateBase } from '../../private-dir.js';
import { sshRsaToPgp } from './ssh-pgp.js';

// Why this order: the home holds an unprotected key, and /tmp may be on a disk. In a unit that
// sets RuntimeDirectory=, that directory (the unit's own, removed when it stops); at the prompt, the
// user's runtime directory; root without either (materialize's own units and activation snippets)
// has /run, which only root may write to.
/** Where the temporary home goes. */
const runtimeBase = () => privateBase([places.unit, places.session, places.run]);

const PREFIX = 'materialize-gnupg-';

// Why: a run killed outright (SIGKILL, power loss aside: a tmpfs) cannot remove its home, which
// holds an unprotected key; the next run that needs one removes those whose run is gone.
/** Removes the temporary homes (and stops the agents) of runs that no longer exist. */
async function sweepLeftovers(base: string): Promise<void> {
  for (const dir of leftovers(base, PREFIX)) await stopAndRemove(dir);
}

/** Stops the home's gpg-agent, removes its socket directory, then the home. */
async function stopAndRemove(dir: string): Promise<void> {
  for (const args of [['--kill', 'gpg-agent'], ['--remove-socketdir']]) {
    await runChild('gpgconf', ['--homedir', dir, ...args], { timeoutMs: 10_000 }).catch(() => undefined);
  }
  rmSync(dir, { recursive: true, force: true });
}

/** The keys of keys.gnupgSshKeyPaths for one run: converted once, imported only when a file has one as its recipient. */
export class SshGnupgHome {
  #keys: Map<string, Buffer> | undefined;
  #home: Promise<string | undefined> | undefined;
  #dir: string | undefined;

  constructor(
    private readonly paths: readonly string[],
    private readonly log: Logger,
    private readonly signal: AbortSignal,
  ) {}

  /** The fingerprints of the configured keys (converted on first use; unusable files are warnings). */
  #convert(): Map<string, Buffer> {
    if (this.#keys) return this.#keys;
    this.#keys = new Map();
    for (const path of this.paths) {
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
        const mode = statSync(path).mode;
        if (mode & 0o004) this.log.warn(openKeyFileWarning(path, 'keys.gnupgSshKeyPaths:', mode & 0o777));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        this.log.warn(`keys.gnupgSshKeyPaths: cannot read ${path} (${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code ?? 'unreadable'})`);
        continue;
      }
      try {
        const key = parseSshPrivateKey(text);
        if (key.type !== 'ssh-rsa') {
          this.log.warn(`keys.gnupgSshKeyPaths: ${path} is an ${key.type} key; only RSA keys can be PGP keys (an ed25519 key belongs in keys.sshKeyPaths)`);
          continue;
        }
        const pgp = sshRsaToPgp(key.key);
        this.#keys.set(pgp.fingerprint, pgp.secretKey);
      } catch (error) {
        this.log.warn(`keys.gnupgSshKeyPaths: ${path}: ${error instanceof SshKeyError ? error.message : 'not a usable SSH private key'}`);
      }
    }
    return this.#keys;
  }

  /** Whether a PGP recipient (sops `fp`) is one of these keys. */
  has(fingerprint: string): boolean {
    return this.#convert().has(fingerprint.toUpperCase());
  }

  /** A GnuPG home holding every configured key, made on first call; undefined when it could not be. */
  home(): Promise<string | undefined> {
    this.#home ??= this.#make();
    return this.#home;
  }

  /** Makes the temporary home (sweeping those of dead runs first) and imports the converted keys with the real gpg. */
  async #make(): Promise<string | undefined> {
    const keys = [...this.#convert().values()];
    if (keys.length === 0) return undefined;
    const base = runtimeBase();
    await sweepLeftovers(base);
    this.#dir = mkdtempSync(join(base, `${PREFIX}${process.pid}-`));
    const input = Buffer.concat(keys);
    try {
      const result = await runChild('gpg', ['--batch', '--no-tty', '--quiet', '--import'], { input, env: { GNUPGHOME: this.#dir }, timeoutMs: 60_000, signal: this.signal });
      if (result.code !== 0) {
        this.log.warn(`keys.gnupgSshKeyPaths: gpg could not import the converted keys (${firstLine(result.stderr) || childFailure(result)})`);
        return undefined;
      }
    } finally {
      input.fill(0);
    }
    return this.#dir;
  }

  /** Stops the gpg-agent of the temporary home and removes it (and its socket directory). */
  async close(): Promise<void> {
    for (const key of this.#keys?.values() ?? []) key.fill(0);
    const dir = this.#dir;
    if (!dir) return;
    this.#dir = undefined;
    await stopAndRemove(dir);
  }
}
