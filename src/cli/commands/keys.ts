// `materialize keys`: this host's age recipients — of its SSH ed25519 host key(s) and its age key
// files — to paste into `.sops.yaml` or agenix's `secrets.nix`. Public keys only, by construction.
import { readFileSync } from 'node:fs';
import { loadConfig } from '../../config/load.js';
import { ExitCode, MaterializeError } from '../../errors.js';
import { defaultKeySources, listRecipients, type KeySource, type RecipientList } from '../../keys/recipients.js';
import type { Logger } from '../../log.js';
import { printReport, type OutputFlags } from '../output.js';
import { stdout } from '../../stdio.js';

export interface KeysFlags extends OutputFlags {
  config?: string;
  /** Public key files; `-` reads public key lines from stdin. */
  sshPubkey?: string[];
}

/** Nothing usable was found: names every place looked at, so the user knows what to create or pass. */
export class NoKeysFoundError extends MaterializeError {
  override name = 'NoKeysFoundError';
  constructor(readonly looked: readonly string[]) {
    super(`no usable key found (looked at: ${looked.join(', ') || 'nothing'}); pass --config FILE or --ssh-pubkey FILE`, ExitCode.config);
  }
}

/** The sources to read: the configuration's keys and the given public keys, else the defaults sops uses. */
function sourcesFor(flags: KeysFlags): KeySource[] {
  const sources: KeySource[] = [];
  if (flags.config) {
    const { keys } = loadConfig(flags.config);
    sources.push(...keys.ageKeyFiles.map((path): KeySource => ({ kind: 'age-key-file', path })));
    sources.push(...keys.sshKeyPaths.map((path): KeySource => ({ kind: 'ssh-private-key', path })));
  }
  for (const file of flags.sshPubkey ?? []) {
    sources.push(file === '-' ? { kind: 'ssh-public-text', name: 'stdin', text: readFileSync(0, 'utf8') } : { kind: 'ssh-public-key', path: file });
  }
  return flags.config || flags.sshPubkey?.length ? sources : defaultKeySources();
}

/** One aligned line per key: source, type, recipient. */
function formatKeys(list: RecipientList): string {
  const width = Math.min(60, Math.max(0, ...list.entries.map((e) => e.source.length)));
  return list.entries.map((e) => `${e.source.padEnd(width)}  ${e.type.padEnd(11)}  ${e.recipient}\n`).join('');
}

/** Prints the recipients (or JSON); warnings go to stderr; exit 78 when nothing usable was found. */
export async function runKeys(flags: KeysFlags, log: Logger): Promise<number> {
  const list = await listRecipients(sourcesFor(flags));
  for (const problem of list.problems) log.warn(problem);
  if (flags.json) {
    // Nothing found is still a report (the keys looked at and why each was unusable), with exit 78.
    const exitCode = list.entries.length ? ExitCode.ok : ExitCode.config;
    printReport(exitCode, { keys: list.entries, warnings: log.warnings });
    return exitCode;
  }
  if (list.entries.length === 0) throw new NoKeysFoundError(list.looked);
  stdout.write(formatKeys(list));
  return ExitCode.ok;
}
