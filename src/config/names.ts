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

/** Returns a reason the systemd unit name is unacceptable, or undefined. */
export function checkUnitName(unit: string): string | undefined {
  const dot = unit.lastIndexOf('.');
  const type = dot > 0 ? unit.slice(dot + 1) : '';
  if (!UNIT_TYPES.includes(type)) {
    return /^[A-Za-z0-9:_.\\@-]+$/.test(unit) && dot < 0 ? `is not a unit name (did you mean "${unit}.service"?)` : `is not a systemd unit name (expected e.g. "app.service")`;
  }
  // Not starting with '-': a unit name is passed to systemctl as an argument.
  if (!/^[A-Za-z0-9:_\\@][A-Za-z0-9:_.\\@-]*$/.test(unit) || unit.length > 255) return 'is not a valid systemd unit name';
  return undefined;
}

/** True when `child` is `parent` or lies below it (both absolute and normalized). */
export function isWithin(child: string, parent: string): boolean {
  const rel = relative(normalize(parent), normalize(child));
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}
