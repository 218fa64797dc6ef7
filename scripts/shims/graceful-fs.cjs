// Build-time stand-in for graceful-fs inside proper-lockfile: the lock makes a handful of fs calls,
// so graceful-fs's EMFILE queueing is never needed, and loading it (it patches all of fs) cost
// every run a few milliseconds. Plain node:fs has the same API.
module.exports = require('node:fs');
