// The ordered tree every format parses into (sops's TreeBranch): maps keep document order and
// duplicates, comments are items in place, strings are Buffers. Document order is part of the MAC,
// so nothing here goes through plain JS objects.
import type { GoTime } from './gotypes.js';

export type Scalar =
  | { kind: 'str'; value: Buffer }
  | { kind: 'int'; value: bigint }
  | { kind: 'float'; value: number }
  | { kind: 'bool'; value: boolean }
  | { kind: 'time'; value: GoTime }
  /** sops's legacy `bytes` type: raw bytes, hashed as they are. */
  | { kind: 'bytes'; value: Buffer }
  | { kind: 'null' };

export interface Comment {
  kind: 'comment';
  text: string;
  /** A comment on the same line as its item (YAML line comments). */
  inline?: boolean;
}

export interface Entry {
  kind: 'entry';
  key: string;
  value: TreeNode;
}

export interface MapNode {
  kind: 'map';
  items: (Entry | Comment)[];
}

export interface ListNode {
  kind: 'list';
  items: (TreeNode | Comment)[];
}

export type TreeNode = Scalar | MapNode | ListNode;

/** One document (YAML may hold several; every other format holds one). */
export type Branch = MapNode;

/** The entries of a map, without its comments. */
export function entries(map: MapNode): Entry[] {
  return map.items.filter((i): i is Entry => i.kind === 'entry');
}

/** The values of a list, without its comments (what a numeric key path segment indexes). */
export function elements(list: ListNode): TreeNode[] {
  return list.items.filter((i): i is TreeNode => i.kind !== 'comment');
}

/** Overwrites every string and byte value with zeros: decrypted trees are wiped once their outputs are copied. */
export function wipe(nodes: readonly (TreeNode | Comment)[]): void {
  for (const node of nodes) {
    if (node.kind === 'map') wipe(node.items.map((i) => (i.kind === 'entry' ? i.value : i)));
    else if (node.kind === 'list') wipe(node.items);
    else if (node.kind === 'str' || node.kind === 'bytes') node.value.fill(0);
  }
}
