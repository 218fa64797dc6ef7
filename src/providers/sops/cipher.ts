// One encrypted value: `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` (sops `aes/cipher.go`). AES-256-GCM
// with the value's path as additional data; the type says how to read the plaintext back.
import { createDecipheriv } from 'node:crypto';
import { untraced } from '../../untraced.js';
import { goAtoi, goParseBool, goParseFloat, parseRfc3339 } from './gotypes.js';
import type { Scalar } from './tree.js';

// The same pattern as sops (anchored at the start only, greedy groups).
const ENC = /^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]/;

/** Why a value could not be decrypted; the reason never quotes the value or its ciphertext. */
export class ValueDecryptError extends Error {
  override name = 'ValueDecryptError';
}

export interface EncryptedValue {
  data: Buffer;
  iv: Buffer;
  tag: Buffer;
  type: string;
}

/** Go's base64.StdEncoding.DecodeString: padded, standard alphabet, CR/LF ignored. */
function b64(text: string, what: string): Buffer {
  const s = text.replace(/[\r\n]/g, '');
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s)) throw new ValueDecryptError(`${what} is not valid base64`);
  return Buffer.from(s, 'base64');
}

/** Splits `ENC[…]` into its fields; undefined when the text is not in sops's format. */
export function parseEncrypted(text: string): EncryptedValue | undefined {
  const m = ENC.exec(text);
  if (!m) return undefined;
  return { data: b64(m[1]!, 'data'), iv: b64(m[2]!, 'iv'), tag: b64(m[3]!, 'tag'), type: m[4]! };
}

/** AES-256-GCM open as Go's `gcm.Open(data‖tag)`: the last 16 bytes of data‖tag are the tag. */
export function openGcm(key: Buffer, value: EncryptedValue, aad: string): Buffer {
  const sealed = Buffer.concat([value.data, value.tag]);
  if (value.iv.length === 0) throw new ValueDecryptError('the IV is empty');
  if (sealed.length < 16) throw new ValueDecryptError('the ciphertext is truncated');
  const decipher = untraced(() => createDecipheriv('aes-256-gcm', key, value.iv, { authTagLength: 16 }));
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  const out = decipher.update(sealed.subarray(0, sealed.length - 16));
  try {
    return Buffer.concat([out, decipher.final()]);
  } catch {
    out.fill(0);
    throw new ValueDecryptError('authentication failed (wrong key, modified value, or value moved from another key)');
  }
}

/** The typed value of a decrypted plaintext, read as sops's `Cipher.Decrypt` does. */
function typed(plain: Buffer, type: string): Scalar | 'comment' {
  switch (type) {
    case 'str':
      return { kind: 'str', value: plain };
    case 'bytes':
      return { kind: 'bytes', value: plain };
    case 'comment':
      return 'comment';
  }
  const text = plain.toString('utf8');
  switch (type) {
    case 'int': {
      const value = goAtoi(text);
      if (value === undefined) throw new ValueDecryptError('the decrypted int is not a valid integer');
      return { kind: 'int', value };
    }
    case 'float': {
      const value = goParseFloat(text);
      if (value === undefined) throw new ValueDecryptError('the decrypted float is not a valid number');
      return { kind: 'float', value };
    }
    case 'bool': {
      const value = goParseBool(text);
      if (value === undefined) throw new ValueDecryptError('the decrypted bool is not true or false');
      return { kind: 'bool', value };
    }
    case 'time': {
      const value = parseRfc3339(text);
      if (!value) throw new ValueDecryptError('the decrypted time is not RFC 3339');
      return { kind: 'time', value };
    }
    default:
      throw new ValueDecryptError(`unknown value type ${JSON.stringify(type.slice(0, 20))}`);
  }
}

/** Decrypts one `ENC[…]` value; `""` stays `""` (sops never encrypts the empty string). */
export function decryptValue(text: string, key: Buffer, aad: string): Scalar {
  if (text === '') return { kind: 'str', value: Buffer.alloc(0) };
  const parsed = parseEncrypted(text);
  if (!parsed) throw new ValueDecryptError('it should be encrypted but is not in sops\'s ENC[AES256_GCM,…] format');
  const plain = openGcm(key, parsed, aad);
  const value = typed(plain, parsed.type);
  if (value === 'comment') return { kind: 'str', value: plain };
  return value;
}

/** Decrypts an encrypted comment's text (sops keeps a comment that does not decrypt as it is). */
export function decryptComment(text: string, key: Buffer, aad: string): string | undefined {
  try {
    const parsed = parseEncrypted(text);
    if (!parsed) return undefined;
    const plain = openGcm(key, parsed, aad);
    return parsed.type === 'comment' || parsed.type === 'str' ? plain.toString('utf8') : undefined;
  } catch {
    return undefined;
  }
}
