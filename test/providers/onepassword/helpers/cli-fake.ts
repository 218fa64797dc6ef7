// Running the built CLI with the fake SDK: the fake (TypeScript) is bundled once per test process
// into a module the child can import, next to the test build so that `@1password/sdk` resolves to
// this checkout's real package; its world is a JSON file; its calls come back as JSON lines.
import { buildSync } from 'esbuild';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../../../helpers/cli.js';
import type { CallRecord, FakeWorld } from './fake-sdk.js';

let bundled: string | undefined;

/** The fake SDK module for MATERIALIZE_TEST_ONEPASSWORD_SDK, bundled once per process (synchronous, for the benchmark too). */
export function buildFakeSdkModule(): string {
  if (bundled) return bundled;
  const dir = join(REPO, process.env.MATERIALIZE_DIST ?? 'dist-test', 'test-fakes');
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `onepassword-sdk-${process.pid}.mjs`);
  buildSync({
    entryPoints: [join(REPO, 'test/providers/onepassword/helpers/fake-sdk-module.ts')],
    outfile: out,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: ['@1password/sdk'],
    logLevel: 'warning',
  });
  return (bundled = out);
}

export const fakeSdkModule = async (): Promise<string> => buildFakeSdkModule();

export interface FakeRun {
  /** Environment for runCli: the hook to the fake, and the world it serves. */
  env: Record<string, string>;
  /** The calls the fake received so far (its own record, independent of the program's counts). */
  calls(): CallRecord[];
  /** Rewrites the world (between runs). */
  update(world: FakeWorld & { backoffMs?: number }): void;
}

/** Writes the world next to a call log and returns what a CLI run needs to use the fake. */
export async function fakeRun(dir: string, world: FakeWorld & { backoffMs?: number }): Promise<FakeRun> {
  const worldFile = join(dir, 'onepassword-world.json');
  const logFile = join(dir, 'onepassword-calls.jsonl');
  const update = (w: FakeWorld & { backoffMs?: number }) => writeFileSync(worldFile, JSON.stringify({ ...w, logFile }));
  update(world);
  writeFileSync(logFile, '');
  return {
    env: { MATERIALIZE_TEST_ONEPASSWORD_SDK: await fakeSdkModule(), MATERIALIZE_TEST_ONEPASSWORD_WORLD: worldFile },
    calls: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as CallRecord) : []),
    update,
  };
}
