// Rules for the strings that become file names, paths, modes, owners and unit names.
// A secret name becomes a path under the generation directory, so it is checked like one.
import { isAbsolute, normalize, relative, sep } from 'node:path';

/** Top-level entries the engine keeps for itself inside every generation. */
export const RESERVED_PREFIX = '.materialize';

/** Returns a reason the secret name is unacceptable, or undefined. */
export function checkSecretName(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (Buffer.byteLength(name) > 4096) return 'is longer than 4096 bytes';
  if (name.includes('\0')) return 'must not contain NUL';
  // Control characters make file names that break shells, logs and EnvironmentFile= lines.
  if (/[\u0001-\u001f\u007f]/.test(name)) return 'must not contain control characters';
  if (name.startsWith('/')) return 'must be a relative name, not an absolute path';
  if (name.endsWith('/')) return 'must not end with "/"';
  for (const segment of name.split('/')) {
    if (segment === '') return 'must not contain empty segments ("//")';
    if (segment === '.' || segment === '..') return `must not contain "${segment}" segments`;
    if (Buffer.byteLength(segment) > 255) return 'has a segment longer than 255 bytes';
  }
  if (name.split('/')[0]!.startsWith(RESERVED_PREFIX)) return `must not start with "${RESERVED_PREFIX}" (reserved)`;
  return undefined;
}

/** Parses "0400" / "400" / "0640" into a number; rejects setuid/setgid/sticky bits and non-octal text. */
export function parseMode(mode: string): number | undefined {
  if (!/^0?[0-7]{3}$/.test(mode)) return undefined;
  return Number.parseInt(mode, 8);
}

export function formatMode(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}

/** A user or group as written: a name, or a numeric id (number or digit string, for DynamicUser= and containers). */
export type Principal = { name: string } | { id: number };

export function parsePrincipal(value: string | number): Principal | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 && value < 4294967295 ? { id: value } : undefined;
  if (/^[0-9]+$/.test(value)) {
    const id = Number(value);
    return id < 4294967295 ? { id } : undefined;
  }
  // POSIX portable names plus what systemd and shadow accept (dots, a trailing $ for machine accounts).
  if (/^[A-Za-z_][A-Za-z0-9_.-]*\$?$/.test(value) && value.length <= 256) return { name: value };
  return undefined;
}

const UNIT_TYPES = ['service', 'socket', 'target', 'timer', 'path', 'mount', 'automount', 'swap', 'device', 'scope', 'slice'];

/** Levenshtein distance, small strings only (unit type suffixes). */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next.push(Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    row = next;
  }
  return row[b.length]!;
}

/**
 * A unit name as systemctl reads it: a name without a known unit type gets ".service" appended
 * (systemd's unit_name_mangle), so "nginx" and "getty@tty1" mean "nginx.service" and
 * "getty@tty1.service". Returns the name to use, or why it is refused: characters systemctl would
 * have to escape, a leading "-" (it would read as an option), a template without an instance
 * ("foo@.service" cannot be restarted), or a suffix that is one typo away from a unit type
 * ("app.servce": systemctl would make it "app.servce.service", which is surely not what was meant).
 */
export function normalizeUnitName(unit: string): { unit: string } | { problem: string } {
  if (!/^[A-Za-z0-9:_.\\@-]+$/.test(unit) || unit.startsWith('-') || unit.length > 255) return { problem: 'is not a valid systemd unit name' };
  const dot = unit.lastIndexOf('.');
  const suffix = dot > 0 ? unit.slice(dot + 1) : '';
  let name = unit;
  if (!UNIT_TYPES.includes(suffix)) {
    const near = suffix.length >= 3 ? UNIT_TYPES.find((t) => distance(suffix.toLowerCase(), t) <= (t.length > 5 ? 2 : 1)) : undefined;
    if (near) return { problem: `is not a unit name (did you mean "${unit.slice(0, dot)}.${near}"?)` };
    name = `${unit}.service`;
  }
  if (name.length > 255) return { problem: 'is not a valid systemd unit name' };
  if (/@\.[a-z]+$/.test(name)) return { problem: `is a template unit; name an instance (e.g. "${name.replace(/@\./, '@name.')}")` };
  return { unit: name };
}

/** True when `child` is `parent` or lies below it (both absolute and normalized). */
export function isWithin(child: string, parent: string): boolean {
  const rel = relative(normalize(parent), normalize(child));
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}
