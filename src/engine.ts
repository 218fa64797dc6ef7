// The engine, one lazily loaded module: the commands that read secrets.json (apply, check, status,
// keys, rollback) and what `get` and `run` load when a value is not live (the configuration, the
// caller's keys, the fetch). Why one: each dynamically imported module is a chunk of its own, and
// the chunks shared between them multiplied; the run at boot loaded 28 ES modules, and resolving,
// reading and linking each is a cost of its own. The heavy and rarely used parts stay apart,
// loaded only by the runs that use them: the sops, 1Password and Bitwarden implementations, yaml,
// re2js, age-encryption, and `import`. Nothing here does work when loaded (schemas are built on use).
export { runApply } from './cli/commands/apply.js';
export { runCheck } from './cli/commands/check.js';
export { runKeys } from './cli/commands/keys.js';
export { runRollback } from './cli/commands/rollback.js';
export { runStatus } from './cli/commands/status.js';
export { loadConfig } from './config/load.js';
export { loadSshKeyFile } from './keys/files.js';
export { fetchSecrets } from './materialize/fetch.js';
