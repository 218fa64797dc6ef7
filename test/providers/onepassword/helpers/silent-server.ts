// A 1Password server that hangs: the fake SDK sends its `hang` failures to it as a real HTTP
// request, so a deadline must abort a request that is really in flight.
import { createServer, type Socket } from 'node:net';
import type { TestContext } from 'node:test';

export interface SilentServer {
  /** http://127.0.0.1:<port>/ */
  url: string;
  /** The connections it accepted. */
  sockets: Socket[];
  /** Whether the first connection has been closed (by the client: the server never closes one). */
  firstClosed: () => boolean;
}

/** A TCP server on 127.0.0.1 that accepts and never answers (a server that completed the handshake and hangs); stopped after the test. */
export async function silentServer(t: Pick<TestContext, 'after'>): Promise<SilentServer> {
  const sockets: Socket[] = [];
  let firstClosed = false;
  const server = createServer((socket) => {
    if (sockets.length === 0) socket.on('close', () => (firstClosed = true));
    sockets.push(socket);
    socket.on('error', () => {});
    // Read (and ignore) the request, so the client's close is seen.
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/`, sockets, firstClosed: () => firstClosed };
}
