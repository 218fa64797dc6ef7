// Finding what a `key` names in a sops tree. Keys are plaintext in sops files, so this runs on the
// encrypted tree too (`check`, and before any decryption); errors name the path and what is there
// instead (sibling keys, list lengths), never a value.
import { SopsKeyPathError } from './errors.js';
import type { KeySpec } from './source.js';
import { elements, entries, type Branch, type TreeNode } from './tree.js';

const INDEX = /^(0|[1-9][0-9]*)$/;

/** The keys a map has, for "has no key" messages (keys are plaintext in sops files; values never shown). */
function keysOf(node: { items: Branch['items'] } | undefined): string {
  if (!node) return 'none';
  const names = [...new Set(entries(node as Branch).map((e) => JSON.stringify(e.key)))];
  if (names.length === 0) return 'none';
  return names.length > 12 ? `${names.slice(0, 12).join(', ')}, … (${names.length} in all)` : names.join(', ');
}

/** What a node is, in words, when a path runs into the wrong kind of node. */
function kindOf(node: TreeNode): string {
  return node.kind === 'map' ? 'a mapping' : node.kind === 'list' ? `a list of ${elements(node).length} items` : `a value (${node.kind})`;
}

// Lookups by key, built once per map: a thousand secrets from one file must not scan it a thousand times.
const indexes = new WeakMap<Branch, Map<string, TreeNode>>();

/** The last entry named `key` (a duplicated JSON key: the last wins, as when sops-nix reads it). */
function child(map: Branch, key: string): TreeNode | undefined {
  let index = indexes.get(map);
  if (!index) {
    index = new Map();
    for (const item of map.items) if (item.kind === 'entry') index.set(item.key, item.value);
    indexes.set(map, index);
  }
  return index.get(key);
}

/** YAML/JSON: walks map keys and list indexes; the error names the deepest part that exists. */
function walkPath(branches: readonly Branch[], segments: readonly string[], text: string): TreeNode {
  const first = segments[0]!;
  // In a multi-document YAML file the first document that has the first segment is the one meant.
  const doc = branches.find((b) => child(b, first) !== undefined);
  if (!doc) throw new SopsKeyPathError(`has no key "${first}" at the top level (top-level keys: ${keysOf(branches[0])}${branches.length > 1 ? ` and ${branches.length - 1} more document(s)` : ''})`, text);
  let node: TreeNode = child(doc, first)!;
  for (let i = 1; i < segments.length; i++) {
    const segment = segments[i]!;
    const at = segments.slice(0, i).join('/');
    if (node.kind === 'map') {
      const next = child(node, segment);
      if (next === undefined) throw new SopsKeyPathError(`has no key "${segments.slice(0, i + 1).join('/')}": "${at}" has keys ${keysOf(node)}`, text);
      node = next;
    } else if (node.kind === 'list') {
      const items = elements(node);
      if (!INDEX.test(segment)) throw new SopsKeyPathError(`has no key "${text}": "${at}" is ${kindOf(node)}, so "${segment}" should be an index from 0`, text);
      const index = Number(segment);
      if (index >= items.length) throw new SopsKeyPathError(`has no key "${text}": "${at}" is ${kindOf(node)}, index ${index} is out of range`, text);
      node = items[index]!;
    } else {
      throw new SopsKeyPathError(`has no key "${text}": "${at}" is ${kindOf(node)}, not a mapping or list`, text);
    }
  }
  return node;
}

/** INI: tries each `/` as the section/key split, so section names may contain `/`; two matches are ambiguous. */
function findIni(branch: Branch | undefined, text: string): TreeNode {
  const sections = branch ? entries(branch) : [];
  const matches: TreeNode[] = [];
  let sectionFound: string | undefined;
  for (let i = text.indexOf('/'); i >= 0; i = text.indexOf('/', i + 1)) {
    const name = text.slice(0, i);
    const key = text.slice(i + 1);
    let found: TreeNode | undefined;
    for (const section of sections) {
      if (section.key !== name || section.value.kind !== 'map') continue;
      sectionFound ??= name;
      found = child(section.value, key) ?? found;
    }
    if (found) matches.push(found);
  }
  if (matches.length > 1) throw new SopsKeyPathError(`"${text}" is ambiguous: more than one section/key split exists`, text, 'ambiguous');
  if (matches.length === 1) return matches[0]!;
  if (sectionFound !== undefined) {
    const section = sections.find((s) => s.key === sectionFound)!;
    throw new SopsKeyPathError(`has no key "${text}": section "${sectionFound}" has keys ${keysOf(section.value as Branch)}`, text);
  }
  throw new SopsKeyPathError(`has no key "${text}": no such section (sections: ${keysOf(branch)})`, text);
}

/** The node `spec` names, or undefined for the whole file; throws SopsKeyPathError when it is not there. */
export function select(branches: readonly Branch[], spec: KeySpec): TreeNode | undefined {
  switch (spec.kind) {
    case 'whole':
      return undefined;
    case 'path':
      return walkPath(branches, spec.segments, spec.segments.join('/'));
    case 'name': {
      const found = branches[0] ? child(branches[0], spec.name) : undefined;
      if (found === undefined) throw new SopsKeyPathError(`has no variable "${spec.name}" (variables: ${keysOf(branches[0])})`, spec.name);
      return found;
    }
    case 'section-key':
      return findIni(branches[0], spec.text);
  }
}
