// Each generation carries a manifest of what it holds (names, owners, modes, sizes, sources,
// freshness, units, custom paths) and never a value. `status` reads it; the next run diffs against
// it to restart the units of removed secrets and to remove their stale custom-path symlinks.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const MANIFEST_NAME = '.materialize.json';

export interface ManifestEntry {
  kind: 'secret' | 'template';
  uid: number;
  gid: number;
  mode: string;
  size: number;
  path?: string;
  /** `path` holds a copy of the file (symlink: false), not a symlink. */
  copy?: true;
  restartUnits: string[];
  reloadUnits: string[];
  /** The source that delivered the value (`age /nix/store/…`), or "template". */
  source: string;
  /** When this value was fetched; for a stale value, when it was last fetched successfully. */
  fetchedAt: string;
  /** Set when the value was carried over from an earlier generation because every source failed. */
  stale?: { reason: string; since: string };
  /** Set when the value came from the sealed store of network values; `reason`: the failure it stood in for. */
  cached?: { reason?: string };
  /**
   * The keyed digest of the value (integrity.ts): its owner could rewrite the file, and a value that
   * no longer has this digest is not carried forward into the next generation.
   */
  digest?: string;
}

export interface GenerationManifest {
  version: 1;
  generation: number;
  createdAt: string;
  config: string;
  secretsDir: string;
  entries: Record<string, ManifestEntry>;
  /**
   * Units this generation's run restarts/reloads once it is live. Until UNITS_DONE_NAME exists
   * beside the manifest they are owed: a run killed after its switch leaves them to the next run.
   */
  units?: { restart: string[]; reload: string[] };
}

export const UNITS_DONE_NAME = '.materialize-units-done';

export function readManifest(generationDir: string): GenerationManifest | undefined {
  try {
    const parsed = JSON.parse(readFileSync(join(generationDir, MANIFEST_NAME), 'utf8')) as GenerationManifest;
    return parsed && parsed.version === 1 && typeof parsed.entries === 'object' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

export function serializeManifest(manifest: GenerationManifest): Buffer {
  return Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
}
