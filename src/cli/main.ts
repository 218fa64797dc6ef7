#!/usr/bin/env node
// Entry point. Kept tiny on purpose: commander and the command table load at start-up; each
// command's code (and the schema, providers and crypto behind it) loads only when that command runs.
import { Command, InvalidArgumentError, Option } from 'commander';
import { VERSION } from '../version.js';
import { handleError } from './errors.js';

// Secrets are written by this process: nothing it creates may be readable by others by default.
process.umask(0o077);

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
  .configureOutput({ outputError: (text, write) => write(text) });

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
).action(async (options) => {
  const { runApply } = await import('./commands/apply.js');
  process.exitCode = await runApply(options);
});

outputOptions(
  program
    .command('check')
    .description('validate secrets.json and the files and keys it references, without decrypting anything')
    .addOption(configOption())
    .option('--skip-owners', 'do not require owners and groups to exist (build time)')
    .option('--skip-keys', 'do not require usable keys on this machine (build time)'),
).action(async (options) => {
  const { runCheck } = await import('./commands/check.js');
  process.exitCode = await runCheck(options);
});

outputOptions(
  program
    .command('status')
    .description('show the live generation and each secret: path, owner, mode, size, freshness (never a value)')
    .addOption(configOption())
    .option('-d, --secrets-dir <dir>', 'the secrets directory to inspect (default: from --config, else /run/secrets)'),
).action(async (options) => {
  const { runStatus } = await import('./commands/status.js');
  process.exitCode = await runStatus(options);
});

const repeatable = (value: string, previous: string[] = []) => [...previous, value];

outputOptions(
  program
    .command('keys')
    .description("print this host's age recipients (SSH ed25519 host key, age key files) to add it to .sops.yaml or secrets.nix; public keys only")
    .addOption(configOption())
    .option('--ssh-pubkey <file>', 'an SSH public key file to convert ("-": read public key lines from stdin); repeatable', repeatable),
).action(async (options) => {
  const { runKeys } = await import('./commands/keys.js');
  process.exitCode = await runKeys(options);
});

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.exitCode = handleError(error);
}
