// A stand-in for rbw 1.15.0 (the unofficial Bitwarden client), put first on PATH by the tests. It
// answers `rbw unlocked` and `rbw get` with the real tool's output shapes, messages and exit codes,
// as read from its sources (github.com/doy/rbw, src/bin/rbw/{main,commands,actions}.rs and
// src/bin/rbw-agent/actions.rs; written from those facts, no code copied):
// - errors print "rbw <subcommand>: <context>: <cause>" (anyhow's "{:#}") on stderr and exit 1;
// - `rbw unlocked`: exit 0 when unlocked, else "agent is locked" / "agent not running";
// - `rbw get` unlocks first: on a locked agent it starts pinentry and waits (here: it hangs);
// - entries are found by exact name, else by a name that contains the needle, with user and
//   folder strict first, then loose ("no entry found", "multiple entries found: user@name, …");
// - `--raw` prints the whole entry as pretty JSON {id, folder, name, data, fields, notes, history};
// - `--field F` matches rbw's own part names first, then the first custom field whose lowercased
//   name contains F lowercased; a missing field or password prints nothing and exits 0.
// Its state lives beside it: ../rbw/state ("unlocked", "locked", "stopped"), ../rbw/vault.json (the
// entries as `--raw` prints them); every call is appended to ../rbw/calls.log (argv and the
// environment variables rbw reads), so tests can count starts and see what reached the child.
import { appendFileSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const home = join(dirname(process.argv[1]), '..', 'rbw');
const argv = process.argv.slice(2);
const seen = ['HOME', 'XDG_RUNTIME_DIR', 'XDG_CONFIG_HOME', 'RBW_PROFILE', 'OP_SERVICE_ACCOUNT_TOKEN', 'SOPS_AGE_KEY'];
appendFileSync(join(home, 'calls.log'), `${JSON.stringify({ argv, env: Object.fromEntries(seen.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]])) })}\n`);
const state = readFileSync(join(home, 'state'), 'utf8').trim();

function fail(subcommand, message) {
  process.stderr.write(`rbw ${subcommand}: ${message}\n`);
  process.exit(1);
}

const [subcommand, ...rest] = argv;
if (subcommand === 'unlocked') {
  if (state === 'locked') fail('unlocked', 'agent is locked');
  if (state === 'stopped') fail('unlocked', 'agent not running');
  process.exit(0);
}
if (subcommand !== 'get') fail(subcommand ?? '', 'not implemented by the fake');

// Options as clap takes them: --raw, --folder F / --folder=F, -f F / --field F / --field=F, -i, `--`.
const options = { raw: false, folder: undefined, field: undefined, ignorecase: false };
const positional = [];
for (let i = 0; i < rest.length; i++) {
  const a = rest[i];
  if (a === '--') {
    positional.push(...rest.slice(i + 1));
    break;
  }
  if (a === '--raw') options.raw = true;
  else if (a === '-i' || a === '--ignorecase') options.ignorecase = true;
  else if (a === '--folder') options.folder = rest[++i];
  else if (a.startsWith('--folder=')) options.folder = a.slice(9);
  else if (a === '--field' || a === '-f') options.field = rest[++i];
  else if (a.startsWith('--field=')) options.field = a.slice(8);
  else positional.push(a);
}
const [needle, user] = positional;

// A locked (or stopped) agent: rbw get runs `rbw unlock`, which asks pinentry and waits for a person.
if (state !== 'unlocked') setInterval(() => {}, 1 << 30);
else {
  const vault = JSON.parse(readFileSync(join(home, 'vault.json'), 'utf8'));
  const desc = `${user !== undefined ? `${user}@` : ''}${needle}`;
  const entryUser = (e) => (e.data && typeof e.data === 'object' && typeof e.data.username === 'string' ? e.data.username : undefined);
  const matches = (e, strictUser, strictFolder, exact) => {
    const eq = (field, term) => {
      const [f, t] = options.ignorecase ? [field.toLowerCase(), term.toLowerCase()] : [field, term];
      return exact ? f === t : f.includes(t);
    };
    if (e.folder != null && options.folder !== undefined) {
      if (!eq(e.folder, options.folder)) return false;
    } else if (e.folder != null && strictFolder) return false;
    else if (e.folder == null && options.folder !== undefined) return false;
    const u = entryUser(e);
    if (u !== undefined && user !== undefined) {
      if (!eq(u, user)) return false;
    } else if (u !== undefined && strictUser) return false;
    else if (u === undefined && user !== undefined) return false;
    return e.id === needle || eq(e.name, needle);
  };
  let found;
  let matched = [];
  for (const exact of [true, false]) {
    matched = vault.filter((e) => matches(e, true, true, exact));
    if (matched.length === 1) {
      found = matched[0];
      break;
    }
    const strictFolder = vault.filter((e) => matches(e, false, true, exact));
    const strictUser = vault.filter((e) => matches(e, true, false, exact));
    if (strictFolder.length === 1 && strictUser.length !== 1) {
      found = strictFolder[0];
      break;
    }
    if (strictFolder.length !== 1 && strictUser.length === 1) {
      found = strictUser[0];
      break;
    }
    matched = vault.filter((e) => matches(e, false, false, exact));
    if (matched.length === 1) {
      found = matched[0];
      break;
    }
  }
  if (!found) {
    if (matched.length === 0) fail('get', `couldn't find entry for '${desc}': no entry found`);
    fail('get', `couldn't find entry for '${desc}': multiple entries found: ${matched.map((e) => (entryUser(e) ? `${entryUser(e)}@${e.name}` : e.name)).join(', ')}`);
  }
  const print = (value) => process.stdout.write(`${value}\n`);
  if (options.raw) print(JSON.stringify(found, null, 2));
  else if (options.field !== undefined) {
    const field = options.field.toLowerCase();
    const own = { password: found.data?.password, username: found.data?.username, user: found.data?.username, notes: found.notes, note: found.notes };
    if (field in own) {
      if (own[field] != null) print(own[field]);
    } else {
      const hit = (found.fields ?? []).find((f) => f.name != null && f.name.toLowerCase().includes(field));
      if (hit) print(hit.value ?? '');
    }
  } else if (found.data?.password != null) print(found.data.password);
  else process.stderr.write(`entry for '${desc}' had no password\n`);
}
