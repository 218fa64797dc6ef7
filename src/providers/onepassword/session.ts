// Every call the provider makes to 1Password goes through `Session.call`: counted before it is
// made, bounded by its deadline (and the run's), classified in one place, retried with backoff only
// when it failed fast for a reason a second try can mend. After a rate limit, nothing more is sent.
import type { ProviderError } from '../../errors.js';
import type { ProviderContext } from '../provider.js';
import { retryable, retrying, withDeadline } from '../network.js';
import { classifyThrown } from './errors.js';
import { fetchFailures } from './fetch-guard.js';
import type { OnePasswordSdk } from './port.js';
import type { OnePasswordSettings } from './settings.js';

export interface SessionOptions {
  sdk: OnePasswordSdk;
  settings: OnePasswordSettings;
  context: Pick<ProviderContext, 'countCall' | 'notSent' | 'signal' | 'log'>;
  /** Strings never to print (the token). */
  secrets: readonly string[];
  /** Delay before the second attempt; doubled each time (tests shorten it). */
  backoffMs?: number;
  random?: () => number;
}

export class Session {
  /** The first rate-limit answer: once seen, every later call fails with it without being sent. */
  #rateLimited: ProviderError | undefined;
  constructor(private readonly options: SessionOptions) {}

  /** Runs one SDK call under the rules above; `what` is the name it is counted and reported under. */
  async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const { settings, context, sdk } = this.options;
    let attempts = 0;
    try {
      return await retrying(
        async () => {
          if (this.#rateLimited) throw this.#rateLimited;
          attempts++;
          context.countCall(what);
          const before = fetchFailures();
          try {
            return await withDeadline(() => fn(), settings.callTimeout * 1000, context.signal, '1Password');
          } catch (error) {
            // Never sent: requests failed meanwhile, every one before connecting. Those of a concurrent
            // call are counted too; any request that failed otherwise keeps this call charged.
            const after = fetchFailures();
            const neverSent = after.other === before.other && after.neverSent > before.neverSent;
            const failure = classifyThrown(error, { call: what, seconds: settings.callTimeout, RateLimitExceededError: sdk.RateLimitExceededError, secrets: this.options.secrets, neverSent });
            if (failure.kind === 'rate-limited') this.#rateLimited = failure;
            if (failure.notSent) context.notSent?.(what);
            if (retryable(failure) && attempts < settings.attempts) context.log.debug(`1Password ${what}: attempt ${attempts} of ${settings.attempts} failed (${failure.message}); retrying`);
            throw failure;
          }
        },
        { attempts: settings.attempts, baseDelayMs: this.options.backoffMs ?? 500, signal: context.signal, retryable, random: this.options.random },
      );
    } catch (error) {
      const e = error as ProviderError;
      if (attempts > 1 && e.kind === 'unavailable' && !e.message.endsWith('attempts)')) e.message = `${e.message} (${attempts} attempts)`;
      throw e;
    }
  }
}
