// The `sops` metadata block (`stores/stores.go`, `stores/metadata.go`, `stores/flatten.go`): found
// under a `sops` key (YAML, JSON, binary), in a `[sops]` section of flattened names (INI) or as
// `sops_`-prefixed flattened lines (dotenv); read with mapstructure's weak typing, as sops does.
import { SopsFormatError } from './errors.js';
import { formatRfc3339, goParseBool, goParseIntBase0, parseRfc3339 } from './gotypes.js';
import { scalarBytes } from './formats/text.js';
import type { EncryptionRules } from './rules.js';
import { entries, type Branch, type Entry, type MapNode, type TreeNode } from './tree.js';

export type MasterKey =
  | { type: 'age'; recipient: string; enc: string }
  | { type: 'pgp'; fingerprint: string; enc: string }
  /** Key services this program cannot use (kms, gcp_kms, azure_kv, hc_vault, hckms): listed for messages. */
  | { type: 'unsupported'; service: string; id: string };

export type KeyGroup = MasterKey[];

export interface SopsMetadata {
  /** `lastmodified` re-formatted as RFC 3339 (`Z` for UTC): the MAC's additional data. */
  macAad: string;
  /** The encrypted MAC (`ENC[…]`), or `''` when the file has none. */
  mac: string;
  rules: EncryptionRules;
  macOnlyEncrypted: boolean;
  /** Groups needed to recover the data key (1 when there is a single group). */
  threshold: number;
  groups: KeyGroup[];
}

/** Metadata as plain values: maps, lists and scalar text (mapstructure's input). */
type Loose = string | null | Loose[] | Map<string, Loose>;

const METADATA_KEY = 'sops';
const PREFIX = 'sops_';

/** A metadata scalar as text (mapstructure's weak typing converts between text and numbers/booleans). */
function scalarText(node: TreeNode): string | null {
  if (node.kind === 'map' || node.kind === 'list') throw new SopsFormatError('sops metadata: a scalar was expected');
  return node.kind === 'null' ? null : scalarBytes(node, 'go').toString('utf8');
}

/** A metadata subtree as maps, lists and text. */
function toLoose(node: TreeNode): Loose {
  if (node.kind === 'map') return new Map(entries(node).map((e) => [e.key, toLoose(e.value)]));
  if (node.kind === 'list') return node.items.filter((i) => i.kind !== 'comment').map((i) => toLoose(i as TreeNode));
  return scalarText(node);
}

type Token = { map: string } | { list: number };

/** Splits `key_groups__list_1__map_age__list_0__map_enc` like sops's `tokenize`. */
function tokenize(path: string): Token[] {
  const tokens: Token[] = [];
  const re = /__(map|list)_/g;
  let last = 0;
  let kind: 'map' | 'list' | 'first' = 'first';
  const push = (end: number) => {
    const text = path.slice(last, end);
    tokens.push(kind === 'list' ? { list: /^[+-]?[0-9]+$/.test(text) ? Number(text) : 0 } : { map: text });
  };
  for (let m = re.exec(path); m; m = re.exec(path)) {
    push(m.index);
    kind = m[1] as 'map' | 'list';
    last = m.index + m[0].length;
  }
  push(path.length);
  return tokens;
}

interface FlatNode {
  value?: Loose;
  keys?: Map<string, FlatNode>;
  indices?: Map<number, FlatNode>;
}

/** sops's `convert`: a flattened node back to a value, map or complete list. */
function convertFlat(node: FlatNode, name: string): Loose {
  const kinds = [node.value !== undefined, !!node.keys?.size, !!node.indices?.size].filter(Boolean).length;
  if (kinds > 1) throw new SopsFormatError(`sops metadata: ${name} is both a value and a structure`);
  if (node.value !== undefined) return node.value;
  if (node.indices?.size) {
    const max = Math.max(...node.indices.keys());
    if (Math.min(...node.indices.keys()) !== 0 || max + 1 !== node.indices.size) throw new SopsFormatError(`sops metadata: ${name} is an incomplete list`);
    return Array.from({ length: max + 1 }, (_, i) => convertFlat(node.indices!.get(i)!, name));
  }
  return new Map([...(node.keys ?? new Map<string, FlatNode>())].map(([k, v]) => [k, convertFlat(v, k)]));
}

/** Rebuilds nested metadata from flattened names (`stores/flatten.go` unflattenTreeBranch). */
function unflatten(items: readonly Entry[], escapedNewlines: boolean): Loose {
  const root: FlatNode = {};
  for (const item of items) {
    let node = root;
    for (const token of tokenize(item.key)) {
      if ('map' in token) {
        node.keys ??= new Map();
        if (!node.keys.has(token.map)) node.keys.set(token.map, {});
        node = node.keys.get(token.map)!;
      } else {
        node.indices ??= new Map();
        if (!node.indices.has(token.list)) node.indices.set(token.list, {});
        node = node.indices.get(token.list)!;
      }
    }
    if (node.value !== undefined) throw new SopsFormatError(`sops metadata: ${item.key} appears twice`);
    let value = item.value.kind === 'map' || item.value.kind === 'list' ? toLoose(item.value) : scalarText(item.value);
    if (escapedNewlines && typeof value === 'string') value = value.replaceAll('\\n', '\n');
    node.value = value;
  }
  return convertFlat(root, 'sops');
}

export type MetadataLayout = 'nested' | 'section' | 'prefixed';

/**
 * Takes the metadata out of the branches (`ExtractMetadata`): in YAML only the first document's copy
 * counts, and a `sops` key is removed from every document. Returns the data branches and the
 * metadata, or throws when there is none.
 */
export function extractMetadata(branches: Branch[], layout: MetadataLayout): { branches: Branch[]; metadata: SopsMetadata } {
  let raw: Loose | undefined;
  if (layout === 'prefixed') {
    const first = branches[0];
    if (first) {
      const flat: Entry[] = [];
      first.items = first.items.filter((item) => {
        if (item.kind !== 'entry' || !item.key.startsWith(PREFIX)) return true;
        flat.push({ ...item, key: item.key.slice(PREFIX.length) });
        return false;
      });
      if (flat.length > 0) raw = unflatten(flat, false);
    }
  } else {
    branches.forEach((branch, index) => {
      branch.items = branch.items.filter((item) => {
        if (item.kind !== 'entry' || item.key !== METADATA_KEY) return true;
        if (index === 0) {
          if (raw !== undefined) throw new SopsFormatError('the file has two sops metadata entries');
          if (item.value.kind !== 'map') throw new SopsFormatError('the sops entry is not a mapping');
          raw = layout === 'section' ? unflatten(entries(item.value as MapNode), true) : toLoose(item.value);
        }
        return false;
      });
    });
  }
  if (raw === undefined) throw new SopsFormatError('it has no sops metadata (not a sops-encrypted file, or the wrong format)');
  return { branches, metadata: decodeMetadata(raw) };
}

/** One metadata field (mapstructure ignores unknown ones, and so does this). */
function field(map: Map<string, Loose>, name: string): Loose | undefined {
  return map.get(name);
}

/** A string field; absent is empty, as in Go. */
function asString(value: Loose | undefined, name: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new SopsFormatError(`sops metadata: ${name} should be a string`);
  return value;
}

/** A list of key entries; absent, `[]` and `null` are all empty. */
function asList(value: Loose | undefined, name: string): Map<string, Loose>[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new SopsFormatError(`sops metadata: ${name} should be a list`);
  return value.map((v) => {
    if (!(v instanceof Map)) throw new SopsFormatError(`sops metadata: each entry of ${name} should be a mapping`);
    return v;
  });
}

/** An int field with mapstructure's weak typing (`"2"` is 2). */
function asInt(value: Loose | undefined, name: string): number {
  if (value === undefined || value === null || value === '') return 0;
  if (typeof value !== 'string') throw new SopsFormatError(`sops metadata: ${name} should be an integer`);
  const bool = value === 'true' ? 1n : value === 'false' ? 0n : undefined;
  const n = bool ?? goParseIntBase0(value) ?? (Number.isFinite(Number(value)) ? BigInt(Math.trunc(Number(value))) : undefined);
  if (n === undefined || n < 0n || n > 255n) throw new SopsFormatError(`sops metadata: ${name} should be an integer from 0 to 255`);
  return Number(n);
}

/** A bool field with mapstructure's weak typing (`"true"`, 1). */
function asBool(value: Loose | undefined, name: string): boolean {
  if (value === undefined || value === null || value === '') return false;
  if (typeof value !== 'string') throw new SopsFormatError(`sops metadata: ${name} should be a boolean`);
  const b = goParseBool(value) ?? (goParseIntBase0(value) !== undefined ? goParseIntBase0(value) !== 0n : undefined);
  if (b === undefined) throw new SopsFormatError(`sops metadata: ${name} should be a boolean`);
  return b;
}

const UNSUPPORTED: Record<string, string> = { kms: 'arn', gcp_kms: 'resource_id', azure_kv: 'vault_url', hc_vault: 'vault_address', hckms: 'key_id' };

/** One group's keys in sops's internal order (kms, gcp, hckms, azure, vault, pgp, age). */
function groupFrom(map: Map<string, Loose>, where: string): KeyGroup {
  const keys: KeyGroup = [];
  for (const service of ['kms', 'gcp_kms', 'hckms', 'azure_kv', 'hc_vault']) {
    for (const k of asList(field(map, service), `${where}${service}`)) {
      keys.push({ type: 'unsupported', service, id: asString(k.get(UNSUPPORTED[service]!), `${where}${service}`) });
    }
  }
  for (const k of asList(field(map, 'pgp'), `${where}pgp`)) {
    keys.push({ type: 'pgp', fingerprint: asString(k.get('fp'), `${where}pgp.fp`), enc: asString(k.get('enc'), `${where}pgp.enc`) });
  }
  for (const k of asList(field(map, 'age'), `${where}age`)) {
    keys.push({ type: 'age', recipient: asString(k.get('recipient'), `${where}age.recipient`), enc: asString(k.get('enc'), `${where}age.enc`) });
  }
  return keys;
}

const RULE_FIELDS = ['unencrypted_suffix', 'encrypted_suffix', 'unencrypted_regex', 'encrypted_regex', 'unencrypted_comment_regex', 'encrypted_comment_regex'] as const;

/** `metadata.ToInternal`: lastmodified, one encryption rule (default `_unencrypted`), key groups. */
function decodeMetadata(raw: Loose): SopsMetadata {
  if (!(raw instanceof Map)) throw new SopsFormatError('the sops entry is not a mapping');
  const lastModified = parseRfc3339(asString(field(raw, 'lastmodified'), 'lastmodified'));
  if (!lastModified) throw new SopsFormatError('sops metadata: lastmodified is missing or not an RFC 3339 time');

  const set = RULE_FIELDS.filter((f) => asString(field(raw, f), f) !== '');
  if (set.length > 1) throw new SopsFormatError(`sops metadata: only one of ${RULE_FIELDS.join(', ')} may be set (found ${set.join(', ')})`);
  const rule = set[0] ?? 'unencrypted_suffix';
  const text = set[0] ? asString(field(raw, rule), rule) : '_unencrypted';
  const rules: EncryptionRules = {};
  if (rule === 'unencrypted_suffix') rules.unencryptedSuffix = text;
  else if (rule === 'encrypted_suffix') rules.encryptedSuffix = text;
  // Regular expressions are compiled later (compileRules), with an engine loaded only for them.
  else if (rule === 'unencrypted_regex') rules.unencryptedRegex = { pattern: text, field: rule };
  else if (rule === 'encrypted_regex') rules.encryptedRegex = { pattern: text, field: rule };
  else if (rule === 'unencrypted_comment_regex') rules.unencryptedCommentRegex = { pattern: text, field: rule };
  else rules.encryptedCommentRegex = { pattern: text, field: rule };

  // A non-empty top-level key list makes one group of them all; otherwise key_groups are the groups.
  const topLevel = groupFrom(raw, '');
  let groups: KeyGroup[];
  if (topLevel.length > 0) groups = [topLevel];
  else groups = asList(field(raw, 'key_groups'), 'key_groups').map((g, i) => groupFrom(g, `key_groups[${i}].`));
  if (groups.length === 0) throw new SopsFormatError('sops metadata: no keys found in the file');

  const declared = asInt(field(raw, 'shamir_threshold'), 'shamir_threshold');
  // sops writes the threshold whenever it splits (never below 2); a missing one means every group is needed.
  const threshold = groups.length === 1 ? 1 : declared === 0 ? groups.length : Math.max(declared, 2);
  if (threshold > groups.length) throw new SopsFormatError(`sops metadata: shamir_threshold ${threshold} is more than the ${groups.length} key groups`);
  return {
    macAad: formatRfc3339(lastModified),
    mac: asString(field(raw, 'mac'), 'mac'),
    rules,
    macOnlyEncrypted: asBool(field(raw, 'mac_only_encrypted'), 'mac_only_encrypted'),
    threshold,
    groups,
  };
}
