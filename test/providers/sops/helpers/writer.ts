// A test-only sops *writer* (what `sops -e` does), to build files the vectors do not cover: several key
// groups with Shamir shares, every value type, each encryption rule, 1,000 keys. Data keys and shares
// are wrapped by the real `age` CLI (and real gpg); values are AES-256-GCM with their path as
// additional data; the MAC is computed here from the plaintext, independently of the reader's walk.
import { execFileSync } from 'node:child_process';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { formatRfc3339Nano, goFormatFloat } from '../../../../src/providers/sops/gotypes.js';
import type { Branch, ListNode, MapNode, Scalar, TreeNode } from '../../../../src/providers/sops/tree.js';
import { emitYamlFile } from '../../../../src/providers/sops/formats/yaml.js';
import { emitJsonFile } from '../../../../src/providers/sops/formats/json.js';
import { emitIniFile } from '../../../../src/providers/sops/formats/ini.js';
import * as yaml from 'yaml';

/** Shamir split over GF(2^8)/0x11B, Go's share layout (values ‖ x, x = 1..n). Tests only. */
export function shamirSplit(secret: Buffer, parts: number, threshold: number, mul: (a: number, b: number) => number): Buffer[] {
  const shares = Array.from({ length: parts }, (_, i) => {
    const s = Buffer.alloc(secret.length + 1);
    s[secret.length] = i + 1;
    return s;
  });
  for (let byte = 0; byte < secret.length; byte++) {
    const coefficients = [secret[byte]!, ...randomBytes(threshold - 1)];
    shares.forEach((share, i) => {
      const x = i + 1;
      // Horner: p(x) = c0 + x(c1 + x(c2 + …)).
      let y = 0;
      for (let c = coefficients.length - 1; c >= 0; c--) y = mul(y, x) ^ coefficients[c]!;
      share[byte] = y;
    });
  }
  return shares;
}

/** Wraps a data key (or share) to an age recipient with the real CLI: the armored text sops stores. */
export function ageWrap(key: Buffer, recipient: string): string {
  return execFileSync('age', ['-r', recipient, '-a'], { input: key, stdio: ['pipe', 'pipe', 'pipe'] }).toString('utf8');
}

/** Wraps a data key to a PGP key with the real gpg (test home given). */
export function pgpWrap(key: Buffer, gnupgHome: string, fingerprint: string): string {
  return execFileSync('gpg', ['--batch', '--quiet', '--trust-model', 'always', '--armor', '--encrypt', '--recipient', fingerprint], {
    input: key,
    env: { PATH: process.env.PATH, GNUPGHOME: gnupgHome },
    stdio: ['pipe', 'pipe', 'pipe'],
  }).toString('utf8');
}

export interface KeyGroupSpec {
  age?: { recipient: string; enc: string }[];
  pgp?: { fp: string; enc: string }[];
}

export interface WriteOptions {
  dataKey: Buffer;
  /** One group: written as top-level key lists; several: `key_groups` + `shamir_threshold`. */
  groups: KeyGroupSpec[];
  threshold?: number;
  lastModified?: string;
  /** The encryption rule written in the metadata (default: none, which means `_unencrypted` suffix). */
  rule?: { field: 'unencrypted_suffix' | 'encrypted_suffix' | 'unencrypted_regex' | 'encrypted_regex' | 'unencrypted_comment_regex' | 'encrypted_comment_regex'; value: string };
  /**
   * Which leaves the writer encrypts, decided by the test (not by the reader's rule code): by path
   * (map keys) and the comments before the item. Default: none of the path keys ends in `_unencrypted`.
   */
  encrypt?: (path: readonly string[], comments: readonly string[]) => boolean;
  /** Which comments are encrypted (default: those not under an `_unencrypted` key, as sops does). */
  encryptComment?: (path: readonly string[], text: string) => boolean;
  macOnlyEncrypted?: boolean;
  /** INI only: write multi-line metadata in `"""` blocks, as sops 3.13.0–3.13.1 did. */
  iniTripleQuotes?: boolean;
  /** Tamper hook: change the computed MAC hex before it is encrypted. */
  macHex?: (hex: string) => string;
}

function sealed(key: Buffer, plaintext: Buffer, aad: string, type: string): string {
  const iv = randomBytes(32);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  cipher.setAAD(Buffer.from(aad));
  const data = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return `ENC[AES256_GCM,data:${data.toString('base64')},iv:${iv.toString('base64')},tag:${cipher.getAuthTag().toString('base64')},type:${type}]`;
}

/** The plaintext bytes and sops type name of a value (`aes.Cipher.Encrypt`). */
function plainOf(v: Scalar): [Buffer, string] {
  switch (v.kind) {
    case 'str':
      return [v.value, 'str'];
    case 'bytes':
      return [v.value, 'bytes'];
    case 'int':
      return [Buffer.from(v.value.toString()), 'int'];
    case 'float':
      return [Buffer.from(goFormatFloat(v.value)), 'float'];
    case 'bool':
      return [Buffer.from(v.value ? 'True' : 'False'), 'bool'];
    case 'time':
      return [Buffer.from(formatRfc3339Nano(v.value)), 'time'];
    case 'null':
      return [Buffer.alloc(0), 'str'];
  }
}

const defaultEncrypt = (path: readonly string[]) => !path.some((k) => k.endsWith('_unencrypted'));

/** Encrypts plaintext branches and returns them with the MAC hex (`sops.Tree.Encrypt`). */
export function encryptBranches(branches: readonly Branch[], options: WriteOptions): { branches: Branch[]; mac: string } {
  const hash = createHash('sha512');
  if (options.macOnlyEncrypted) hash.update(createHash('sha256').update('sops').digest());
  const shouldEncrypt = options.encrypt ?? defaultEncrypt;
  const shouldEncryptComment = options.encryptComment ?? ((path: readonly string[]) => defaultEncrypt(path));
  const leaf = (v: Scalar, path: string[], comments: string[]): Scalar => {
    if (v.kind === 'null') return v;
    const encrypted = shouldEncrypt(path, comments);
    const [plain, type] = plainOf(v);
    if (!options.macOnlyEncrypted || encrypted) hash.update(plain);
    if (!encrypted) return v;
    if (plain.length === 0 && type === 'str') return v;
    return { kind: 'str', value: Buffer.from(sealed(options.dataKey, plain, `${path.join(':')}:`, type)) };
  };
  const node = (n: TreeNode, path: string[], comments: string[]): TreeNode => {
    if (n.kind === 'map') return map(n, path);
    if (n.kind === 'list') return list(n, path);
    return leaf(n, path, comments);
  };
  const comment = (text: string, path: string[]) =>
    shouldEncryptComment(path, text) ? sealed(options.dataKey, Buffer.from(text), `${path.join(':')}:`, 'comment') : text;
  const map = (m: MapNode, path: string[]): MapNode => {
    let comments: string[] = [];
    return {
      kind: 'map',
      items: m.items.map((item) => {
        if (item.kind === 'comment') {
          comments.push(item.text);
          return { ...item, text: comment(item.text, path) };
        }
        const out = { ...item, value: node(item.value, [...path, item.key], comments) };
        comments = [];
        return out;
      }),
    };
  };
  const list = (l: ListNode, path: string[]): ListNode => {
    let comments: string[] = [];
    return {
      kind: 'list',
      items: l.items.map((item) => {
        if (item.kind === 'comment') {
          comments.push(item.text);
          return { ...item, text: comment(item.text, path) };
        }
        const out = node(item, path, comments);
        comments = [];
        return out;
      }),
    };
  };
  const out = branches.map((b) => map(b, []));
  return { branches: out, mac: hash.digest('hex').toUpperCase() };
}

const s = (text: string): Scalar => ({ kind: 'str', value: Buffer.from(text) });
const m = (pairs: [string, TreeNode][]): MapNode => ({ kind: 'map', items: pairs.map(([key, value]) => ({ kind: 'entry', key, value })) });

/** The metadata tree (`stores.metadata`), nested. */
function metadataTree(options: WriteOptions, mac: string): MapNode {
  const lastModified = options.lastModified ?? '2024-05-01T10:20:30Z';
  const ageList = (keys: KeyGroupSpec['age'] = []) => ({ kind: 'list', items: keys.map((k) => m([['recipient', s(k.recipient)], ['enc', s(k.enc)]])) }) as ListNode;
  const pgpList = (keys: KeyGroupSpec['pgp'] = []) => ({ kind: 'list', items: keys.map((k) => m([['created_at', s(lastModified)], ['enc', s(k.enc)], ['fp', s(k.fp)]])) }) as ListNode;
  const pairs: [string, TreeNode][] = [];
  if (options.groups.length === 1) {
    pairs.push(['age', ageList(options.groups[0]!.age)], ['pgp', pgpList(options.groups[0]!.pgp)]);
  } else {
    pairs.push(['key_groups', { kind: 'list', items: options.groups.map((g) => m([['age', ageList(g.age)], ['pgp', pgpList(g.pgp)]])) }]);
    pairs.push(['shamir_threshold', { kind: 'int', value: BigInt(options.threshold ?? options.groups.length) }]);
  }
  const macText = options.macHex ? options.macHex(mac) : mac;
  pairs.push(['lastmodified', s(lastModified)], ['mac', s(sealed(options.dataKey, Buffer.from(macText), lastModified, 'str'))]);
  if (options.rule) pairs.push([options.rule.field, s(options.rule.value)]);
  else pairs.push(['unencrypted_suffix', s('_unencrypted')]);
  if (options.macOnlyEncrypted) pairs.push(['mac_only_encrypted', { kind: 'bool', value: true }]);
  pairs.push(['version', s('3.9.4')]);
  return m(pairs);
}

/** `sops` metadata flattened (dotenv and INI): `age__list_0__map_enc`. */
function flatten(node: TreeNode, prefix: string, out: [string, string][]): void {
  if (node.kind === 'map') {
    for (const item of node.items) if (item.kind === 'entry') flatten(item.value, prefix ? `${prefix}__map_${item.key}` : item.key, out);
  } else if (node.kind === 'list') {
    node.items.forEach((item, i) => flatten(item as TreeNode, `${prefix}__list_${i}`, out));
  } else {
    out.push([prefix, node.kind === 'str' ? node.value.toString() : node.kind === 'bool' ? String(node.value) : node.kind === 'int' ? node.value.toString() : '']);
  }
}

export type Format = 'yaml' | 'json' | 'dotenv' | 'ini' | 'binary';

/** Writes an encrypted sops file from plaintext branches, in the given format. */
export function writeSops(format: Format, plain: readonly Branch[], options: WriteOptions): Buffer {
  const { branches, mac } = encryptBranches(plain, options);
  const meta = metadataTree(options, mac);
  if (format === 'yaml' || format === 'json' || format === 'binary') {
    const withMeta = branches.map((b, i) => (i === 0 ? { ...b, items: [...b.items, { kind: 'entry' as const, key: 'sops', value: meta }] } : b));
    return format === 'yaml' ? emitYamlFile(withMeta, yaml) : emitJsonFile(withMeta);
  }
  const flat: [string, string][] = [];
  flatten(meta, '', flat);
  if (format === 'dotenv') {
    const body = branches[0]!.items.map((item) => (item.kind === 'comment' ? `#${item.text}\n` : `${item.key}=${(item.value as Scalar & { value: Buffer }).value.toString().replaceAll('\n', '\\n')}\n`));
    return Buffer.from(body.join('') + flat.map(([k, v]) => `sops_${k}=${v.replaceAll('\n', '\\n')}\n`).join(''));
  }
  const sopsSection = m(flat.map(([k, v]) => [k, s(options.iniTripleQuotes ? v : v.replaceAll('\n', '\\n'))]));
  return emitIniFile([{ ...branches[0]!, items: [...branches[0]!.items, { kind: 'entry', key: 'sops', value: sopsSection }] }]);
}

/** A fresh random data key. */
export const newDataKey = () => randomBytes(32);
