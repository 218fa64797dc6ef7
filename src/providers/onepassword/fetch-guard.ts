// The 1Password SDK has no timeout and no way to cancel a call: its WASM core calls the global
// `fetch`, and against a server that completed TLS and never answers it waited ~300 s (undici's
// header timeout). A deadline (withDeadline) lets the run go on, but the abandoned request would
// still hold its socket, so the process could not exit and systemd would see a hang instead of
// exit 75. While a run uses the SDK, each of its requests also carries our signal, aborted when the
// provider is done: nothing the SDK started outlives the provider's answer.
// Scope: the wrapper cannot tell the SDK's requests from others, so a request another part of the
// program made through the global fetch in that window, and still pending when the provider is done,
// is aborted too. No other provider uses the global fetch (sops and age read files; Bitwarden's
// clients are a native module and child processes); one that does must not run beside this.
// The guard also counts how its requests failed: the SDK says "request library compatibility
// issue" for any failed request (its core never sees why), and only the requests themselves tell a
// connection never made (nothing reached 1Password) from one reset after the request was sent.
import { neverSent } from '../network.js';

let active = 0;
let controller: AbortController | undefined;
let original: typeof fetch | undefined;
const failed = { neverSent: 0, other: 0 };

/** How many guarded requests have failed so far, by whether they provably never reached the server. */
export function fetchFailures(): Readonly<typeof failed> {
  return { ...failed };
}

export interface FetchGuard {
  /** Aborts every request still in flight and restores the global fetch (when no other guard is active). */
  release(): void;
}

/** Wraps the global fetch for the provider's lifetime; `release` must be called (in a finally). */
export function guardFetch(): FetchGuard {
  if (active++ === 0) {
    const c = (controller = new AbortController());
    const real = (original = globalThis.fetch);
    globalThis.fetch = function guardedFetch(input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) {
      const own = init?.signal ?? (input instanceof Request ? input.signal : undefined);
      const signal = own ? AbortSignal.any([own, c.signal]) : c.signal;
      return real(input, { ...init, signal }).catch((error: unknown) => {
        failed[neverSent(error) ? 'neverSent' : 'other']++;
        throw error;
      });
    } as typeof fetch;
  }
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      if (--active > 0) return;
      controller!.abort(new Error('materialize no longer waits for this 1Password request'));
      globalThis.fetch = original!;
      controller = undefined;
      original = undefined;
    },
  };
}
