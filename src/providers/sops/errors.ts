// Named errors of the sops provider. Each carries context (file, key path, group, reason) and never
// a value: messages are built from names the file shows in plaintext, never from decrypted text.

/** The file is not a well-formed sops file: syntax, metadata, a value that is not `ENC[…]`. */
export class SopsFormatError extends Error {
  override name = 'SopsFormatError';
}

/** Decryption or the MAC check failed: the file was modified, damaged or its values swapped. */
export class SopsIntegrityError extends Error {
  override name = 'SopsIntegrityError';
  constructor(
    message: string,
    /** The key path of the value that failed (`a/b`), when one did; absent for the MAC itself. */
    readonly path?: string,
  ) {
    super(message);
  }
}

/** Why one key (age recipient or PGP fingerprint) did not give its share of the data key. */
export interface KeyAttempt {
  /** `age age1…`, `pgp 7FB8…`, `kms arn:…`. */
  key: string;
  reason: string;
  /** A temporary cause (gpg timed out): retrying may help. */
  temporary?: boolean;
}

export interface GroupOutcome {
  opened: boolean;
  /** The key that opened the group, when one did. */
  openedBy?: string;
  attempts: KeyAttempt[];
}

/** No quorum of key groups could be opened: says how many are needed, how many opened, and why not. */
export class SopsDataKeyError extends Error {
  override name = 'SopsDataKeyError';
  constructor(
    readonly needed: number,
    readonly groups: readonly GroupOutcome[],
  ) {
    super(describeGroups(needed, groups));
  }

  /** True when a retry could help (every failing key failed for a temporary reason). */
  get temporary(): boolean {
    const failures = this.groups.flatMap((g) => (g.opened ? [] : g.attempts));
    return failures.length > 0 && failures.some((a) => a.temporary);
  }
}

/** "needs 2 of 3 key groups, 1 opened (group 1: … | …)": what sops-nix's "0 successful groups required, got 0" should have said. */
function describeGroups(needed: number, groups: readonly GroupOutcome[]): string {
  const opened = groups.filter((g) => g.opened).length;
  const total = groups.length;
  const head =
    total === 1
      ? 'no key opens it'
      : `needs ${needed} of ${total} key groups, ${opened} opened`;
  const parts = groups.map((g, i) => {
    const label = total === 1 ? '' : `group ${i + 1}: `;
    if (g.opened) return `${label}opened${g.openedBy ? ` by ${g.openedBy}` : ''}`;
    if (g.attempts.length === 0) return `${label}has no keys`;
    return `${label}${g.attempts.map((a) => `${a.key}: ${a.reason}`).join('; ')}`;
  });
  return `${head} (${parts.join(' | ')})`;
}

/** A `key` that does not name anything in the file (or, `ambiguous`, names two things). */
export class SopsKeyPathError extends Error {
  override name = 'SopsKeyPathError';
  constructor(
    message: string,
    readonly path: string,
    readonly reason: 'missing' | 'ambiguous' = 'missing',
  ) {
    super(message);
  }
}
