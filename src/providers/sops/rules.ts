// Which values a sops file encrypts (`sops.go` shouldBeEncrypted): at most one rule of suffix,
// regex or comment regex, tested against every key on the value's path (and, for comment rules,
// against the comments before it and its ancestors). Decrypting must apply the same rule: a value
// read as plain that was encrypted (or the reverse) changes the MAC.
import type * as Re2 from 're2js';
import { SopsFormatError } from './errors.js';

export type Re2Lib = typeof Re2;

/**
 * A regular-expression rule as the file states it; `matcher` is filled in by compileRules before
 * anything is decrypted (the engine is loaded only for files that have such a rule).
 */
export interface RegexRule {
  pattern: string;
  field: string;
  matcher?: { test(input: string): boolean };
}

export interface EncryptionRules {
  unencryptedSuffix?: string;
  encryptedSuffix?: string;
  unencryptedRegex?: RegexRule;
  encryptedRegex?: RegexRule;
  unencryptedCommentRegex?: RegexRule;
  encryptedCommentRegex?: RegexRule;
}

// Why RE2 and not RegExp: the file's rules are read before its MAC can be checked, and Go's sops
// compiles them with Go's regexp (RE2: linear time, its own syntax). A backtracking RegExp let a
// hostile file spend minutes on one key (`^(a+)+$` against "aaaa…!"); re2js is a port of the same
// engine (Go's syntax, Perl flags, Go's error messages), so every rule means what it means to sops.
/** Compiles a Go regexp as Go does (an unanchored search); a pattern Go refuses is a format error. */
export function compileGoRegex(pattern: string, field: string, lib: Re2Lib): { test(input: string): boolean } {
  try {
    return lib.RE2JS.compile(pattern);
  } catch (error) {
    // The engine's message quotes the offending part of the pattern: metadata, not a value.
    const why = error instanceof Error && error.message ? `: ${error.message.replace(/[^\x20-\x7e]/g, '?').slice(0, 160)}` : '';
    throw new SopsFormatError(`${field} is not a regular expression Go accepts${why}`);
  }
}

/** Compiles the file's regular-expression rule, if it has one, loading the engine only then. */
export async function compileRules(rules: EncryptionRules, loadRe2: () => Promise<Re2Lib>): Promise<void> {
  const rule = rules.unencryptedRegex ?? rules.encryptedRegex ?? rules.unencryptedCommentRegex ?? rules.encryptedCommentRegex;
  if (!rule || rule.matcher) return;
  rule.matcher = compileGoRegex(rule.pattern, rule.field, await loadRe2());
}

/** Whether a rule matches anywhere in `text` (Go's `MatchString`). */
function matches(rule: RegexRule, text: string): boolean {
  if (!rule.matcher) throw new Error(`the ${rule.field} rule was not compiled`);
  return rule.matcher.test(text);
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
  if (rules.unencryptedRegex && path.some((k) => matches(rules.unencryptedRegex!, k))) encrypted = false;
  if (rules.encryptedRegex) encrypted = path.some((k) => matches(rules.encryptedRegex!, k));
  if (rules.unencryptedCommentRegex && comments.some((level) => level.some((c) => matches(rules.unencryptedCommentRegex!, c)))) encrypted = false;
  if (rules.encryptedCommentRegex) {
    const last = comments.length - 1;
    encrypted = comments.some((level, i) =>
      level.some((c, j) => !(isComment && i === last && j === level.length - 1) && matches(rules.encryptedCommentRegex!, c)),
    );
  }
  return encrypted;
}
