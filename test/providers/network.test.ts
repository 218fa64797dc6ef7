// The shared network plumbing: token files only their owner can read, deadlines that fire whatever
// the client does, retries of temporary failures only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProviderError } from '../../src/errors.js';
import { createServer } from 'node:net';
import { DeadlineError, neverSent, readTokenFile, retryable, retrying, withDeadline } from '../../src/providers/network.js';
import { request } from 'node:http';
import { httpCall } from '../../src/providers/bitwarden/http.js';
import { seededRandom } from '../helpers/random.js';
import { tempDir } from '../helpers/temp.js';

const TOKEN = 'ops_eyJzaWduSW5BZGRyZXNzIjoidGVzdCJ9-token-value';

test('a token file: read without its trailing newline; refused when its group or others can read it, unless allowed', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'token');
  writeFileSync(file, `${TOKEN}\n`, { mode: 0o600 });
  assert.equal(readTokenFile('onepassword', file, 'providers.onepassword.tokenFile').toString(), TOKEN);
  for (const mode of [0o644, 0o640, 0o604]) {
    chmodSync(file, mode);
    assert.throws(
      () => readTokenFile('onepassword', file, 'providers.onepassword.tokenFile'),
      (e: unknown) => e instanceof ProviderError && e.kind === 'config' && e.message.includes(mode.toString(8)) && e.message.includes('providers.onepassword.tokenFile') && !e.message.includes(TOKEN),
    );
    assert.equal(readTokenFile('onepassword', file, 'x', { allowReadable: true }).toString(), TOKEN);
  }
});

test('a password file (finalLineEndingOnly): one final line ending dropped, trailing spaces and tabs kept', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'password');
  for (const [content, expected] of [['pw ends in blanks \t \n', 'pw ends in blanks \t '], ['crlf \r\n', 'crlf '], ['no newline ', 'no newline '], ['two\n\n', 'two\n']] as const) {
    writeFileSync(file, content, { mode: 0o600 });
    assert.equal(readTokenFile('bitwarden', file, 'providers.bitwarden.passwordFile', { finalLineEndingOnly: true }).toString(), expected, JSON.stringify(content));
  }
  writeFileSync(file, 'token \t\n', { mode: 0o600 });
  assert.equal(readTokenFile('bitwarden', file, 'x').toString(), 'token', 'a token file still loses all trailing whitespace');
  writeFileSync(file, '\r\n', { mode: 0o600 });
  assert.throws(() => readTokenFile('bitwarden', file, 'x', { finalLineEndingOnly: true }), /is empty/);
});

test('a token file that is missing, empty, a symlink or a directory is a configuration error naming the setting', (t) => {
  const dir = tempDir(t);
  const empty = join(dir, 'empty');
  writeFileSync(empty, '\n', { mode: 0o600 });
  const real = join(dir, 'real');
  writeFileSync(real, TOKEN, { mode: 0o600 });
  symlinkSync(real, join(dir, 'link'));
  for (const [file, reason] of [
    [join(dir, 'missing'), /does not exist/],
    [empty, /is empty/],
    [join(dir, 'link'), /symlink/],
    [dir, /not a regular file/],
  ] as const) {
    assert.throws(() => readTokenFile('bitwarden', file, 'providers.bitwarden.accessTokenFile'), (e: unknown) => e instanceof ProviderError && e.kind === 'config' && reason.test(e.message) && e.message.startsWith('providers.bitwarden.accessTokenFile: '));
  }
});

test('withDeadline: a call that never answers is cut off after its deadline, and its signal is aborted', async () => {
  let seen: AbortSignal | undefined;
  const started = Date.now();
  await assert.rejects(
    withDeadline((signal) => ((seen = signal), new Promise(() => {})), 200, new AbortController().signal, '1Password'),
    (e: unknown) => e instanceof DeadlineError && e.message === '1Password did not answer in 0.2 s',
  );
  assert.ok(Date.now() - started >= 190);
  assert.equal(seen?.aborted, true, 'the client is told to stop');
  // The run's own deadline cuts it off too.
  const run = new AbortController();
  setTimeout(() => run.abort(), 50);
  await assert.rejects(withDeadline(() => new Promise(() => {}), 60_000, run.signal, 'Bitwarden'), /the run's deadline passed/);
  assert.equal(await withDeadline(async () => 42, 1000, new AbortController().signal, 'x'), 42);
});

test('retrying: temporary failures are retried with backoff up to the limit; others never', async () => {
  const signal = new AbortController().signal;
  const random = seededRandom(7);
  let calls = 0;
  const temporary = new ProviderError('onepassword', 'unavailable', 'server error');
  assert.equal(await retrying(async () => (++calls < 3 ? Promise.reject(temporary) : 'ok'), { attempts: 3, baseDelayMs: 5, signal, retryable: (e) => e === temporary, random }), 'ok');
  assert.equal(calls, 3);
  calls = 0;
  await assert.rejects(retrying(async () => (calls++, Promise.reject(temporary)), { attempts: 4, baseDelayMs: 5, signal, retryable: () => true, random }), temporary);
  assert.equal(calls, 4, 'no more than the attempts allowed');
  calls = 0;
  const final = new ProviderError('onepassword', 'rate-limited', 'rate limit exceeded');
  await assert.rejects(retrying(async () => (calls++, Promise.reject(final)), { attempts: 5, baseDelayMs: 5, signal, retryable: (e) => e === temporary, random }), final);
  assert.equal(calls, 1, 'a failure that cannot change is never retried');
});

test('withDeadline leaves no listener on the run\'s signal: a run makes many calls on one signal', async () => {
  const { EventEmitter } = await import('node:events');
  const run = new AbortController();
  for (let i = 0; i < 25; i++) assert.equal(await withDeadline(async () => i, 1000, run.signal, 'x'), i);
  await assert.rejects(withDeadline(() => new Promise(() => {}), 10, run.signal, 'x'), DeadlineError);
  assert.equal(EventEmitter.getEventListeners(run.signal, 'abort').length, 0);
});

test('one retry rule: unavailable is retried unless a deadline caused it; Bitwarden\'s silent server carries its DeadlineError as cause', async (t) => {
  assert.equal(retryable(new ProviderError('bitwarden', 'unavailable', 'the server answered 500')), true);
  // A message that merely mentions a deadline (here, in a host name) does not decide: the cause does.
  assert.equal(retryable(new ProviderError('bitwarden', 'unavailable', 'login at https://deadline.example: the server answered 503')), true);
  assert.equal(retryable(new ProviderError('onepassword', 'unavailable', 'did not answer', { cause: new DeadlineError('x') })), false);
  for (const kind of ['not-found', 'unauthorized', 'rate-limited', 'config', 'corrupt'] as const) assert.equal(retryable(new ProviderError('bitwarden', kind, 'x')), false, kind);
  assert.equal(retryable(new DeadlineError('x')), false, 'a bare deadline is not retried either');

  const sockets: import('node:net').Socket[] = [];
  const silent = createServer((socket) => void sockets.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });
  const port = (silent.address() as import('node:net').AddressInfo).port;
  await assert.rejects(httpCall(`http://127.0.0.1:${port}/connect/token`, { method: 'GET', timeoutMs: 200, signal: new AbortController().signal, what: 'login' }), (e: unknown) => {
    assert.ok(e instanceof ProviderError && e.kind === 'unavailable');
    assert.equal(e.message, 'login: no answer in 0.2 s (the server accepted the connection but did not reply)');
    assert.ok(e.cause instanceof DeadlineError, 'the deadline is the cause');
    assert.equal(retryable(e), false);
    return true;
  });
});

test('neverSent, on the errors Node itself gives: a refused connection (fetch wraps it, http does not) is never sent; a reset after the request was read is', async () => {
  /** Real failures, as fetch and http.request report them, against a port just closed and a server that resets. */
  async function failures(how: 'refused' | 'reset'): Promise<unknown[]> {
    const server = createServer((socket) => {
      socket.on('error', () => {});
      socket.on('data', (d) => d.includes('\r\n\r\n') && socket.resetAndDestroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    if (how === 'refused') await new Promise((resolve) => server.close(resolve));
    const url = `http://127.0.0.1:${port}/`;
    const viaFetch = await fetch(url).then(() => assert.fail('answered'), (e: unknown) => e);
    const viaHttp = await new Promise((resolve) => request(url).on('error', resolve).end());
    server.close();
    return [viaFetch, viaHttp];
  }
  const [fetchRefused, httpRefused] = await failures('refused');
  assert.equal((fetchRefused as Error).message, 'fetch failed', 'fetch hides the cause in `cause`');
  assert.equal(neverSent(fetchRefused), true);
  assert.equal(neverSent(httpRefused), true);
  // Happy eyeballs: one attempt per address, all refused → never sent; one that was not → sent.
  assert.equal(neverSent(new AggregateError([httpRefused, httpRefused])), true);
  const [fetchReset, httpReset] = await failures('reset');
  assert.equal(neverSent(fetchReset), false);
  assert.equal(neverSent(httpReset), false);
  assert.equal(neverSent(new AggregateError([httpRefused, httpReset])), false);
  assert.equal(neverSent(new Error('request library compatibility issue')), false, 'a message alone proves nothing');
});
