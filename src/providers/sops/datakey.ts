// Recovering a file's 32-byte data key (`sops.go` GetDataKeyWithKeyServices): key groups in order,
// inside a group age keys first, then PGP (sortKeyGroupIndices); the first key that opens gives the
// group's share; with several groups, `shamir_threshold` shares are combined. When that fails, the
// error says how many groups were needed and opened, and why each key did not open.
import { AgeDecryptError, decryptAge } from '../../age/decrypt.js';
import type { KeyRing } from '../../keys/index.js';
import { SopsDataKeyError, SopsIntegrityError, type GroupOutcome, type KeyAttempt } from './errors.js';
import type { KeyGroup, MasterKey, SopsMetadata } from './metadata.js';
import { PgpError, type GpgDecrypt } from './pgp.js';
import { combine, ShamirError } from './shamir.js';

export interface DataKeyContext {
  /** The run's identities, loaded on first use (a PGP-only file never needs them). */
  keyRing(): Promise<KeyRing>;
  gnupgHome: string | null;
  /** keys.gnupgSshKeyPaths: RSA SSH keys as PGP keys, in a temporary GnuPG home made when first needed. */
  sshGnupg?: { has(fingerprint: string): boolean; home(): Promise<string | undefined> };
  gpg: GpgDecrypt;
  signal: AbortSignal;
  /** Called each time a key opens (tests count unwraps with it). */
  onUnwrap?: (key: string) => void;
}

const ORDER: Record<MasterKey['type'], number> = { age: 0, pgp: 1, unsupported: 2 };

/** Long recipients (ssh-rsa) keep their start and end: enough to tell keys apart in a message. */
const shorten = (text: string) => (text.length > 100 ? `${text.slice(0, 40)}…${text.slice(-12)}` : text);

/** How a key is named in messages: its type and public identifier (recipient, fingerprint), nothing secret. */
function label(key: MasterKey): string {
  if (key.type === 'age') return `age ${shorten(key.recipient) || '(no recipient)'}`;
  if (key.type === 'pgp') return `pgp ${key.fingerprint || '(no fingerprint)'}`;
  return `${key.service} ${shorten(key.id)}`;
}

/** One key's share of the data key, or why not. */
async function openKey(key: MasterKey, context: DataKeyContext): Promise<Buffer | KeyAttempt> {
  const name = label(key);
  if (key.type === 'unsupported') return { key: name, reason: `${key.service} keys are not supported by materialize` };
  if (key.type === 'age') {
    const ring = await context.keyRing();
    if (ring.identities.length === 0) {
      const skipped = ring.problems.length ? `; ${ring.problems.length} configured key(s) skipped, see the warnings` : '';
      return { key: name, reason: `no age identity configured (keys.ageKeyFiles, keys.sshKeyPaths)${skipped}` };
    }
    try {
      return await decryptAge(Buffer.from(key.enc, 'utf8'), ring.identities);
    } catch (error) {
      if (error instanceof AgeDecryptError && error.kind === 'no-identity') {
        return { key: name, reason: `no matching key among the ${ring.identities.length} age identit${ring.identities.length === 1 ? 'y' : 'ies'} configured` };
      }
      if (error instanceof AgeDecryptError && error.kind === 'unsupported') return { key: name, reason: error.message };
      return { key: name, reason: `the encrypted data key is damaged (${error instanceof AgeDecryptError ? error.message : 'not an age file'})` };
    }
  }
  // The home made from an SSH key whose fingerprint this is comes first: it surely holds the key.
  const homes: string[] = [];
  const ours = context.sshGnupg?.has(key.fingerprint) ?? false;
  if (ours) {
    const home = await context.sshGnupg!.home();
    if (home) homes.push(home);
  }
  if (context.gnupgHome) homes.push(context.gnupgHome);
  if (homes.length === 0) {
    if (ours) return { key: name, reason: 'its key (keys.gnupgSshKeyPaths) could not be imported into gpg (see the warning)' };
    return { key: name, reason: context.sshGnupg ? 'keys.gnupgHome is not set, and no key of keys.gnupgSshKeyPaths has this fingerprint' : 'keys.gnupgHome is not set' };
  }
  let failed: KeyAttempt = { key: name, reason: 'gpg failed' };
  for (const gnupgHome of homes) {
    try {
      return await context.gpg(Buffer.from(key.enc, 'utf8'), { gnupgHome, signal: context.signal });
    } catch (error) {
      failed = error instanceof PgpError ? { key: name, reason: error.message, temporary: error.temporary } : { key: name, reason: 'gpg failed' };
    }
  }
  return failed;
}

/** Tries a group's keys (age, then pgp, then the rest) until one gives a share of the expected length. */
async function openGroup(group: KeyGroup, shareLength: number, context: DataKeyContext): Promise<{ share?: Buffer; outcome: GroupOutcome }> {
  const attempts: KeyAttempt[] = [];
  const sorted = [...group].sort((a, b) => ORDER[a.type] - ORDER[b.type]);
  for (const key of sorted) {
    const result = await openKey(key, context);
    if (!Buffer.isBuffer(result)) {
      attempts.push(result);
      continue;
    }
    if (result.length !== shareLength) {
      result.fill(0);
      attempts.push({ key: label(key), reason: `it holds ${result.length} bytes, not a ${shareLength === 32 ? 'data key' : 'key share'}` });
      continue;
    }
    context.onUnwrap?.(label(key));
    return { share: result, outcome: { opened: true, openedBy: label(key), attempts } };
  }
  return { outcome: { opened: false, attempts } };
}

/** The data key, or SopsDataKeyError naming every group's and key's reason. */
export async function recoverDataKey(metadata: SopsMetadata, context: DataKeyContext): Promise<Buffer> {
  const single = metadata.groups.length === 1;
  const shares: Buffer[] = [];
  const outcomes: GroupOutcome[] = [];
  for (const group of metadata.groups) {
    // Enough shares already: later groups are not tried (no needless gpg runs or YubiKey touches).
    if (shares.length >= metadata.threshold) break;
    const { share, outcome } = await openGroup(group, single ? 32 : 33, context);
    outcomes.push(outcome);
    if (share) shares.push(share);
  }
  if (shares.length < metadata.threshold) {
    for (const s of shares) s.fill(0);
    throw new SopsDataKeyError(metadata.threshold, outcomes);
  }
  if (single) return shares[0]!;
  try {
    const key = combine(shares);
    if (key.length !== 32) throw new ShamirError('the combined key is not 32 bytes');
    return key;
  } catch (error) {
    throw new SopsIntegrityError(`the key group shares do not combine into a data key (${(error as Error).message})`);
  } finally {
    for (const s of shares) s.fill(0);
  }
}
