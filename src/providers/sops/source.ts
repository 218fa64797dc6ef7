// The `{"sops": {...}}` source object and what can be known about it without reading the file:
// its format (explicit, or from the extension as sops infers it) and whether `key` is well-formed
// for that format. Light on purpose: the provider definition imports it at start-up.

export const SOPS_FORMATS = ['yaml', 'json', 'dotenv', 'ini', 'binary'] as const;
export type SopsFormat = (typeof SOPS_FORMATS)[number];

export interface SopsSource {
  file: string;
  /** `a/b/0` into YAML/JSON, `NAME` in dotenv, `section/key` in INI; absent or "" = the whole file. */
  key?: string;
  format?: SopsFormat;
}

/** sops's choice by file name (`formats.FormatForPath`): .yaml/.yml, .json, .env, .ini, else binary. */
export function inferFormat(file: string): SopsFormat {
  if (file.endsWith('.yaml') || file.endsWith('.yml')) return 'yaml';
  if (file.endsWith('.json')) return 'json';
  if (file.endsWith('.env')) return 'dotenv';
  if (file.endsWith('.ini')) return 'ini';
  return 'binary';
}

/** The source's format: the explicit one, else what the file name says. */
export function formatOf(source: SopsSource): SopsFormat {
  return source.format ?? inferFormat(source.file);
}

/** What `key` selects, by format. */
export type KeySpec =
  | { kind: 'whole' }
  /** YAML/JSON: map keys, or list indexes for lists. */
  | { kind: 'path'; segments: string[] }
  /** dotenv: one variable, verbatim. */
  | { kind: 'name'; name: string }
  /** INI: `section/key`; split where a section of that name exists (names may contain `/`). */
  | { kind: 'section-key'; text: string };

/** Parses `key` for a format, or says why it cannot name anything there. */
export function parseKey(format: SopsFormat, key: string | undefined): KeySpec | { error: string } {
  if (key === undefined || key === '') return { kind: 'whole' };
  switch (format) {
    case 'binary':
      return { error: 'a binary sops file holds a single value: leave "key" out' };
    case 'dotenv':
      if (key.includes('=') || key.includes('\n')) return { error: 'a dotenv variable name cannot contain "=" or a newline' };
      if (key.startsWith('#')) return { error: 'a dotenv variable name cannot start with "#" (that is a comment)' };
      return { kind: 'name', name: key };
    case 'ini':
      if (!key.includes('/')) return { error: `INI keys are written "section/key" (use "DEFAULT/${key}" for a key before any section)` };
      return { kind: 'section-key', text: key };
    default: {
      const segments = key.split('/');
      if (segments.some((s) => s === '')) return { error: `"${key}" has an empty segment (a leading, trailing or doubled "/")` };
      return { kind: 'path', segments };
    }
  }
}

