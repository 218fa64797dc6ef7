// Child-process driver for tests that need another user (root reads every file): loads a key ring
// from the KeySettings JSON in argv[2] and prints its warnings and recipients (public) as JSON.
import { loadKeyRing } from '../../../src/keys/index.js';
import { silentLogger } from '../../../src/log.js';

const log = silentLogger();
const ring = await loadKeyRing(JSON.parse(process.argv[2]!), log);
process.stdout.write(JSON.stringify({ warnings: log.warnings, recipients: ring.identities.map((i) => i.recipient) }));
