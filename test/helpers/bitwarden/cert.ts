// A self-signed certificate for 127.0.0.1 (and localhost), made with the real `openssl` once per
// test process: `bw` from 2025.12 on refuses every URL that is not https, and trusts this
// certificate through NODE_EXTRA_CA_CERTS (or our `caFile` setting).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCert {
  /** The PEM file to trust (it is its own CA). */
  certFile: string;
  cert: Buffer;
  key: Buffer;
  dir: string;
}

/** Why the tests that need the server's certificate skip: no `openssl` on this machine. */
export const OPENSSL_SKIP: string | false = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0 ? false : 'openssl is not installed (Debian: apt-get install openssl): the local Bitwarden server needs it for its https certificate';

let cached: TestCert | undefined;

export function testCert(): TestCert {
  if (cached) return cached;
  const dir = mkdtempSync(join(tmpdir(), 'bw-cert-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '3', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-addext', 'basicConstraints=critical,CA:TRUE'], { stdio: 'ignore' });
  cached = { certFile, cert: readFileSync(certFile), key: readFileSync(keyFile), dir };
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return cached;
}
