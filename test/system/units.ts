// Unit files as data: parse a unit file into sections, and render what the NixOS and home-manager
// modules evaluate to (nixos-module/tests/eval.nix) into unit files the way NixOS and home-manager
// write them, so the system test can install the modules' own units in a booted systemd.
export type Sections = Record<string, Record<string, string[]>>;

/** `[Section]` → key → values (a key given several times keeps every value, in order). */
export function parseUnit(text: string): Sections {
  const sections: Sections = {};
  let current: Record<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = sections[section[1]!] ??= {};
      continue;
    }
    const eq = line.indexOf('=');
    if (!current || eq < 0) throw new Error(`not a unit file line: ${raw}`);
    (current[line.slice(0, eq)] ??= []).push(line.slice(eq + 1));
  }
  return sections;
}

type Scalar = string | number | boolean;
type UnitValue = Scalar | Scalar[];

// NixOS writes booleans as true/false, lists space-separated (systemd-lib's attrsToSection).
const scalar = (v: Scalar) => (typeof v === 'boolean' ? (v ? 'true' : 'false') : String(v));
const join = (v: UnitValue) => (Array.isArray(v) ? v.map(scalar).join(' ') : scalar(v));

function section(entries: Record<string, UnitValue | undefined>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [key, v] of Object.entries(entries)) {
    if (v === undefined || (Array.isArray(v) && v.length === 0)) continue;
    // Exec lines given as a list are several lines; any other list is one space-separated value.
    out[key] = Array.isArray(v) && key.startsWith('Exec') ? v.map(scalar) : [join(v)];
  }
  return out;
}

/**
 * A NixOS `systemd.services.<n>` / `systemd.targets.<n>` value as a unit file. `pathEnv` is the
 * PATH NixOS would compute from `path` (its `bin` and `sbin` directories; given by the caller,
 * which knows where those store paths lead in the container).
 */
export function nixosUnit(kind: 'service' | 'target', u: any, pathEnv?: string): Sections {
  const unit = section({
    Description: u.description || undefined,
    Requires: u.requires,
    Wants: u.wants,
    Requisite: u.requisite,
    Conflicts: u.conflicts,
    Before: u.before,
    After: u.after,
    ...u.unitConfig,
    'X-Restart-Triggers': u.restartTriggers?.length ? u.restartTriggers : undefined,
  });
  const out: Sections = { Unit: unit };
  if (kind === 'service') out.Service = section({ ...(pathEnv ? { Environment: `PATH=${pathEnv}` } : {}), ...u.serviceConfig });
  const install = section({ WantedBy: u.wantedBy, RequiredBy: u.requiredBy });
  if (Object.keys(install).length) out.Install = install;
  return out;
}

/** A NixOS `systemd.timers.<n>` value as a unit file: [Unit], [Timer] from `timerConfig`, [Install]. */
export function nixosTimer(u: any): Sections {
  const { Unit, Install } = nixosUnit('target', u);
  return { ...(Unit && Object.keys(Unit).length ? { Unit } : {}), Timer: section(u.timerConfig), ...(Install ? { Install } : {}) };
}

/** A home-manager `systemd.user.services.<n>` value ([Section] → key → value) as a unit file. */
export function homeManagerUnit(u: Record<string, Record<string, UnitValue>>): Sections {
  return Object.fromEntries(Object.entries(u).map(([name, entries]) => [name, section(entries)]));
}

export function renderSections(sections: Sections, header: string[] = []): string {
  const lines = header.map((l) => `# ${l}`);
  for (const [name, entries] of Object.entries(sections)) {
    lines.push('', `[${name}]`);
    for (const [key, values] of Object.entries(entries)) for (const v of values) lines.push(`${key}=${v}`);
  }
  return `${lines.join('\n').trimStart()}\n`;
}
