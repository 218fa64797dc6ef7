// Building generation N+1 out of sight: a hidden directory under the mount point, its nested
// directories, every file created with its owner and mode before anything can see it, and the
// manifest (no values); then renamed to its number, complete. Nothing here is live yet.
import { dirname, join } from 'node:path';
import { checkpoint } from './checkpoint.js';
import type { Built } from './collect.js';
import { publishGeneration, startGeneration, type Layout } from './generation.js';
import { MANIFEST_NAME, serializeManifest, type GenerationManifest } from './manifest.js';
import type { UnitActions } from './units.js';
import { makeDirectory, writeSecretFile, type Ownership } from './write.js';
import { YIELD_EVERY, yieldToEventLoop } from '../yield.js';

export interface BuildOptions {
  layout: Layout;
  number: number;
  /** Owner and mode of the generation's directories (root:keys 0751 when root). */
  dirOwner: Ownership;
  root: boolean;
  /** fsync files and directories (a plain directory on a disk, not ramfs or tmpfs). */
  durable: boolean;
  createdAt: string;
  config: string;
  /** Units owed by this generation, recorded before the switch (a run killed after it leaves them to the next). */
  units: UnitActions;
}

/** The directories (relative) above a name, outermost first: `a/b/c` → `a`, `a/b`. */
function parentsOf(name: string): string[] {
  const parent = dirname(name);
  if (parent === '.') return [];
  const segments = parent.split('/');
  return segments.map((_, i) => segments.slice(0, i + 1).join('/'));
}

/**
 * Writes every output and the manifest into a hidden directory and renames it to its number.
 * Returns the generation's directory; `onTmpDir` learns the hidden one first, so the caller can
 * remove it if anything fails before the rename.
 */
export async function buildGeneration(built: readonly Built[], options: BuildOptions, onTmpDir: (dir: string | undefined) => void): Promise<string> {
  const { layout, number, dirOwner, root, durable } = options;
  const write = { chown: root, durable };
  const tmpDir = startGeneration(layout, number, dirOwner, root);
  onTmpDir(tmpDir);
  checkpoint();
  const made = new Set<string>();
  for (const [i, b] of built.entries()) {
    if (i % YIELD_EVERY === YIELD_EVERY - 1) await yieldToEventLoop();
    for (const dir of parentsOf(b.name)) {
      if (made.has(dir)) continue;
      makeDirectory(join(tmpDir, dir), dirOwner, { chown: root });
      made.add(dir);
    }
    writeSecretFile(join(tmpDir, b.name), b.data, { uid: b.uid, gid: b.gid, mode: b.mode }, write);
    checkpoint();
  }
  const manifest: GenerationManifest = {
    version: 1,
    generation: number,
    createdAt: options.createdAt,
    config: options.config,
    secretsDir: layout.secretsDir,
    entries: Object.fromEntries(built.map((b) => [b.name, b.entry])),
    ...(options.units.restart.length + options.units.reload.length > 0 ? { units: options.units } : {}),
  };
  writeSecretFile(join(tmpDir, MANIFEST_NAME), serializeManifest(manifest), { uid: 0, gid: dirOwner.gid, mode: 0o640 }, write);
  checkpoint();
  const dir = publishGeneration(layout, tmpDir, number, durable);
  onTmpDir(undefined);
  return dir;
}
