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

let active = 0;
let controller: AbortController | undefined;
let original: typeof fetch | undefined;

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
      return real(input, { ...init, signal });
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
