// A test-only sops *writer* (what `sops -e` does), for files the vectors do not cover: several key
// groups with Shamir shares, every value type, each encryption rule, 1,000 keys. It imports nothing
// from src/: the test states each value as sops would hold it (its Go string form and sops type,
// whether it is encrypted), and this file writes the text of each format itself. Data keys and
// shares are wrapped by the real `age` CLI (and real gpg); values are AES-256-GCM with their path as
// additional data; the MAC is SHA-512 over the stated Go forms in document order (sops.go,
// Tree.Encrypt; /work/shared/notes/sops-format.md §3-4). No real sops binary can be installed here
// (none ships in Debian 12 or on npm: the npm `sops` package downloads one from GitHub at install).
import { execFileSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { seededBytes, seededRandom } from '../../../helpers/random.js';

const random = seededRandom(0x5095);
/** Seeded bytes (IVs, data keys, share coefficients): TEST_SEED replays them. */
const bytes = (n: number) => seededBytes(random, n);

export type SopsType = 'str' | 'int' | 'float' | 'bool' | 'time' | 'bytes';

/** A value sops encrypts: its Go string form (what the MAC hashes: `True`, `1.5`, RFC 3339) and type. */
export interface Enc {
  enc: string | Buffer;
  type: SopsType;
}
/** A value left in clear: its text in the file's format, and the Go form the MAC hashes ('' for null and ""). */
export interface Clear {
  clear: string;
  mac: string;
}
/** A comment: encrypted (`#ENC[…,type:comment]`) unless `clear`. Comments are not in the MAC. */
export interface Note {
  comment: string;
  clear?: boolean;
}
export type Node = Enc | Clear | MapDoc | ListDoc;
/** A map: entries in order (an entry may carry an inline YAML comment), and comments between them. */
export interface MapDoc {
  map: (readonly [string, Node] | readonly [string, Node, Note] | Note)[];
}
export interface ListDoc {
  list: (Node | Note)[];
}

export const enc = (value: string | Buffer, type: SopsType = 'str'): Enc => ({ enc: value, type });
export const clear = (text: string, mac = text): Clear => ({ clear: text, mac });
export const note = (comment: string, isClear = false): Note => ({ comment, clear: isClear });
export const map = (...items: MapDoc['map']): MapDoc => ({ map: items });
export const list = (...items: ListDoc['list']): ListDoc => ({ list: items });

/** Shamir split over GF(2^8)/0x11B, Go's share layout (values ‖ x, x = 1..n), with its own field arithmetic. */
export function shamirSplit(secret: Buffer, parts: number, threshold: number): Buffer[] {
  const shares = Array.from({ length: parts }, (_, i) => {
    const s = Buffer.alloc(secret.length + 1);
    s[secret.length] = i + 1;
    return s;
  });
  for (let byte = 0; byte < secret.length; byte++) {
    const coefficients = [secret[byte]!, ...bytes(threshold - 1)];
    shares.forEach((share, i) => {
      const x = i + 1;
      // Horner: p(x) = c0 + x(c1 + x(c2 + …)).
      let y = 0;
      for (let c = coefficients.length - 1; c >= 0; c--) y = fieldMul(y, x) ^ coefficients[c]!;
      share[byte] = y;
    });
  }
  return shares;
}

// GF(2^8) by exponent and logarithm tables of the generator 3 (0x03 generates the AES field's
// multiplicative group): another algorithm than the product in src/, checked against FIPS-197's
// examples in shamir.test.ts.
const EXP = new Uint8Array(510);
const LOG = new Uint8Array(256);
for (let i = 0, x = 1; i < 255; i++) {
  EXP[i] = EXP[i + 255] = x;
  LOG[x] = i;
  x ^= (x << 1) ^ (x & 0x80 ? 0x11b : 0); // x · 3 = x · 2 ⊕ x, reduced
}
export function fieldMul(a: number, b: number): number {
  return a === 0 || b === 0 ? 0 : EXP[LOG[a]! + LOG[b]!]!;
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
  /** The rule written in the metadata (default `unencrypted_suffix: _unencrypted`); which values are encrypted is the document's say. */
  rule?: { field: 'unencrypted_suffix' | 'encrypted_suffix' | 'unencrypted_regex' | 'encrypted_regex' | 'unencrypted_comment_regex' | 'encrypted_comment_regex'; value: string };
  macOnlyEncrypted?: boolean;
  /** INI only: write multi-line metadata in `"""` blocks, as sops 3.13.0–3.13.1 did. */
  iniTripleQuotes?: boolean;
  /** Tamper hook: change the computed MAC hex before it is encrypted. */
  macHex?: (hex: string) => string;
}

/** `ENC[AES256_GCM,…]` of a plaintext (aes/cipher.go): 32-byte IV, 16-byte tag, standard base64. */
function sealed(key: Buffer, plaintext: Buffer, aad: string, type: string): string {
  const iv = bytes(32);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  cipher.setAAD(Buffer.from(aad));
  const data = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return `ENC[AES256_GCM,data:${data.toString('base64')},iv:${iv.toString('base64')},tag:${cipher.getAuthTag().toString('base64')},type:${type}]`;
}

/** A document resolved to text: every value is what the file holds (ENC[…] or the clear text). */
type Out = { text: string; quote: boolean } | { map: OutItem[] } | { list: (Out | { comment: string })[] };
type OutItem = { key: string; value: Out; inline?: string } | { comment: string };

const isNote = (n: unknown): n is Note => typeof n === 'object' && n !== null && 'comment' in n;

/** Encrypts a document (`sops.Tree.Encrypt`): values in order, the MAC over their Go forms. */
function encryptDoc(docs: readonly MapDoc[], options: WriteOptions): { out: Out[]; mac: string } {
  const hash = createHash('sha512');
  if (options.macOnlyEncrypted) hash.update(createHash('sha256').update('sops').digest());
  const aad = (path: readonly string[]) => `${path.join(':')}:`;
  const comment = (n: Note, path: readonly string[]) => (n.clear ? n.comment : sealed(options.dataKey, Buffer.from(n.comment), aad(path), 'comment'));
  const node = (n: Node, path: readonly string[]): Out => {
    if ('map' in n) {
      return {
        map: n.map.map((item): OutItem => {
          if (isNote(item)) return { comment: comment(item, path) };
          const [key, value, inline] = item as readonly [string, Node, Note?];
          // An inline comment belongs to the map it stands in, as the comments between entries do.
          return { key, value: node(value, [...path, key]), ...(inline ? { inline: comment(inline, path) } : {}) };
        }),
      };
    }
    if ('list' in n) return { list: n.list.map((item) => (isNote(item) ? { comment: comment(item, path) } : node(item, path))) };
    if ('clear' in n) {
      if (!options.macOnlyEncrypted) hash.update(n.mac);
      return { text: n.clear, quote: false };
    }
    const plain = Buffer.isBuffer(n.enc) ? n.enc : Buffer.from(n.enc);
    hash.update(plain);
    return { text: sealed(options.dataKey, plain, aad(path), n.type), quote: true };
  };
  const out = docs.map((d) => node(d, []));
  return { out, mac: hash.digest('hex').toUpperCase() };
}

/** The metadata (`stores.Metadata`), as a document of clear strings. */
function metadata(options: WriteOptions, mac: string): MapDoc {
  const lastModified = options.lastModified ?? '2024-05-01T10:20:30Z';
  const s = (text: string) => clear(text);
  const ages = (keys: KeyGroupSpec['age'] = []) => list(...keys.map((k) => map(['recipient', s(k.recipient)], ['enc', s(k.enc)])));
  const pgps = (keys: KeyGroupSpec['pgp'] = []) => list(...keys.map((k) => map(['created_at', s(lastModified)], ['enc', s(k.enc)], ['fp', s(k.fp)])));
  const items: MapDoc['map'] = [];
  if (options.groups.length === 1) items.push(['age', ages(options.groups[0]!.age)], ['pgp', pgps(options.groups[0]!.pgp)]);
  else {
    items.push(['key_groups', list(...options.groups.map((g) => map(['age', ages(g.age)], ['pgp', pgps(g.pgp)])))]);
    items.push(['shamir_threshold', clear(String(options.threshold ?? options.groups.length))]);
  }
  const macText = options.macHex ? options.macHex(mac) : mac;
  // The MAC is a `str` whose additional data is lastmodified (RFC 3339, as written here).
  items.push(['lastmodified', s(lastModified)], ['mac', s(sealed(options.dataKey, Buffer.from(macText), lastModified, 'str'))]);
  items.push(options.rule ? [options.rule.field, s(options.rule.value)] : ['unencrypted_suffix', s('_unencrypted')]);
  if (options.macOnlyEncrypted) items.push(['mac_only_encrypted', clear('true')]);
  items.push(['version', s('3.9.4')]);
  return map(...items);
}

/** Metadata as plain text nodes (nothing in it is encrypted or hashed). */
function plainOut(n: Node): Out {
  if ('map' in n) return { map: n.map.filter((i) => !isNote(i)).map((i) => ({ key: (i as [string, Node])[0], value: plainOut((i as [string, Node])[1]) })) };
  if ('list' in n) return { list: n.list.filter((i) => !isNote(i)).map((i) => plainOut(i as Node)) };
  if ('clear' in n) return { text: n.clear, quote: !/^(true|false|-?\d+)$/.test(n.clear) };
  throw new Error('metadata holds clear values only');
}

// ---- YAML, as sops writes it (yaml.v3, 4-space indent, list items indented under their key) ----

function yamlScalar(text: string, quote: boolean, forMetadata: boolean): string {
  // Values are written as the test gave them; metadata strings are plain unless multi-line.
  if (forMetadata && quote && text.includes('\n')) return `|\n${text.replace(/\n$/, '').split('\n').map((l) => `    ${l}`).join('\n')}`;
  // Times in the metadata are quoted, as sops writes them (a plain one would read as a timestamp).
  if (forMetadata && /^\d{4}-\d\d-\d\d/.test(text)) return JSON.stringify(text);
  return text;
}

/** A mapping key as YAML text: quoted when a plain one would not read back as this string. */
const yamlKey = (key: string) => (/^([0-9+.-].*|true|false|null|~|)$/i.test(key) || /[:#]/.test(key) ? JSON.stringify(key) : key);

function yamlLines(n: Out, indent: string, meta: boolean): string[] {
  const lines: string[] = [];
  if ('map' in n) {
    for (const item of n.map) {
      if ('comment' in item) {
        lines.push(`${indent}#${item.comment}`);
        continue;
      }
      const v = item.value;
      const inline = item.inline ? ` #${item.inline}` : '';
      if ('text' in v) {
        const scalar = yamlScalar(v.text, v.quote, meta);
        lines.push(`${indent}${yamlKey(item.key)}: ${scalar.replaceAll('\n', `\n${indent}`)}${inline}`);
      } else if ('map' in v && v.map.length === 0) lines.push(`${indent}${yamlKey(item.key)}: {}`);
      else if ('list' in v && v.list.length === 0) lines.push(`${indent}${yamlKey(item.key)}: []`);
      else lines.push(`${indent}${yamlKey(item.key)}:${inline}`, ...yamlLines(v, `${indent}    `, meta));
    }
  } else if ('list' in n) {
    for (const item of n.list) {
      if ('comment' in item) lines.push(`${indent}#${item.comment}`);
      else if ('text' in item) lines.push(`${indent}- ${yamlScalar(item.text, item.quote, meta).replaceAll('\n', `\n${indent}  `)}`);
      else {
        const inner = yamlLines(item, `${indent}  `, meta);
        lines.push(`${indent}- ${inner[0]!.trimStart()}`, ...inner.slice(1));
      }
    }
  }
  return lines;
}

// ---- JSON, as sops writes it (json.Indent with a tab) ----

function jsonText(n: Out, indent: string): string {
  const inner = `${indent}\t`;
  if ('text' in n) return n.quote ? JSON.stringify(n.text) : n.text;
  if ('map' in n) {
    const entries = n.map.filter((i): i is { key: string; value: Out } => 'key' in i);
    if (entries.length === 0) return '{}';
    return `{\n${entries.map((e) => `${inner}${JSON.stringify(e.key)}: ${jsonText(e.value, inner)}`).join(',\n')}\n${indent}}`;
  }
  const items = n.list.filter((i): i is Out => !('comment' in i && !('text' in i)));
  if (items.length === 0) return '[]';
  return `[\n${items.map((i) => `${inner}${jsonText(i, inner)}`).join(',\n')}\n${indent}]`;
}

/** Flattened metadata (`stores/flatten.go`): `age__list_0__map_enc`. */
function flatten(n: Out, prefix: string, out: [string, string][]): void {
  if ('map' in n) {
    for (const i of n.map) if ('key' in i) flatten(i.value, prefix ? `${prefix}__map_${i.key}` : i.key, out);
  } else if ('list' in n) n.list.forEach((i, k) => flatten(i as Out, `${prefix}__list_${k}`, out));
  else out.push([prefix, n.text]);
}

export type Format = 'yaml' | 'json' | 'dotenv' | 'ini' | 'binary';

/**
 * Writes an encrypted sops file. `docs`: the document(s) (several only for YAML); for dotenv one
 * map of values and comments; for INI one map of sections (`DEFAULT` first for keys outside a
 * section), each a map of values and comments; for binary use `binaryDoc`.
 */
export function writeSops(format: Format, docs: readonly MapDoc[], options: WriteOptions): Buffer {
  const { out, mac } = encryptDoc(docs, options);
  const meta = plainOut(metadata(options, mac));
  if (format === 'yaml') {
    const texts = out.map((d, i) => {
      const lines = yamlLines(d, '', false);
      if (i === 0) lines.push('sops:', ...yamlLines(meta, '    ', true));
      return `${lines.join('\n')}\n`;
    });
    return Buffer.from(texts.join('---\n'));
  }
  if (format === 'json' || format === 'binary') {
    const first = out[0] as { map: OutItem[] };
    return Buffer.from(`${jsonText({ map: [...first.map, { key: 'sops', value: meta }] }, '')}\n`);
  }
  const flat: [string, string][] = [];
  flatten(meta, '', flat);
  const top = (out[0] as { map: OutItem[] }).map;
  if (format === 'dotenv') {
    const body = top.map((i) => ('comment' in i ? `#${i.comment}\n` : `${i.key}=${(i.value as { text: string }).text.replaceAll('\n', '\\n')}\n`));
    return Buffer.from(body.join('') + flat.map(([k, v]) => `sops_${k}=${v.replaceAll('\n', '\\n')}\n`).join(''));
  }
  // INI (go-ini): `[section]`, `key = value`. Comment lines belong to what follows them: a
  // section's comment (its first items in sops's tree) goes before its header, a key's comment
  // (the item after the key in the tree) before the key's line.
  const lines: string[] = [];
  for (const section of top) {
    if (!('key' in section) || !('map' in section.value)) throw new Error('INI documents are maps of sections');
    const items = section.value.map;
    let k = 0;
    const head: string[] = [];
    while (k < items.length && 'comment' in items[k]! && !('key' in items[k]!)) head.push((items[k++] as { comment: string }).comment);
    lines.push(...head);
    if (section.key !== 'DEFAULT') lines.push(`[${section.key}]`);
    const rest = items.slice(k);
    rest.forEach((item, i) => {
      if (!('key' in item)) return;
      for (let j = i + 1; j < rest.length && !('key' in rest[j]!); j++) lines.push((rest[j] as { comment: string }).comment);
      lines.push(`${item.key} = ${(item.value as { text: string }).text}`);
    });
  }
  lines.push('[sops]');
  for (const [key, value] of flat) {
    if (!value.includes('\n')) lines.push(`${key} = ${value}`);
    else if (options.iniTripleQuotes) lines.push(`${key} = """${value}"""`);
    else lines.push(`${key} = ${value.replaceAll('\n', '\\n')}`);
  }
  return Buffer.from(`${lines.join('\n')}\n`);
}

/** A binary sops file's document: the whole plaintext as one `str` under `data` (AAD `data:`). */
export const binaryDoc = (plaintext: Buffer): MapDoc => map(['data', enc(plaintext)]);

/** A fresh data key (seeded). */
export const newDataKey = () => bytes(32);
