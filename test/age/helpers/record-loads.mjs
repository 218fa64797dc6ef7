// `node --import THIS`: records every module the process loads (one file URL per line) in the file
// named by MATERIALIZE_TEST_LOADS, so a test can prove what was, and what was not, imported.
import { register } from 'node:module';

const hooks = `
import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  if (process.env.MATERIALIZE_TEST_LOADS && url.startsWith('file:')) appendFileSync(process.env.MATERIALIZE_TEST_LOADS, url + '\\n');
  return next(url, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
