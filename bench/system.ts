// `npm run bench -- --system` (root, systemd-nspawn, debootstrap): the secrets unit in a booted
// Debian 12 container, from its start to materialize-secrets.target with 100 age secrets, against
// `node -e 0` run as a oneshot unit in the same container — the boot-time cost users see. The same
// measurement as `npm run test:system`'s timing scenario, with the same container.
import { Container, SkipError, cleanStray, rootfs, unavailable } from '../test/system/container.js';
import { hundredSecrets, timeUnitPerNode } from '../test/system/scenarios.js';
import { World } from '../test/system/world.js';
import type { Table } from './lib.js';

export async function systemScenario(nodes: string[], runs: number): Promise<Table> {
  const title = 'boot: materialize-secrets.service start → materialize-secrets.target, 100 age secrets, Debian 12 container (systemd 252)';
  const skipped = (why: string): Table => ({ title, columns: ['skipped'], rows: [[why]] });
  const why = unavailable();
  if (why) return skipped(why);
  const log = (s: string) => console.error(`# ${s}`);
  cleanStray(log);
  let c: Container | undefined;
  try {
    c = Container.create(rootfs(log), log);
    const w = new World(c);
    w.installBase(nodes[0]!);
    await w.configure({ secrets: hundredSecrets(c.root) });
    await c.boot();
    await c.sh('systemctl stop materialize-secrets.target materialize-secrets.service');
    const table = await timeUnitPerNode(c, nodes.slice(1), runs);
    const cells = (line: string) => line.split('|').slice(1, -1).map((x) => x.trim());
    return {
      title,
      columns: cells(table[0]!),
      rows: table.slice(2).map(cells),
      notes: ["systemd's own timestamps (InactiveExit → the target's ActiveEnter; node -e 0 as a Type=oneshot unit), medians of interleaved runs. Target: ≤ 2× at 100 secrets."],
    };
  } catch (error) {
    if (error instanceof SkipError) return skipped(error.message.split('\n')[0]!);
    throw error;
  } finally {
    await c?.destroy();
  }
}
