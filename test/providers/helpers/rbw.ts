// Puts the fake rbw (./fake-rbw.mjs, rbw 1.15.0's shapes, texts and exit codes) first on PATH in a
// test's directory, with a vault and an agent state the test controls, and reads back its calls.
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { registerSecretValues } from '../../helpers/cli.js';

/** An entry as `rbw get --raw` prints it (DecryptedCipher). */
export interface RbwEntry {
  id: string;
  folder: string | null;
  name: string;
  data: Record<string, unknown> | null;
  fields: { name: string | null; value: string | null; type: string | null }[];
  notes: string | null;
  history: { last_used_date: string; password: string }[];
}

export type AgentState = 'unlocked' | 'locked' | 'stopped';

export interface FakeRbw {
  /** PATH with the fake first, for runCli's env. */
  env: Record<string, string>;
  setState(state: AgentState): void;
  setVault(entries: RbwEntry[]): void;
  /** The calls made so far (argv and the rbw-relevant environment); reading clears the log. */
  take(): { argv: string[]; env: Record<string, string> }[];
}

let ids = 0;
/** A login entry with a password and custom fields, as rbw's JSON shows it. */
export function login(name: string, password: string | null, options: { user?: string; folder?: string; fields?: [string, string][]; notes?: string } = {}): RbwEntry {
  if (password) registerSecretValues(password);
  for (const [, value] of options.fields ?? []) registerSecretValues(value);
  return {
    id: `1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd${String(++ids).padStart(4, '0')}`,
    folder: options.folder ?? null,
    name,
    data: { username: options.user ?? null, password, totp: null, uris: [] },
    fields: (options.fields ?? []).map(([n, value]) => ({ name: n, value, type: 'hidden' })),
    notes: options.notes ?? null,
    history: [],
  };
}

/** A secure note (its `data` is null in rbw's JSON). */
export function note(name: string, notes: string): RbwEntry {
  registerSecretValues(notes);
  return { id: `2b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd${String(++ids).padStart(4, '0')}`, folder: null, name, data: null, fields: [], notes, history: [] };
}

/** Installs the fake under `dir` (bin/rbw and rbw/{state,vault.json,calls.log}), readable by `uid` when given. */
export function fakeRbw(dir: string, options: { uid?: number; gid?: number } = {}): FakeRbw {
  const bin = join(dir, 'bin');
  const home = join(dir, 'rbw');
  mkdirSync(bin, { recursive: true });
  mkdirSync(home, { recursive: true });
  const script = join(bin, 'rbw');
  // The shebang names this node: a test user's PATH need not have it.
  writeFileSync(script, `#!${process.execPath}\n${readFileSync(fileURLToPath(new URL('./fake-rbw.mjs', import.meta.url)), 'utf8')}`);
  chmodSync(script, 0o755);
  const log = join(home, 'calls.log');
  const write = (file: string, text: string) => {
    writeFileSync(file, text);
    chmodSync(file, 0o644);
  };
  write(log, '');
  chmodSync(log, 0o666);
  write(join(home, 'state'), 'unlocked');
  write(join(home, 'vault.json'), '[]');
  for (const d of [dir, bin, home]) chmodSync(d, 0o755);
  return {
    env: { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` },
    setState: (state) => write(join(home, 'state'), state),
    setVault: (entries) => write(join(home, 'vault.json'), JSON.stringify(entries)),
    take() {
      const calls = readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { argv: string[]; env: Record<string, string> });
      writeFileSync(log, '');
      return calls;
    },
  };
}
