// Long synchronous stretches (decrypting thousands of files, writing thousands of files) must let
// the event loop turn now and then: the run lock's heartbeat is a timer, and a lock whose holder
// never refreshes it looks abandoned. One yield per batch costs microseconds.
export const YIELD_EVERY = 64;

export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
