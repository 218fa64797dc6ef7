// YAML sops files (`stores/yaml/store.go`): every document a branch, read from the `yaml` package's
// AST (never through JS objects, which reorder integer-like keys), scalars typed as yaml.v3 types them,
// comments kept in place. Emitting re-serializes decrypted branches with 4-space indentation as sops does.
import type * as Yaml from 'yaml';
import { SopsFormatError } from '../errors.js';
import { formatRfc3339Nano } from '../gotypes.js';
import { type Branch, type Comment, type ListNode, type MapNode, type Scalar, type TreeNode } from '../tree.js';
import { needsQuotes, resolveScalar } from './yaml-scalar.js';
import { position } from '../../../position.js';

export type YamlLib = typeof Yaml;

/**
 * Limits per file (all its documents together), aliases counted expanded: far more than any real
 * file, far fewer than a "billion laughs". Values: maps, lists and scalars; text: the bytes of
 * scalars (keys included), never less than the file's own size; aliases: each expansion of one.
 */
const MAX_VALUES = 1_000_000;
const MAX_TEXT = 64 * 1024 * 1024;
const MAX_ALIASES = 10_000;

/** `line L, column C` of an offset: positions, never text. */
const lineOf = position;

/** Comment lines as sops stores them: one item per non-empty line, without the `#`. */
function commentItems(text: string | null | undefined, inline = false): Comment[] {
  if (!text) return [];
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => ({ kind: 'comment', text: line, ...(inline ? { inline } : {}) }));
}

/** What a node amounts to once its aliases are expanded. Saturates at Infinity, never overflows into a wrong answer. */
interface Expanded {
  values: number;
  text: number;
  aliases: number;
}

/**
 * The pass that runs before anything is expanded: resolves every alias to its anchor (the last one
 * of that name before it, as YAML says) and adds up what each node expands to, each node measured
 * once (an anchor's size is reused by every alias to it), so the pass is linear in the file however
 * much it would expand. A missing anchor or a recursive alias is a format error here.
 */
class AliasMeasure {
  /** Each alias node's anchored node, for the reader. */
  readonly targets = new Map<Yaml.Alias, unknown>();
  readonly #anchors = new Map<string, unknown>();
  readonly #sizes = new Map<unknown, Expanded>();
  readonly #active = new Set<unknown>();
  constructor(
    private readonly lib: YamlLib,
    private readonly text: string,
  ) {}

  /** Where a node is, for messages. */
  private where(node: unknown): string {
    const range = (node as Yaml.Node | null | undefined)?.range;
    return range ? lineOf(this.text, range[0]) : 'somewhere';
  }

  /** One document, anchors restarting (YAML anchors do not cross documents). */
  document(doc: Yaml.Document.Parsed): Expanded {
    this.#anchors.clear();
    return this.node(doc.contents);
  }

  node(node: unknown): Expanded {
    const { lib } = this;
    if (node === null || node === undefined) return { values: 1, text: 0, aliases: 0 };
    if (lib.isAlias(node)) {
      const target = this.#anchors.get(node.source);
      if (target === undefined) throw new SopsFormatError(`${this.where(node)}: the alias *${node.source} has no anchor`);
      const size = this.#sizes.get(target);
      if (this.#active.has(target) || !size) throw new SopsFormatError(`${this.where(node)}: a recursive alias`);
      this.targets.set(node, target);
      return { values: size.values, text: size.text, aliases: size.aliases + 1 };
    }
    const known = this.#sizes.get(node);
    if (known) return known;
    const anchor = (node as Yaml.Node).anchor;
    if (anchor) this.#anchors.set(anchor, node);
    this.#active.add(node);
    const size: Expanded = { values: 1, text: 0, aliases: 0 };
    const add = (part: Expanded) => {
      size.values += part.values;
      size.text += part.text;
      size.aliases += part.aliases;
    };
    if (lib.isMap(node)) {
      for (const pair of node.items) {
        const key = this.node(pair.key);
        add({ values: key.values - 1, text: key.text, aliases: key.aliases }); // a key is text, not a value
        add(this.node(pair.value));
      }
    } else if (lib.isSeq(node)) {
      for (const item of node.items) add(this.node(item));
    } else if (lib.isScalar(node)) {
      size.text = Buffer.byteLength(node.source ?? String(node.value ?? ''), 'utf8');
    }
    this.#active.delete(node);
    this.#sizes.set(node, size);
    return size;
  }
}

/** Measures every document of the file, refusing it whole when it would expand past a limit. */
function measureFile(lib: YamlLib, docs: readonly Yaml.Document.Parsed[], text: string): Map<Yaml.Alias, unknown> {
  const measure = new AliasMeasure(lib, text);
  const total: Expanded = { values: 0, text: 0, aliases: 0 };
  for (const doc of docs) {
    const size = measure.document(doc);
    total.values += size.values;
    total.text += size.text;
    total.aliases += size.aliases;
  }
  const scope = `(the whole file, ${docs.length} document${docs.length === 1 ? '' : 's'})`;
  if (total.values > MAX_VALUES) throw new SopsFormatError(`more than ${MAX_VALUES} values once aliases are expanded ${scope}`);
  if (total.text > Math.max(MAX_TEXT, Buffer.byteLength(text))) throw new SopsFormatError(`more than ${MAX_TEXT / 1024 / 1024} MiB of text once aliases are expanded ${scope}`);
  if (total.aliases > MAX_ALIASES) throw new SopsFormatError(`more than ${MAX_ALIASES} aliases once expanded ${scope}`);
  return measure.targets;
}

class YamlReader {
  readonly #active = new Set<unknown>();
  constructor(
    private readonly lib: YamlLib,
    private readonly doc: Yaml.Document.Parsed,
    private readonly text: string,
    /** Every alias's anchored node, resolved (and the file's size checked) by measureFile. */
    private readonly targets: ReadonlyMap<Yaml.Alias, unknown>,
  ) {}

  /** Where a node is, for messages. */
  private where(node: Yaml.Node | null | undefined): string {
    return node?.range ? lineOf(this.text, node.range[0]) : 'somewhere';
  }

  /** Follows an alias to its anchored node; a missing anchor or a cycle is a format error. */
  private deref(node: unknown): unknown {
    const { lib } = this;
    if (!lib.isAlias(node)) return node;
    const target = this.targets.get(node);
    if (!target) throw new SopsFormatError(`${this.where(node)}: the alias *${node.source} has no anchor`);
    return target;
  }

  /** A scalar typed the yaml.v3 way from its raw text. */
  scalar(node: Yaml.Scalar): Scalar {
    const plain = node.type === 'PLAIN' || node.type === undefined;
    return resolveScalar({ text: node.source ?? String(node.value ?? ''), plain, tag: node.tag }, () => this.where(node));
  }

  /** Any node, aliases followed (with a cycle guard). */
  value(input: unknown): TreeNode {
    const { lib } = this;
    const node = this.deref(input);
    if (node === null || node === undefined) return { kind: 'null' };
    if (this.#active.has(node)) throw new SopsFormatError(`${this.where(node as Yaml.Node)}: a recursive alias`);
    this.#active.add(node);
    try {
      if (lib.isMap(node)) return this.map(node);
      if (lib.isSeq(node)) return this.list(node);
      if (lib.isScalar(node)) return this.scalar(node);
      throw new SopsFormatError(`${this.where(node as Yaml.Node)}: unsupported YAML node`);
    } finally {
      this.#active.delete(node);
    }
  }

  /** A mapping; the comments before a key, or on its scalar value's line, become items before the entry (as sops's store does). */
  map(node: Yaml.YAMLMap): MapNode {
    const { lib } = this;
    const items: MapNode['items'] = [...commentItems(node.commentBefore)];
    for (const pair of node.items) {
      const keyNode = this.deref(pair.key);
      if (!lib.isScalar(keyNode)) throw new SopsFormatError(`${this.where(pair.key as Yaml.Node)}: a mapping key is not a string (sops supports string keys only)`);
      const key = this.scalar(keyNode);
      if (key.kind !== 'str') throw new SopsFormatError(`${this.where(keyNode)}: the mapping key is a ${key.kind}, not a string (quote it)`);
      items.push(...commentItems(keyNode.commentBefore), ...commentItems(keyNode.comment, true));
      const valueNode = this.deref(pair.value);
      const scalarValue = valueNode === null || valueNode === undefined || lib.isScalar(valueNode);
      if (scalarValue && valueNode) items.push(...commentItems((valueNode as Yaml.Scalar).commentBefore), ...commentItems((valueNode as Yaml.Scalar).comment, true));
      items.push({ kind: 'entry', key: key.value.toString('utf8'), value: this.value(pair.value) });
    }
    items.push(...commentItems(node.comment));
    return { kind: 'map', items };
  }

  /** A sequence, comments kept before the item they precede. */
  list(node: Yaml.YAMLSeq): ListNode {
    const { lib } = this;
    const items: ListNode['items'] = [...commentItems(node.commentBefore)];
    for (const item of node.items) {
      const target = this.deref(item);
      if (lib.isScalar(target)) items.push(...commentItems(target.commentBefore), ...commentItems(target.comment, true));
      items.push(this.value(item));
    }
    items.push(...commentItems(node.comment));
    return { kind: 'list', items };
  }

  /** A document as a branch: a mapping, or nothing (an empty document). */
  branch(): Branch {
    const { lib, doc } = this;
    const contents = this.deref(doc.contents);
    const head = commentItems(doc.commentBefore);
    const foot = commentItems(doc.comment);
    let map: MapNode;
    if (contents === null || contents === undefined) map = { kind: 'map', items: [] };
    else if (lib.isMap(contents)) map = this.map(contents);
    else if (lib.isSeq(contents)) throw new SopsFormatError(`${this.where(contents)}: YAML documents that are sequences are not supported`);
    else if (lib.isScalar(contents) && this.scalar(contents).kind === 'null') map = { kind: 'map', items: [] };
    else throw new SopsFormatError(`${this.where(contents as Yaml.Node)}: YAML documents that are values are not supported`);
    return { kind: 'map', items: [...head, ...map.items, ...foot] };
  }
}

/** Parses a YAML sops file into branches, one per document. */
export function parseYamlBranches(data: Buffer, lib: YamlLib): Branch[] {
  const text = data.toString('utf8');
  const docs = lib.parseAllDocuments(text, { version: '1.2', schema: 'failsafe', merge: false, uniqueKeys: true, prettyErrors: false, keepSourceTokens: false });
  const list = Array.isArray(docs) ? docs : [docs];
  for (const doc of list) {
    const error = doc.errors[0];
    // Only the code and position: the library's message may quote the line, and lines hold values.
    if (error) throw new SopsFormatError(`YAML syntax error (${error.code}) at ${lineOf(text, error.pos[0])}`);
  }
  // Before anything is expanded: the whole file against the limits.
  const targets = measureFile(lib, list, text);
  return list.map((doc) => new YamlReader(lib, doc, text, targets).branch());
}

// ---- emitting -------------------------------------------------------------------------------

class YamlWriter {
  constructor(private readonly lib: YamlLib) {}

  /** A scalar node; strings that yaml.v3 would read as something else are double-quoted. */
  scalar(value: Scalar): Yaml.Scalar {
    const { Scalar: ScalarNode } = this.lib;
    switch (value.kind) {
      case 'str':
      case 'bytes': {
        const text = value.value.toString('utf8');
        const node = new ScalarNode(text);
        if (needsQuotes(text)) node.type = 'QUOTE_DOUBLE';
        return node;
      }
      case 'time': {
        const node = new ScalarNode(formatRfc3339Nano(value.value));
        node.type = 'PLAIN';
        return node;
      }
      case 'null':
        return new ScalarNode(null);
      default:
        return new ScalarNode(value.value);
    }
  }

  /** A mapping key, quoted when it would not read back as a string. */
  key(text: string): Yaml.Scalar {
    const node = new this.lib.Scalar(text);
    if (needsQuotes(text)) node.type = 'QUOTE_DOUBLE';
    return node;
  }

  /** Any tree node as a yaml node. */
  node(value: TreeNode): Yaml.Node {
    if (value.kind === 'map') return this.map(value);
    if (value.kind === 'list') return this.list(value);
    return this.scalar(value);
  }

  /** Pending comments go before the next item (line comments on its value), leftovers after the last. */
  private attach(node: Yaml.Node, keyNode: Yaml.Scalar | undefined, before: string[], inline: string[]): void {
    const head = keyNode ?? node;
    if (before.length) head.commentBefore = before.join('\n');
    if (inline.length) {
      if (this.lib.isScalar(node)) node.comment = inline.join(' ');
      else head.commentBefore = [...before, ...inline].join('\n');
    }
  }

  /** Comments after a collection's last item belong to the collection (or before it, when it is empty). */
  private trailing(out: Yaml.YAMLMap | Yaml.YAMLSeq, rest: string[]): void {
    if (rest.length === 0) return;
    if (out.items.length) out.comment = rest.join('\n');
    else out.commentBefore = rest.join('\n');
  }

  /** A mapping, comments re-attached before the entry they preceded. */
  map(map: MapNode): Yaml.YAMLMap {
    const out = new this.lib.YAMLMap();
    let before: string[] = [];
    let inline: string[] = [];
    for (const item of map.items) {
      if (item.kind === 'comment') {
        (item.inline ? inline : before).push(item.text);
        continue;
      }
      const key = this.key(item.key);
      const value = this.node(item.value);
      this.attach(value, key, before, inline);
      out.items.push(new this.lib.Pair(key, value));
      before = [];
      inline = [];
    }
    this.trailing(out, [...before, ...inline]);
    return out;
  }

  /** A sequence, comments re-attached likewise. */
  list(list: ListNode): Yaml.YAMLSeq {
    const out = new this.lib.YAMLSeq();
    let before: string[] = [];
    let inline: string[] = [];
    for (const item of list.items) {
      if (item.kind === 'comment') {
        (item.inline ? inline : before).push(item.text);
        continue;
      }
      const value = this.node(item);
      this.attach(value, undefined, before, inline);
      out.items.push(value);
      before = [];
      inline = [];
    }
    this.trailing(out, [...before, ...inline]);
    return out;
  }

  /** One document as sops prints it: 4-space indent, sequences indented, no line folding. */
  document(node: TreeNode): string {
    const doc = new this.lib.Document(null, { version: '1.2' });
    doc.contents = this.node(node) as never;
    return doc.toString({ indent: 4, indentSeq: true, lineWidth: 0, minContentWidth: 0 });
  }
}

/** The decrypted file as YAML, documents separated by `---` (sops's EmitPlainFile). */
export function emitYamlFile(branches: readonly Branch[], lib: YamlLib): Buffer {
  const writer = new YamlWriter(lib);
  return Buffer.from(branches.map((b) => writer.document(b)).join('---\n'), 'utf8');
}

/** One subtree (a mapping or a list) as a YAML document. */
export function emitYamlValue(node: TreeNode, lib: YamlLib): Buffer {
  return Buffer.from(new YamlWriter(lib).document(node), 'utf8');
}

