// `node --require THIS`: at exit, writes the Node built-in modules the process loaded after start-up
// (Node's own process.moduleLoadList, one per line) to the file MATERIALIZE_TEST_BUILTINS names,
// so a test can prove a run never loaded what it does not use.
const { writeFileSync } = require('node:fs');
const before = new Set(process.moduleLoadList);
process.on('exit', () => {
  writeFileSync(process.env.MATERIALIZE_TEST_BUILTINS, process.moduleLoadList.filter((m) => !before.has(m) && m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length)).join('\n'));
});
