// Malformed secrets.json, one problem at a time, against a machine with a live generation: each is
// a clear message naming the field's JSON path, exit 78, no stack trace, and nothing touched.
import { testNeeding, AGE_SKIP } from '../helpers/tools.js';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, type CliResult } from '../helpers/cli.js';
import { ageSource, apply, encrypt, makeWorld, writeConfig, type World } from '../helpers/fixtures.js';
import { snapshotLive, walk } from '../helpers/tree.js';

// Every test here drives the age CLI: without it, each skips saying so.
const test = testNeeding(AGE_SKIP);

type Config = Record<string, unknown>;
interface Case {
  what: string;
  /** Changes a copy of the good config (or replaces the whole text). */
  edit: ((c: Config, w: World) => void) | { text: string };
  path: string;
  message: RegExp;
  command?: 'apply' | 'check';
}

const secrets = (c: Config) => c.secrets as Record<string, Record<string, unknown>>;
const db = (c: Config) => secrets(c).db!;
const rename = (c: Config, name: string) => {
  secrets(c)[name] = db(c);
  delete secrets(c).db;
};

const cases: Case[] = [
  { what: 'wrong version', edit: (c) => (c.version = 2), path: 'version', message: /expected 1, got 2/ },
  { what: 'no version', edit: (c) => delete c.version, path: 'version', message: /is required/ },
  { what: 'secretsDir of the wrong type', edit: (c) => (c.secretsDir = 5), path: 'secretsDir', message: /expected a string, got an integer/ },
  { what: 'unknown mount', edit: (c) => (c.mount = 'zfs'), path: 'mount', message: /expected "ramfs" or "tmpfs" or "none", got another string/ },
  { what: 'fractional keepGenerations', edit: (c) => (c.keepGenerations = 1.5), path: 'keepGenerations', message: /expected an integer, got a number/ },
  { what: 'negative keepGenerations', edit: (c) => (c.keepGenerations = -1), path: 'keepGenerations', message: /must be at least 0/ },
  { what: 'keepGenerations as a string', edit: (c) => (c.keepGenerations = '3'), path: 'keepGenerations', message: /expected a number, got a string/ },
  { what: 'mount as an object', edit: (c) => (c.mount = { type: 'ramfs' }), path: 'mount', message: /expected "ramfs" or "tmpfs" or "none", got an object/ },
  { what: 'unknown failurePolicy', edit: (c) => (c.failurePolicy = 'ignore'), path: 'failurePolicy', message: /expected "keep-previous" or "abort"/ },
  { what: 'unknown top-level key', edit: (c) => (c.secret = {}), path: '', message: /unknown key "secret" \(typo\?\)/ },
  { what: 'unknown key in keys', edit: (c) => ((c.keys as Config).ageKeyFile = 'x'), path: 'keys', message: /unknown key "ageKeyFile"/ },
  { what: 'unknown key in a secret', edit: (c) => (db(c).owners = 'root'), path: 'secrets.db', message: /unknown key "owners"/ },
  { what: 'unknown key in a source', edit: (c) => ((db(c).sources as Config[])[0]!.age = { file: 'x.age', path: 'y' }), path: 'secrets.db.sources[0].age', message: /unknown key "path"/ },
  { what: 'unknown key in a template', edit: (c) => ((c.templates as Record<string, Config>).env!.restart = []), path: 'templates.env', message: /unknown key "restart"/ },
  { what: 'unknown provider', edit: (c) => (db(c).sources = [{ vault: { path: 'x' } }]), path: 'secrets.db.sources[0].vault', message: /unknown provider \(known: age/ },
  { what: 'settings for a provider without any', edit: (c) => (c.providers = { age: {} }), path: 'providers.age', message: /takes no settings/ },
  { what: 'two providers in one source', edit: (c) => (db(c).sources = [{ age: { file: 'x' }, sops: {} }]), path: 'secrets.db.sources[0]', message: /expected exactly one provider key/ },
  { what: 'no sources', edit: (c) => (db(c).sources = []), path: 'secrets.db.sources', message: /needs at least 1 item/ },
  { what: 'sources missing', edit: (c) => delete db(c).sources, path: 'secrets.db.sources', message: /is required/ },
  { what: 'optional as a string', edit: (c) => (db(c).optional = 'yes'), path: 'secrets.db.optional', message: /expected a boolean, got a string/ },
  { what: 'a ".." name', edit: (c) => rename(c, '../etc/shadow'), path: 'secrets["../etc/shadow"]', message: /must not contain "\.\." segments/ },
  { what: 'an absolute name', edit: (c) => rename(c, '/etc/shadow'), path: 'secrets["/etc/shadow"]', message: /must be a relative name/ },
  { what: 'an empty segment', edit: (c) => rename(c, 'a//b'), path: 'secrets["a//b"]', message: /must not contain empty segments/ },
  { what: 'a "." segment', edit: (c) => rename(c, 'a/./b'), path: 'secrets["a/./b"]', message: /must not contain "\." segments/ },
  { what: 'a trailing slash', edit: (c) => rename(c, 'a/'), path: 'secrets["a/"]', message: /must not end with "\/"/ },
  { what: 'an empty name', edit: (c) => rename(c, ''), path: 'secrets[""]', message: /must not be empty/ },
  { what: 'a control character', edit: (c) => rename(c, 'a\nb'), path: 'secrets["a\\nb"]', message: /control characters/ },
  { what: 'the reserved prefix', edit: (c) => rename(c, '.materialize.json'), path: 'secrets[".materialize.json"]', message: /reserved/ },
  { what: 'mode 0999', edit: (c) => (db(c).mode = '0999'), path: 'secrets.db.mode', message: /expected an octal mode such as "0400" or "0640", got "0999"/ },
  { what: 'mode rwx', edit: (c) => (db(c).mode = 'rwx'), path: 'secrets.db.mode', message: /expected an octal mode/ },
  { what: 'a setuid mode', edit: (c) => (db(c).mode = '4755'), path: 'secrets.db.mode', message: /expected an octal mode/ },
  { what: 'a numeric mode', edit: (c) => (db(c).mode = 400), path: 'secrets.db.mode', message: /expected a string, got an integer/ },
  { what: 'an unknown owner', edit: (c) => (db(c).owner = 'no-such-user-xq'), path: 'secrets.db.owner', message: /there is no user named "no-such-user-xq"/ },
  { what: 'an unknown group', edit: (c) => (db(c).group = 'no-such-group-xq'), path: 'secrets.db.group', message: /there is no group named "no-such-group-xq"/ },
  { what: 'an owner that is no name', edit: (c) => (db(c).owner = 'bad name!'), path: 'secrets.db.owner', message: /expected a user name or a numeric id, got "bad name!"/ },
  { what: 'a negative owner', edit: (c) => (db(c).owner = -1), path: 'secrets.db.owner', message: /does not match any accepted form|at least 0/ },
  {
    what: 'two entries with one path',
    edit: (c, w) => {
      db(c).path = join(w.dir, 'same');
      secrets(c).other = { ...db(c) };
    },
    path: 'secrets.other.path',
    message: /is already the path of "db"/,
  },
  { what: 'a path inside secretsDir', edit: (c, w) => (db(c).path = join(w.secretsDir, 'x/y')), path: 'secrets.db.path', message: /must not lie inside secretsDir/ },
  { what: 'a path inside mountPoint', edit: (c, w) => (db(c).path = join(w.mountPoint, '1/db')), path: 'secrets.db.path', message: /must not lie inside mountPoint/ },
  { what: 'a name both file and directory', edit: (c) => (secrets(c)['db/inner'] = { ...db(c) }), path: 'secrets["db/inner"]', message: /conflicts with "db": a name cannot be both a file and a directory/ },
  { what: 'a secret and a template of one name', edit: (c) => ((c.templates as Record<string, Config>).db = { content: 'x' }), path: 'templates.db', message: /a secret and a template cannot have the same name/ },
  { what: 'a template using an unknown secret', edit: (c) => ((c.templates as Record<string, Config>).env!.content = 'X={{ nope }}'), path: 'templates.env.content', message: /uses \{\{nope\}\}, but there is no secret named "nope"/ },
  { what: 'a stray "{{" in a template', edit: (c) => ((c.templates as Record<string, Config>).env!.content = 'X={{db\n'), path: 'templates.env.content', message: /has "\{\{" without a matching "\}\}" at character 3/ },
  { what: 'an empty placeholder', edit: (c) => ((c.templates as Record<string, Config>).env!.content = 'X={{ }}'), path: 'templates.env.content', message: /has an empty placeholder/ },
  { what: 'a unit type misspelt', edit: (c) => (db(c).restartUnits = ['nginx.servce']), path: 'secrets.db.restartUnits[0]', message: /"nginx\.servce" is not a unit name \(did you mean "nginx\.service"\?\)/ },
  { what: 'a template unit without an instance', edit: (c) => (db(c).reloadUnits = ['getty@']), path: 'secrets.db.reloadUnits[0]', message: /is a template unit; name an instance \(e\.g\. "getty@name\.service"\)/ },
  { what: 'a unit name with a space', edit: (c) => (db(c).reloadUnits = ['my app']), path: 'secrets.db.reloadUnits[0]', message: /is not a valid systemd unit name/ },
  { what: 'a unit name that reads as an option', edit: (c) => (db(c).restartUnits = ['--force.service']), path: 'secrets.db.restartUnits[0]', message: /is not a valid systemd unit name/ },
  { what: 'secretsDir inside mountPoint', edit: (c, w) => (c.secretsDir = join(w.mountPoint, 'secrets')), path: 'secretsDir', message: /must not lie inside mountPoint/ },
  { what: 'not an object', edit: { text: '[]' }, path: '', message: /expected an object, got an array/ },
  { what: 'invalid JSON (missing comma)', edit: { text: '{\n  "version": 1\n  "secrets": {}\n}\n' }, path: '', message: /not valid JSON at line 3, column 3: expected "," or "}"/ },
  { what: 'invalid JSON (bad token)', edit: { text: '{\n  "version": 1,\n  "mount": none\n}\n' }, path: '', message: /not valid JSON at line 3, column 13: unexpected character/ },
  { what: 'invalid JSON (truncated)', edit: { text: '{"version": 1, "secrets": {' }, path: '', message: /not valid JSON at line 1, column 28: unexpected end of the text/ },
  ...(['apply', 'check'] as const).map((command) => ({
    what: `one sops file read as two formats (${command})`,
    edit: (c: Config, w: World) => {
      secrets(c).a = { sources: [{ sops: { file: join(w.dir, 'shared.yaml'), key: 'x' } }] };
      secrets(c).b = { sources: [{ age: { file: join(w.dir, 'b.age') } }, { sops: { file: 'shared.yaml', key: 'y', format: 'json' } }] };
    },
    path: 'secrets.b.sources[1].sops',
    message: /shared\.yaml is read as json here but as yaml by secrets\.a\.sources\[0\]\.sops; a sops file has one format/,
    command,
  })),
  { what: 'a template with both content and file', edit: (c) => ((c.templates as Record<string, Config>).env!.file = 'env.tpl'), path: 'templates.env', message: /has both "content" and "file"; give one/ },
  { what: 'a template with neither content nor file', edit: (c) => delete (c.templates as Record<string, Config>).env!.content, path: 'templates.env', message: /needs "content" \(the text\) or "file"/ },
  ...(['apply', 'check'] as const).map((command) => ({
    what: `a template file that does not exist (${command})`,
    edit: (c: Config) => ((c.templates as Record<string, Config>).env = { file: 'no-such.tpl' }),
    path: 'templates.env.file',
    message: /cannot read \/.*\/no-such\.tpl: no such file/,
    command,
  })),
  { what: 'a template file that is a directory', edit: (c) => ((c.templates as Record<string, Config>).env = { file: '.' }), path: 'templates.env.file', message: /not a regular file/ },
  {
    what: 'a template file naming a missing secret',
    edit: (c, w) => {
      writeFileSync(join(w.dir, 'bad-ref.tpl'), 'X={{ nope }}\n');
      (c.templates as Record<string, Config>).env = { file: 'bad-ref.tpl' };
    },
    path: 'templates.env.file',
    message: /uses \{\{nope\}\}, but there is no secret named "nope"/,
  },
  { what: 'a missing age file (check)', edit: (c, w) => (db(c).sources = [{ age: { file: join(w.dir, 'gone.age') } }]), path: 'secrets.db.sources[0].age.file', message: /gone\.age does not exist/, command: 'check' },
];

test('every malformed config is refused with its JSON path and exit 78, and the live generation is untouched', async (t) => {
  const world = makeWorld(t);
  const file = encrypt(world, 'db.age', 'bad-input-live-value');
  const good = () =>
    JSON.parse(
      JSON.stringify({
        version: 1,
        secretsDir: world.secretsDir,
        mountPoint: world.mountPoint,
        mount: 'none',
        keys: { ageKeyFiles: [world.keyFile] },
        secrets: { db: { ...ageSource(file), mode: '0440' } },
        templates: { env: { content: 'DB={{db}}\n' } },
      }),
    ) as Config;
  writeConfig(world, good());
  assert.equal((await apply(world)).code, 0);
  const before = { live: snapshotLive(world.secretsDir), run: walk(join(world.dir, 'run')) };

  // Each case in its own file, three at a time: a refused config touches nothing, so they cannot interfere.
  const results = new Map<Case, CliResult & { file: string }>();
  const queue = cases.map((c, n) => ({ c, file: join(world.dir, `bad-${n}.json`) }));
  const worker = async () => {
    for (let job = queue.shift(); job; job = queue.shift()) {
      const { c, file } = job;
      if ('text' in c.edit) writeFileSync(file, c.edit.text);
      else {
        const config = good();
        c.edit(config, world);
        writeFileSync(file, JSON.stringify(config, null, 2));
      }
      results.set(c, { ...(await runCli([c.command ?? 'apply', '--config', file])), file });
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  assert.deepEqual({ live: snapshotLive(world.secretsDir), run: walk(join(world.dir, 'run')) }, before, 'the live generation is untouched');

  for (const c of cases) {
    await t.test(c.what, () => {
      const r = results.get(c)!;
      assert.equal(r.code, 78, `${c.what}: ${r.stderr}`);
      const line = c.path ? `  ${c.path}: ` : '  ';
      const lines = r.stderr.split('\n');
      assert.ok(lines[0]!.startsWith(`error: ${r.file}: invalid configuration (`), r.stderr);
      assert.ok(lines.some((l) => l.startsWith(line) && c.message.test(l)), `expected a line "${line}…" matching ${c.message}:\n${r.stderr}`);
      assert.doesNotMatch(r.stderr, /\n\s+at |internal error/);
      assert.equal(r.stdout, '');
    });
  }
});

test('check --json reports the problems as data, with the config exit code', async (t) => {
  const world = makeWorld(t);
  writeConfig(world, { secrets: { db: { ...ageSource(join(world.dir, 'x.age')), mode: '0999' } } });
  const r = await runCli(['check', '--json', '--config', world.configFile]);
  assert.equal(r.code, 78);
  const report = JSON.parse(r.stdout);
  assert.equal(report.ok, false);
  assert.deepEqual(report.issues.map((i: { path: string }) => i.path), ['secrets.db.mode']);
});
