// PGP-encrypted data keys, opened by the real `gpg` (as sops does: `gpg -d`, GNUPGHOME honoured).
// The armored message goes to gpg's stdin, never argv; gpg gets a minimal environment and a
// deadline; its stderr is reduced to gpg's own last status line, which never holds key material.
// gpg starts a gpg-agent for the home when none runs; a run stops the agents it caused, and only
// those (the user's own agent, running before, is left alone).
import { runChild } from '../../exec.js';

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
  const timeoutMs = options.timeoutMs ?? 60_000;
  const result = await runChild('gpg', ['--batch', '--no-tty', '--quiet', '--decrypt'], {
    input: message,
    env: { GNUPGHOME: options.gnupgHome },
    timeoutMs,
    signal: options.signal,
    maxOutputBytes: 1024 * 1024,
  });
  if (result.timedOut) throw new PgpError(`gpg did not answer within ${Math.round(timeoutMs / 1000)} s`, true);
  if (result.aborted) throw new PgpError('gpg was interrupted (run deadline)', true);
  if (result.overflow) throw new PgpError('gpg returned more than 1 MiB (not a sops data key)');
  if (result.spawnError) throw new PgpError(result.spawnError === 'ENOENT' ? 'gpg is not installed (not found on PATH)' : 'gpg could not be started');
  if (result.code !== 0) {
    const reason = gpgReason(result.stderr);
    throw new PgpError(`gpg failed${reason ? ` (${reason})` : ` (${result.signal ? `killed by ${result.signal}` : `exit code ${result.code}`})`}`);
  }
  if (result.stdout.length === 0) throw new PgpError('gpg returned nothing (an unsupported message format?)');
  return result.stdout;
};

/** gpg for one batch of decryptions: `decrypt`, then `stopAgents` once the batch is done. */
export interface GpgSession {
  decrypt: GpgDecrypt;
  /** Stops each gpg-agent that this session's gpg started (never one that was running before). */
  stopAgents(): Promise<void>;
}

// Why gpg-connect-agent: `--no-autostart` asks without starting one, and `getinfo pid` answers
// only from a live agent (a socket file left by a dead one says nothing).
/** Whether a gpg-agent answers for `home`; undefined when that cannot be told (then nothing is stopped). */
async function agentRunning(home: string): Promise<boolean | undefined> {
  const result = await runChild('gpg-connect-agent', ['--no-autostart', 'getinfo pid', '/bye'], { env: { GNUPGHOME: home }, timeoutMs: 10_000 });
  if (result.spawnError || result.timedOut) return undefined;
  return /^D \d+/m.test(result.stdout.toString('latin1'));
}

/** A session over `decrypt` (the real gpg by default) that remembers, per home, whether an agent ran before it. */
export function gpgSession(decrypt: GpgDecrypt = gpgDecrypt): GpgSession {
  const before = new Map<string, Promise<boolean | undefined>>();
  return {
    decrypt: async (message, options) => {
      let running = before.get(options.gnupgHome);
      if (!running) before.set(options.gnupgHome, (running = agentRunning(options.gnupgHome)));
      await running;
      return decrypt(message, options);
    },
    stopAgents: async () => {
      for (const [home, running] of before) {
        if ((await running) !== false) continue;
        // Same home, same minimal environment as gpg had: the agent gpg started, and only it.
        await runChild('gpgconf', ['--kill', 'gpg-agent'], { env: { GNUPGHOME: home }, timeoutMs: 10_000 });
      }
      before.clear();
    },
  };
}
