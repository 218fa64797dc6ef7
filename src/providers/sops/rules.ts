// Which values a sops file encrypts (`sops.go` shouldBeEncrypted): at most one rule of suffix,
// regex or comment regex, tested against every key on the value's path (and, for comment rules,
// against the comments before it and its ancestors). Decrypting must apply the same rule: a value
// read as plain that was encrypted (or the reverse) changes the MAC.
import { SopsFormatError } from './errors.js';

export interface EncryptionRules {
  unencryptedSuffix?: string;
  encryptedSuffix?: string;
  unencryptedRegex?: RegExp;
  encryptedRegex?: RegExp;
  unencryptedCommentRegex?: RegExp;
  encryptedCommentRegex?: RegExp;
}

const POSIX_CLASSES: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-/:-@[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

/**
 * Compiles a Go RE2 pattern as a JavaScript RegExp. The common differences are translated (leading
 * `(?i)`-style flags, `(?P<name>`, `\A`, `\z`, POSIX classes); anything JavaScript cannot compile is
 * refused rather than guessed, since a wrong rule would misread which values are encrypted.
 */
export function compileGoRegex(pattern: string, field: string): RegExp {
  let source = pattern;
  let flags = '';
  const lead = /^\(\?([imsU]+)\)/.exec(source);
  if (lead) {
    if (lead[1]!.includes('U')) throw new SopsFormatError(`${field}: the (?U) flag is not supported`);
    flags = lead[1]!;
    source = source.slice(lead[0].length);
  }
  source = source
    .replace(/\(\?P</g, '(?<')
    .replace(/\\A/g, '^')
    .replace(/\\z/g, '$(?![\\s\\S])')
    .replace(/\[:(\^?)([a-z]+):\]/g, (all, negate: string, name: string) => {
      if (!Object.hasOwn(POSIX_CLASSES, name)) return all;
      const cls = POSIX_CLASSES[name]!;
      return negate ? `^${cls}` : cls;
    });
  try {
    return new RegExp(source, `${flags}u`);
  } catch {
    try {
      return new RegExp(source, flags);
    } catch {
      throw new SopsFormatError(`${field} is not a regular expression this program can evaluate`);
    }
  }
}

/**
 * Whether the value at `path` (map keys only, no list indexes) is encrypted, given the comments
 * before it at each nesting level. `isComment`: the leaf is itself a comment (its own line is not
 * counted for encrypted_comment_regex).
 */
export function shouldBeEncrypted(rules: EncryptionRules, path: readonly string[], comments: readonly (readonly string[])[], isComment: boolean): boolean {
  let encrypted = true;
  if (rules.unencryptedSuffix && path.some((k) => k.endsWith(rules.unencryptedSuffix!))) encrypted = false;
  if (rules.encryptedSuffix) encrypted = path.some((k) => k.endsWith(rules.encryptedSuffix!));
  if (rules.unencryptedRegex && path.some((k) => rules.unencryptedRegex!.test(k))) encrypted = false;
  if (rules.encryptedRegex) encrypted = path.some((k) => rules.encryptedRegex!.test(k));
  if (rules.unencryptedCommentRegex && comments.some((level) => level.some((c) => rules.unencryptedCommentRegex!.test(c)))) encrypted = false;
  if (rules.encryptedCommentRegex) {
    const last = comments.length - 1;
    encrypted = comments.some((level, i) =>
      level.some((c, j) => !(isComment && i === last && j === level.length - 1) && rules.encryptedCommentRegex!.test(c)),
    );
  }
  return encrypted;
}
