// `{"onepassword": "op://vault/item/field"}` or `{"onepassword": {"reference": "op://…", "kind": "file"}}`:
// a secret from 1Password through a service account. This module is the light definition loaded at
// start-up; the implementation and @1password/sdk (a 14 MB WASM, ~100 ms and ~40 MB to load) are
// imported only when a run uses 1Password.
import { pathToFileURL } from 'node:url';
import { dynamicImport } from '../../dynamic-import.js';
import { testHook } from '../../test-hooks.js';
import type { ProviderDefinition } from '../provider.js';
import type { OnePasswordLib } from './provider.js';
import { settingsSchema, sourceSchema, type OnePasswordSettings, type OnePasswordSource } from './settings.js';

export type { OnePasswordSource, OnePasswordSettings } from './settings.js';

// Why a module path: the CLI tests run the built program in a child process, which cannot be
// handed an object; the test build (dist-test/) imports the fake SDK from this file instead. In the
// shipped build `testHook` is compiled to `undefined`, so no environment variable reaches it.
/** The fake SDK a test build was told to use (MATERIALIZE_TEST_ONEPASSWORD_SDK), if any. */
async function hookedLib(): Promise<OnePasswordLib | undefined> {
  const path = testHook('MATERIALIZE_TEST_ONEPASSWORD_SDK');
  if (!path) return undefined;
  const mod = await dynamicImport<{ createLib(): OnePasswordLib | Promise<OnePasswordLib> }>(pathToFileURL(path).href);
  return mod.createLib();
}

export const onePasswordProvider: ProviderDefinition<OnePasswordSource> = {
  name: 'onepassword',
  get source() {
    return sourceSchema();
  },
  get settings() {
    return settingsSchema();
  },
  network: true,
  // The token that `tokenFile` names, or the one in the environment (a run by hand).
  credential: (settings) => ((settings as OnePasswordSettings | undefined)?.tokenFile ? `token file ${(settings as OnePasswordSettings).tokenFile}` : 'token in OP_SERVICE_ACCOUNT_TOKEN'),
  describe: (s) => `onepassword ${s.reference}${s.kind === 'file' ? ' (file)' : ''}`,
  load: async (options) => {
    const lib = (options?.lib as OnePasswordLib | undefined) ?? (await hookedLib());
    return (await import('./provider.js')).createOnePasswordProvider(lib);
  },
};
