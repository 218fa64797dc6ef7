// The command line: the entry of the bundle (main.ts runs it). Commander and the command table are
// evaluated at start-up; a command's code only when it runs: the engine (src/engine.ts) for apply,
// check, status, keys and rollback; get, run and import on their own.
import { Command, InvalidArgumentError, Option } from 'commander';
import { VERSION } from '../version.js';
import { handleError } from './errors.js';
import { loggerFor } from '../log.js';
import { stderr, stdout } from '../stdio.js';
import { narrowUmask } from '../umask.js';

const seconds = (value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number of seconds.');
  return n;
};

const configOption = () =>
  new Option('-c, --config <file>', 'the secrets.json to use').env('MATERIALIZE_CONFIG');
const outputOptions = (cmd: Command) =>
  cmd.option('--json', 'print a machine-readable report on stdout').option('-v, --verbose', 'say more').option('-q, --quiet', 'print only warnings and errors');

const program = new Command('materialize')
  .description('Turn a declarative secrets.json into secret files under /run/secrets, from sops, age, 1Password or Bitwarden.')
  .version(VERSION, '-V, --version')
  .showSuggestionAfterError()
  .exitOverride()
  // `run` passes everything after its command through untouched (commander needs this for that).
  .enablePositionalOptions()
  .configureOutput({ writeOut: (text) => void stdout.write(text), writeErr: (text) => void stderr.write(text), outputError: (text, write) => write(text) });

outputOptions(
  program
    .command('apply', { isDefault: true })
    .description('fetch every secret and publish a new generation (the default command)')
    .addOption(configOption())
    .option('-n, --dry-run', 'fetch and compare, write nothing; print what would change (never a value)')
    .addOption(new Option('--units <mode>', 'restart/reload units of changed secrets').choices(['auto', 'yes', 'no']).default('auto'))
    .addOption(new Option('--units-scope <scope>', 'the units are system units, or the user units of the running user (systemctl --user)').choices(['system', 'user']).default('system'))
    .option('--lock-timeout <seconds>', 'how long to wait for another run', seconds, 60)
    .option('--timeout <seconds>', 'deadline for fetching all secrets', seconds, 120)
    .option('--boot', 'the boot run: when no generation is live yet, answer network sources from their sealed values (younger than network.seal.maxAge) without waiting for the network; later runs ask the network first'),
).action(action(async () => (await import('../engine.js')).runApply));

outputOptions(
  program
    .command('check')
    .description('validate secrets.json and the files and keys it references, without decrypting anything')
    .addOption(configOption())
    .option('--skip-owners', 'do not require owners and groups to exist (build time)')
    .option('--skip-keys', 'do not require usable keys on this machine (build time)'),
).action(action(async () => (await import('../engine.js')).runCheck));

outputOptions(
  program
    .command('status')
    .description('show the live generation and each secret: path, owner, mode, size, freshness (never a value)')
    .addOption(configOption())
    .option('-d, --secrets-dir <dir>', 'the secrets directory to inspect (default: from --config, else /run/secrets)'),
).action(action(async () => (await import('../engine.js')).runStatus));

type Flags = { json?: boolean; verbose?: boolean; quiet?: boolean };
// A command's function: its arguments, its flags, then the run's logger (each command has its own).
type CommandRun = (...args: any[]) => Promise<number>;

/**
 * A command's action: one logger for the run, handed to the command after its arguments and
 * options; whatever the command throws is reported once, the same way for every command
 * (handleError: stderr, and the failure JSON when the command's own --json was given, carrying the
 * warnings logged before the failure).
 */
function action(load: () => Promise<CommandRun>) {
  // Commander calls an action with the command's arguments, then its options, then the command.
  return async (...given: unknown[]) => {
    const flags = given.at(-2) as Flags;
    const log = loggerFor(flags);
    try {
      process.exitCode = await (await load())(...given.slice(0, -2), flags, log);
    } catch (error) {
      process.exitCode = handleError(error, { json: flags.json, warnings: log.warnings });
    }
  };
}

const repeatable = (value: string, previous: string[] = []) => [...previous, value];
const generation = (value: string): number => {
  if (!/^[1-9][0-9]{0,15}$/.test(value)) throw new InvalidArgumentError('expected a generation number (1, 2, …).');
  return Number(value);
};
const quietOptions = (cmd: Command) => cmd.option('-v, --verbose', 'say more').option('-q, --quiet', 'print only warnings and errors');

outputOptions(
  program
    .command('keys')
    .description("print this host's age recipients (SSH ed25519 host key, age key files) to add it to .sops.yaml or secrets.nix; public keys only")
    .addOption(configOption())
    .option('--ssh-pubkey <file>', 'an SSH public key file to convert ("-": read public key lines from stdin); repeatable', repeatable),
).action(action(async () => (await import('../engine.js')).runKeys));

quietOptions(
  program
    .command('import')
    .description("convert another tool's configuration into a secrets.json (printed, or written to a new file)")
    .argument('<format>', 'the tool: opnix (both of its JSON formats)')
    .argument('<file>', 'its configuration file')
    .option('-o, --output <file>', 'write a new file instead of printing (never overwrites)')
    .option('--token-file <path>', "the service account token's file", '/etc/opnix-token')
    .option('--output-dir <dir>', "OpNix's outputDir, where its relative paths were written", '/var/lib/opnix/secrets')
    .option('--no-links', 'do not link the secrets where OpNix wrote them under --output-dir')
    .option('--secrets-dir <dir>', "materialize's secretsDir", '/run/secrets'),
).action(action(async () => (await import('./commands/import.js')).runImport));

quietOptions(
  program
    .command('get')
    .description("print one secret's bytes exactly: the live file when you can read it, else fetched from its sources with your own keys and credentials (nothing written)")
    .argument('<name>', 'the secret (or template) name')
    .addOption(configOption())
    .option('--newline', 'end the output with a newline (added only when the value has none)')
    .option('--timeout <seconds>', 'deadline for fetching from sources', seconds, 30),
).action(action(async () => (await import('./commands/get.js')).runGet));

quietOptions(
  program
    .command('run')
    .description("run a command with secrets in its environment (--env) or as paths to private files (--file, removed when it ends); exits with the command's code")
    .argument('<command...>', 'the command and its arguments (after --)')
    .addOption(configOption())
    .option('--env <VAR=NAME>', 'set VAR to the value of the secret NAME; repeatable', repeatable)
    .option('--file <VAR=NAME>', 'set VAR to the path of a private file (0600) holding NAME; repeatable', repeatable)
    .option('--timeout <seconds>', 'deadline for fetching from sources', seconds, 30)
    .passThroughOptions(),
).action(action(async () => (await import('./commands/run.js')).runRun));

outputOptions(
  program
    .command('rollback')
    .description('make a kept earlier generation live again (default: the newest one before the live one); restart/reload the units of what differs')
    .addOption(configOption())
    .option('--to <generation>', 'the generation to make live', generation)
    .addOption(new Option('--units <mode>', 'restart/reload units of the secrets that differ').choices(['auto', 'yes', 'no']).default('auto'))
    .addOption(new Option('--units-scope <scope>', 'system units, or the user units of the running user').choices(['system', 'user']).default('system'))
    .option('--lock-timeout <seconds>', 'how long to wait for another run', seconds, 60),
).action(action(async () => (await import('../engine.js')).runRollback));

/** Runs the command line of this process (the entry, src/cli/main.ts, calls it). */
export async function main(): Promise<void> {
  // Secrets are written by this process: nothing it creates may be readable by others by default.
  narrowUmask();
  try {
    await program.parseAsync(process.argv);
  } catch (error) {
    // Only commander's own errors (usage, --help, --version) arrive here: they come before any action
    // (every action reports its own). Its options are those before `--`; what follows is run's command.
    const end = process.argv.indexOf('--');
    process.exitCode = handleError(error, { json: process.argv.slice(2, end < 0 ? undefined : end).includes('--json') });
  }
}
