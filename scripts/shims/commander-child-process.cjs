// Build-time stand-in for node:child_process inside commander: commander needs it only to run
// executable subcommands, which materialize has none of, yet requiring it at load pulled in
// node:net and node:stream and cost every command (check, --version) ~10 ms of start-up.
// The real module is loaded on first use.
let real;
module.exports = new Proxy({}, { get: (_, key) => (real ??= require('node:child_process'))[key] });
