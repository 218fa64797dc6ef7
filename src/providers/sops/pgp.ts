// PGP-encrypted data keys, opened by the real `gpg` (as sops does: `gpg -d`, GNUPGHOME honoured).
// The armored message goes to gpg's stdin, never argv; gpg gets a minimal environment and a
// deadline; its stderr is reduced to gpg's own last status line, which never holds key material.
import { loadExeca } from '../../exec.js';

export class PgpError extends Error {
  override name = 'PgpError';
  constructor(
    message: string,
    /** A retry could help (timed out or interrupted). */
    readonly temporary = false,
  ) {
    super(message);
  }
}

export interface GpgOptions {
  gnupgHome: string;
  signal: AbortSignal;
  /** Per invocation; the run's signal still bounds everything. */
  timeoutMs?: number;
}

/** Runs gpg once; injectable so tests can count or fake invocations. */
export type GpgDecrypt = (message: Buffer, options: GpgOptions) => Promise<Buffer>;

/** gpg's last `gpg: …` line, printable ASCII only and short: a reason to show, e.g. "decryption failed: No secret key". */
function gpgReason(stderr: Uint8Array): string {
  const lines = Buffer.from(stderr)
    .toString('utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('gpg: '));
  const last = lines.at(-1)?.slice(5).replace(/[^\x20-\x7e]/g, '?') ?? '';
  return last.length > 160 ? `${last.slice(0, 160)}…` : last;
}

export const gpgDecrypt: GpgDecrypt = async (message, options) => {
  const result = await (await loadExeca())('gpg', ['--batch', '--no-tty', '--quiet', '--decrypt'], {
    input: message,
    encoding: 'buffer',
    stripFinalNewline: false,
    reject: false,
    extendEnv: false,
    env: { PATH: process.env.PATH ?? '/run/current-system/sw/bin:/usr/bin:/bin', GNUPGHOME: options.gnupgHome, LC_ALL: 'C' },
    timeout: options.timeoutMs ?? 60_000,
    cancelSignal: options.signal,
    forceKillAfterDelay: 2_000,
    maxBuffer: 1024 * 1024,
  });
  if (result.timedOut) throw new PgpError(`gpg did not answer within ${Math.round((options.timeoutMs ?? 60_000) / 1000)} s`, true);
  if (result.isCanceled) throw new PgpError('gpg was interrupted (run deadline)', true);
  if (result.failed && result.exitCode === undefined) {
    const code = (result as { code?: string }).code;
    throw new PgpError(code === 'ENOENT' ? 'gpg is not installed (not found on PATH)' : 'gpg could not be started');
  }
  if (result.exitCode !== 0) {
    const reason = gpgReason(result.stderr);
    throw new PgpError(`gpg failed${reason ? ` (${reason})` : ` (exit code ${result.exitCode})`}`);
  }
  const out = Buffer.from(result.stdout);
  if (out.length === 0) throw new PgpError('gpg returned nothing (an unsupported message format?)');
  return out;
};
