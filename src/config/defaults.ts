// Defaults of secrets.json that code outside the schema needs without loading it (zod): the live
// path of `get` reads a configuration's layout before, and often instead of, validating it all.
export const DEFAULT_SECRETS_DIR = '/run/secrets';
export const DEFAULT_MOUNT_POINT = '/run/secrets.d';
