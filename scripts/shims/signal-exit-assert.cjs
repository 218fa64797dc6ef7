// Build-time stand-in for node:assert inside signal-exit (proper-lockfile's exit hook, loaded by
// every apply): signal-exit only checks that its callback is a function, with assert.equal, yet
// loading node:assert pulls in its error formatting, which creates process.stderr and with it
// node:stream — ~5 ms of start-up. The real module is loaded only if that check fails.
exports.equal = (actual, expected, message) => {
  if (actual != expected) require('node:assert').equal(actual, expected, message);
};
