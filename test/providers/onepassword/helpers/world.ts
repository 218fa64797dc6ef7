// Worlds for the fake SDK: vaults, items and fields with seeded, distinctive values (registered, so
// no output of the CLI may contain them), and the references that name them.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { registerSecretValues } from '../../../helpers/cli.js';
import { seededHex } from '../../../helpers/random.js';
import type { FakeWorld } from './fake-sdk.js';

/** A service account token of the real shape (ops_ + base64 JSON), seeded; never a real one. */
export function fakeToken(random: () => number): string {
  const token = `ops_${Buffer.from(JSON.stringify({ signInAddress: 'example.1password.com', email: `${seededHex(random, 6)}@1passwordserviceaccounts.com`, secret: seededHex(random, 24) })).toString('base64url')}`;
  registerSecretValues(token);
  return token;
}

/** Writes the token file, mode 0600 unless told otherwise. */
export function writeToken(dir: string, token: string, mode = 0o600): string {
  const file = join(dir, 'op-token');
  writeFileSync(file, `${token}\n`, { mode });
  chmodSync(file, mode);
  return file;
}

export interface Grid {
  world: FakeWorld;
  /** reference → the value 1Password holds for it. */
  values: Map<string, string>;
  references: string[];
}

/** `vaults` × `items` × `fields` concealed fields, each with its own seeded value. */
export function grid(random: () => number, token: string, shape: { vaults: number; items: number; fields: number }): Grid {
  const values = new Map<string, string>();
  const world: FakeWorld = { token, vaults: [] };
  for (let v = 0; v < shape.vaults; v++) {
    const vault = { title: `Infra ${v}`, items: [] as NonNullable<FakeWorld['vaults'][number]['items']> };
    for (let i = 0; i < shape.items; i++) {
      const fields = [];
      for (let f = 0; f < shape.fields; f++) {
        const value = `op-value-${v}-${i}-${f}-${seededHex(random, 12)}`;
        fields.push({ title: `field ${f}`, value });
        values.set(`op://Infra ${v}/service ${i}/field ${f}`, value);
      }
      vault.items.push({ title: `service ${i}`, fields });
    }
    world.vaults.push(vault);
  }
  registerSecretValues(...values.values());
  return { world, values, references: [...values.keys()] };
}
