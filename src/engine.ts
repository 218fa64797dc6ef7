// The engine: the commands that read secrets.json (apply, check, status, keys, rollback) and what
// `get` and `run` load when a value is not live (the configuration, the caller's keys, the fetch),
// imported in one place, on first use. Why: everything is one bundle (scripts/build.mjs), in which a
// dynamically imported module is evaluated when first imported, so `--version`, `get` from a live
// file or `run` never evaluate the engine; the heavy and rarely used parts (the sops, 1Password and
// Bitwarden implementations, yaml, re2js, age-encryption, `import`) are imported apart, by the runs
// that use them.
export { runApply } from './cli/commands/apply.js';
export { runCheck } from './cli/commands/check.js';
export { runKeys } from './cli/commands/keys.js';
export { runRollback } from './cli/commands/rollback.js';
export { runStatus } from './cli/commands/status.js';
export { loadConfig } from './config/load.js';
export { loadSshKeyFile } from './keys/files.js';
export { fetchSecrets } from './materialize/fetch.js';
