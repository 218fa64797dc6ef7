// The real @bitwarden/sdk-napi (Bitwarden's own Secrets Manager client), installed from the npm
// registry on first use into a cache outside the checkout. Not a devDependency: its lock entries
// name platform packages Bitwarden never published (darwin, win32: 404 on the registry), and npm
// ≥ 11.16 refuses such a lock file in `npm ci`. `npm install` of the one package has no lock file
// to refuse, and skips the optional platform packages that do not exist.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SDK_VERSION = '1.0.0';

/** The part of the SDK the fidelity test drives (its own declarations, as far as used). */
export interface BitwardenSdk {
  BitwardenClient: new (settings: { apiUrl: string; identityUrl: string; userAgent: string; deviceType: string }, logLevel: number) => {
    auth(): { loginAccessToken(token: string): Promise<unknown> };
    secrets(): {
      getByIds(ids: string[]): Promise<{ data: { id: string; key: string; value: string; note: string; projectId?: string | null }[] }>;
      list(organizationId: string): Promise<{ data: { id: string; key: string }[] }>;
    };
  };
}

/** Where the SDK is kept: MATERIALIZE_TEST_CACHE (root: /var/cache/materialize-test), else the temp dir. */
function cacheDir(): string {
  const base = process.env.MATERIALIZE_TEST_CACHE ?? ((process.getuid?.() ?? 0) === 0 ? '/var/cache/materialize-test' : join(tmpdir(), 'materialize-test-cache'));
  return join(base, `bitwarden-sdk-napi-${SDK_VERSION}`);
}

/** The SDK, installed if needed; a string says why it cannot be had here (a skip reason). */
export function loadBitwardenSdk(): BitwardenSdk | string {
  const glibc = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime;
  if (process.arch !== 'x64' || process.platform !== 'linux' || !glibc) {
    return `@bitwarden/sdk-napi ships for x86_64 glibc Linux only (this is ${process.platform} ${process.arch}${glibc ? '' : ', no glibc'}); our client is still tested against Bitwarden's published vectors (crypto.test.ts)`;
  }
  const dir = cacheDir();
  if (!existsSync(join(dir, 'node_modules/@bitwarden/sdk-napi/package.json'))) {
    mkdirSync(dir, { recursive: true });
    const r = spawnSync('npm', ['install', '--prefix', dir, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--silent', `@bitwarden/sdk-napi@${SDK_VERSION}`], { encoding: 'utf8', timeout: 300_000 });
    if (r.status !== 0) return `cannot install @bitwarden/sdk-napi@${SDK_VERSION} from the npm registry into ${dir}: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').slice(-1)[0]}`;
  }
  return createRequire(join(dir, 'package.json'))('@bitwarden/sdk-napi') as BitwardenSdk;
}
