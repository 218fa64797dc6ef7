// The benchmark's Bitwarden server, in its own process (the benchmark times the CLI with spawnSync,
// which would block a server in its own event loop): the test suite's local server with 50 vault
// items and 100 Secrets Manager secrets. It writes what a config needs to the file named by its
// argument and serves until its stdin closes.
import { writeFileSync } from 'node:fs';
import { BitwardenTestServer } from '../test/helpers/bitwarden/server.js';
import { testCert } from '../test/helpers/bitwarden/cert.js';

const server = await BitwardenTestServer.start({ seed: 99 });
const items = Array.from({ length: 50 }, (_, i) => {
  const name = `service-${i}`;
  server.addItem({ name, login: { username: `user-${i}`, password: `password-${i}-${'z'.repeat(20)}` } });
  return name;
});
const project = server.addProject('bench');
const secrets = Array.from({ length: 100 }, (_, i) => server.addSecret({ key: `KEY_${i}`, value: `value-${i}-${'w'.repeat(24)}`, projects: [project] }));
const info = { url: server.url, caFile: testCert().certFile, accessToken: server.accessToken(), clientId: server.clientId, clientSecret: server.clientSecret, password: server.password, items, secrets };
writeFileSync(process.argv[2]!, JSON.stringify(info));
process.stdin.resume();
process.stdin.on('end', () => void server.stop().then(() => process.exit(0)));
