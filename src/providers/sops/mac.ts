// Decrypting a whole tree and checking its MAC (`sops.go` Tree.Decrypt, `cmd/sops/common` DecryptTree).
// One SHA-512 runs over every value in document order, in Go string form; the stored MAC is itself
// encrypted with `lastmodified` as additional data. Any mismatch refuses the whole file.
import { createHash, timingSafeEqual } from 'node:crypto';
import { decryptComment, decryptValue, ValueDecryptError } from './cipher.js';
import { SopsIntegrityError } from './errors.js';
import { scalarBytes } from './formats/text.js';
import type { SopsMetadata } from './metadata.js';
import { shouldBeEncrypted } from './rules.js';
import type { Branch, Comment, ListNode, MapNode, Scalar, TreeNode } from './tree.js';

// SHA-256("sops"): the MAC's first input when only encrypted values are covered (mac_only_encrypted).
const MAC_ONLY_ENCRYPTED_INIT = createHash('sha256').update('sops').digest();

/** The bytes sops hashes for a value (`sops.ToBytes`). */
export const macBytes = (value: Scalar): Buffer => scalarBytes(value, 'sops');

/** A key path as sops-format messages show it: `a/b/c` (list items share their list's key). */
const display = (path: readonly string[]) => (path.length ? path.join('/') : '(top level)');

class TreeDecrypter {
  readonly #hash = createHash('sha512');
  constructor(
    private readonly metadata: SopsMetadata,
    private readonly key: Buffer,
  ) {
    if (metadata.macOnlyEncrypted) this.#hash.update(MAC_ONLY_ENCRYPTED_INIT);
  }

  /** The MAC as sops formats it: 128 uppercase hex digits. */
  digest(): string {
    return this.#hash.digest('hex').toUpperCase();
  }

  /** One document; documents are hashed in order into the same MAC. */
  branch(branch: Branch): Branch {
    return this.map(branch, [], []);
  }

  /** Dispatches by node kind. */
  private value(node: TreeNode, path: string[], stack: readonly string[][]): TreeNode {
    if (node.kind === 'map') return this.map(node, path, stack);
    if (node.kind === 'list') return this.list(node, path, stack);
    return this.leaf(node, path, stack);
  }

  // Comments before an item count for it (comment rules), then reset after each non-comment item.
  private map(map: MapNode, path: string[], outer: readonly string[][]): MapNode {
    const items: MapNode['items'] = [];
    let level: string[] = [];
    for (const item of map.items) {
      if (item.kind === 'comment') {
        level = [...level, item.text];
        items.push(this.comment(item, path, [...outer, level]));
        continue;
      }
      items.push({ kind: 'entry', key: item.key, value: this.value(item.value, [...path, item.key], [...outer, level]) });
      level = [];
    }
    return { kind: 'map', items };
  }

  /** A list: every item shares the list's path (indexes are never part of the additional data). */
  private list(list: ListNode, path: string[], outer: readonly string[][]): ListNode {
    const items: ListNode['items'] = [];
    let level: string[] = [];
    for (const item of list.items) {
      if (item.kind === 'comment') {
        level = [...level, item.text];
        items.push(this.comment(item, path, [...outer, level]));
        continue;
      }
      items.push(this.value(item, path, [...outer, level]));
      level = [];
    }
    return { kind: 'list', items };
  }

  /** Comments are decrypted when the rule says so, never hashed; one that does not decrypt stays as it is (sops does the same). */
  private comment(comment: Comment, path: string[], stack: readonly string[][]): Comment {
    if (!shouldBeEncrypted(this.metadata.rules, path, stack, true)) return comment;
    const text = decryptComment(comment.text, this.key, `${path.join(':')}:`);
    return text === undefined ? comment : { ...comment, text };
  }

  /** One value: decrypted with its path as additional data, then hashed in Go string form. */
  private leaf(node: Scalar, path: string[], stack: readonly string[][]): Scalar {
    // Null values are neither decrypted nor hashed (sops's walk skips nil).
    if (node.kind === 'null') return node;
    const encrypted = shouldBeEncrypted(this.metadata.rules, path, stack, false);
    let value: Scalar = node;
    if (encrypted) {
      if (node.kind !== 'str') throw new SopsIntegrityError(`the value at ${display(path)} should be encrypted but is a plain ${node.kind}`, display(path));
      try {
        value = decryptValue(node.value.toString('utf8'), this.key, `${path.join(':')}:`);
      } catch (error) {
        const reason = error instanceof ValueDecryptError ? error.message : 'it cannot be decrypted';
        throw new SopsIntegrityError(`the value at ${display(path)} cannot be decrypted: ${reason}`, display(path));
      }
    }
    if (!this.metadata.macOnlyEncrypted || encrypted) this.#hash.update(macBytes(value));
    return value;
  }
}

/** Decrypts every value of every branch and verifies the MAC; throws SopsIntegrityError on any mismatch. */
export function decryptTree(branches: readonly Branch[], metadata: SopsMetadata, key: Buffer): Branch[] {
  const decrypter = new TreeDecrypter(metadata, key);
  const out = branches.map((b) => decrypter.branch(b));
  const computed = Buffer.from(decrypter.digest());
  if (metadata.mac === '') throw new SopsIntegrityError('the file has no MAC, so its integrity cannot be verified');
  let stored: Scalar;
  try {
    stored = decryptValue(metadata.mac, key, metadata.macAad);
  } catch {
    throw new SopsIntegrityError('the MAC cannot be decrypted (the MAC or lastmodified was modified)');
  }
  const storedBytes = stored.kind === 'str' ? stored.value : Buffer.alloc(0);
  if (storedBytes.length !== computed.length || !timingSafeEqual(storedBytes, computed)) {
    throw new SopsIntegrityError('MAC mismatch: the file was modified after it was encrypted (a value changed, moved, added or removed)');
  }
  return out;
}
