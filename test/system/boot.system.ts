// `npm run test:system`: the units under a real systemd. Boots a Debian 12 container
// (test/system/container.ts), installs the program, Node and the units (test/system/world.ts), and
// runs test/system/scenarios.ts in order. Skips, saying why, where no container can boot (not
// root, no systemd-nspawn or debootstrap, Debian's archive unreachable, nspawn refused); always
// tears the container down.
import { test } from 'node:test';
import { Container, SkipError, cleanStray, rootfs, unavailable } from './container.js';
import { manifest, scenarios, setValue, type Context } from './scenarios.js';
import { World, newValue } from './world.js';

const log = (s: string) => console.log(`# ${s.replace(/\n/g, '\n# ')}`);
// The Node binary installed in the container: this one, unless MATERIALIZE_TEST_NODE names another.
const NODE = process.env.MATERIALIZE_TEST_NODE ?? process.execPath;

test('materialize under a real systemd (Debian 12, systemd-nspawn)', { skip: unavailable(), timeout: 25 * 60_000 }, async (t) => {
  cleanStray(log);
  let container: Container | undefined;
  try {
    let base: string;
    try {
      base = rootfs(log);
    } catch (error) {
      if (error instanceof SkipError) return t.skip(error.message);
      throw error;
    }
    container = Container.create(base, log);
    const world = new World(container);
    const ctx: Context = { c: container, w: world, log, current: {}, worker: { mode: '0400', group: 61234 }, results: [] };
    world.installBase(NODE);
    for (const name of ['db/password', 'api/key', 'worker/token', 'tls/cert', 'static']) setValue(ctx, name, newValue(name.split('/')[0]!));
    await world.configure(manifest(ctx));
    try {
      await container.boot();
    } catch (error) {
      if (error instanceof SkipError) return t.skip(error.message);
      throw error;
    }
    let failed = '';
    for (const scenario of scenarios) {
      await t.test(scenario.name, { skip: failed ? `an earlier scenario failed (${failed})` : false }, async () => {
        try {
          await scenario.run(ctx);
        } catch (error) {
          failed = scenario.name.split(':')[0]!;
          const journal = await container!.exec(['journalctl', '--no-pager', '-b', '-n', '150', '-o', 'short-monotonic']).catch(() => undefined);
          log(`the container's journal (last 150 lines):\n${journal?.stdout ?? '(unreadable)'}`);
          throw error;
        }
      });
    }
  } finally {
    await container?.destroy();
  }
});
