// Preloaded into a materialize run (NODE_OPTIONS=--import=…) by the planted-content test: every
// fchown that gives a file to MATERIALIZE_TEST_SLOW_UID returns only after MATERIALIZE_TEST_SLOW_MS.
// It makes a race deterministic: whatever state a file is in right after it is handed to its owner
// lasts long enough for that owner, polling, to see it and act on it — as on a loaded machine.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

const uid = Number(process.env.MATERIALIZE_TEST_SLOW_UID);
const ms = Number(process.env.MATERIALIZE_TEST_SLOW_MS ?? 2000);
const original = fs.fchownSync;
fs.fchownSync = function slowFchown(fd, owner, group) {
  original(fd, owner, group);
  if (owner === uid) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};
syncBuiltinESMExports();
