// The module a test build of the CLI imports instead of @1password/sdk when
// MATERIALIZE_TEST_ONEPASSWORD_SDK names it (src/providers/onepassword/index.ts): the fake of
// ./fake-sdk.ts over the world in the JSON file named by MATERIALIZE_TEST_ONEPASSWORD_WORLD.
import { readFileSync } from 'node:fs';
import type { OnePasswordLib } from '../../../../src/providers/onepassword/provider.js';
import { FakeOnePassword, type FakeWorld } from './fake-sdk.js';

export function createLib(): OnePasswordLib {
  const file = process.env.MATERIALIZE_TEST_ONEPASSWORD_WORLD;
  if (!file) throw new Error('MATERIALIZE_TEST_ONEPASSWORD_WORLD is not set');
  const world = JSON.parse(readFileSync(file, 'utf8')) as FakeWorld & { backoffMs?: number };
  return { sdk: new FakeOnePassword(world).sdk(), backoffMs: world.backoffMs ?? 20 };
}
