// One run's handling of network sources (providers with `network: true`): the call budget decides
// whether a provider may be called at all, the sealed store answers for it when it fails for a
// temporary reason (or, in the boot run, before it is asked), and every value the network gives is
// sealed for the next outage. Offline sources (sops, age) never pass through here.
import { createHash } from 'node:crypto';
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { formatDuration } from '../config/duration.js';
import type { NetworkSettings } from '../config/load.js';
import { ProviderError } from '../errors.js';
import type { KeyRing } from '../keys/index.js';
import type { Logger } from '../log.js';
import type { FetchOutcome, ProviderDefinition, SecretRequest } from '../providers/provider.js';
import { BUDGET_NAME, BudgetError, CallBudget, readBudget, writeBudget } from './budget.js';
import { SEAL_NAME, readSeal, writeSeal, type SealContents, type SealedValue } from './seal.js';
import { openStateDir } from './state.js';

/** `live`: the network first, the seal when it fails for a temporary reason. `cached`: the seal first (boot). */
export type NetworkMode = 'live' | 'cached';

/** A value answered from the seal: when the network gave it, and the failure it stands in for (live mode). */
export interface CachedAnswer {
  fetchedAt: string;
  because?: ProviderError;
}

/** A sealed value that may stand in for a failed source, once the secret's other sources failed too. */
export interface StandIn {
  value: Buffer;
  fetchedAt: string;
}

/**
 * An outcome that may come from the seal: an answer (`cached`, the boot run), or a temporary
 * failure carrying the sealed value that stands in for it when no later source of the secret answers.
 */
export type RemoteOutcome = ({ ok: Buffer } & { cached?: CachedAnswer }) | { error: ProviderError; standIn?: StandIn };

// Why these kinds only: an outage, a server error or a rate limit says nothing about the secret; a
// not-found, a bad reference or a revoked token does, and a sealed value must not outlive it.
const SEALABLE_FAILURES = new Set(['unavailable', 'rate-limited']);

export interface RemoteOptions {
  settings: NetworkSettings;
  mode: NetworkMode;
  /** Every source configured now (provider and source key): the seal keeps nothing else. */
  configured: ReadonlySet<string>;
  log: Logger;
  /** A dry run: read the state, never create or write it. */
  readOnly?: boolean;
  now?: () => number;
}

/**
 * Whose quota a provider's calls spend: the credential its settings name (a token file), not the
 * settings around it (a new callTimeout is the same account). The run and `status` must agree.
 */
export function credentialOf(definition: Pick<ProviderDefinition, 'credential'>, settings: unknown): string {
  return definition.credential?.(settings) ?? `settings ${JSON.stringify(settings ?? null)}`;
}

/** A stable name for the budget of a provider's credential (`token file /var/lib/…`), hashed: no path or setting in the name. */
export function budgetScope(provider: string, credential: string): string {
  return `${provider}:${createHash('sha256').update(credential).digest('hex').slice(0, 12)}`;
}

export class RemoteSources {
  readonly #options: RemoteOptions;
  readonly #now: () => number;
  readonly #dir: string;
  readonly #budget: CallBudget;
  #sealed: SealContents = { values: new Map(), exists: false };
  /** What the seal will hold after this run: the sealed values, updated by the network's answers. */
  readonly #next = new Map<string, SealedValue>();
  #sealChanged = false;

  private constructor(options: RemoteOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#dir = openStateDir(options.settings.stateDir, { readOnly: options.readOnly ?? false });
    this.#budget = new CallBudget(readBudget(join(this.#dir, BUDGET_NAME)), options.settings.callsPerHour, this.#now);
  }

  /** Opens the state directory, reads the budget and (when sealing is on) the seal with the host's keys. */
  static async open(options: RemoteOptions, keyRing: () => Promise<KeyRing>): Promise<RemoteSources> {
    const remote = new RemoteSources(options);
    if (options.settings.sealMaxAgeMs !== null) {
      remote.#sealed = await readSeal(join(remote.#dir, SEAL_NAME), (await keyRing()).identities);
      if (remote.#sealed.problem) options.log.warn(remote.#sealed.problem);
      for (const [key, value] of remote.#sealed.values) {
        if (options.configured.has(key)) remote.#next.set(key, value);
        else remote.#sealChanged = true; // no longer configured: dropped from the seal
      }
      if (remote.#sealed.problem) remote.#sealChanged = true;
    }
    return remote;
  }

  /** A sealed value young enough to use, or undefined. */
  #usable(key: string): SealedValue | undefined {
    const max = this.#options.settings.sealMaxAgeMs;
    const sealed = this.#sealed.values.get(key);
    if (max === null || !sealed) return undefined;
    return this.#now() - Date.parse(sealed.fetchedAt) <= max ? sealed : undefined;
  }

  /**
   * Before a provider is asked: answers from the seal what the boot run (`cached`) lets it answer, and refuses
   * (rate-limited) every request when the budget forbids calling the provider now. The requests
   * left over are the ones to send.
   */
  before(provider: string, credential: string, requests: readonly SecretRequest[]): { answered: Map<string, RemoteOutcome>; send: SecretRequest[] } {
    const answered = new Map<string, RemoteOutcome>();
    let send = [...requests];
    if (this.#options.mode === 'cached') {
      send = send.filter((r) => {
        const sealed = this.#usable(r.id);
        if (sealed) answered.set(r.id, { ok: sealed.value, cached: { fetchedAt: sealed.fetchedAt } });
        return !sealed;
      });
    }
    const refusal = send.length > 0 ? this.#budget.refusal(budgetScope(provider, credential), provider) : undefined;
    if (refusal) {
      for (const r of send) answered.set(r.id, this.#fallback(provider, r, refusal));
      send = [];
    }
    return { answered, send };
  }

  /** Takes one call from the provider's budget (its context's countCall); throws rate-limited when spent. */
  take(provider: string, credential: string): void {
    this.#budget.take(budgetScope(provider, credential), provider, `${provider}, ${credential}`);
  }

  /** A call taken by `take` never reached the provider (no connection): it is given back to the budget. */
  giveBack(provider: string, credential: string): void {
    this.#budget.giveBack(budgetScope(provider, credential));
  }

  /** After the provider answered: seals what it gave, covers temporary failures from the seal, forgets what is gone. */
  after(provider: string, credential: string, request: SecretRequest, outcome: FetchOutcome, description: string): RemoteOutcome {
    const key = request.id;
    if ('ok' in outcome) {
      if (this.#options.settings.sealMaxAgeMs !== null) {
        // The time is refreshed every time the network confirms the value, so maxAge counts from the last answer.
        this.#next.set(key, { provider, source: description, fetchedAt: new Date(this.#now()).toISOString(), value: outcome.ok });
        this.#sealChanged = true;
      }
      return outcome;
    }
    // The provider itself said so (not our budget): no call until its window has passed.
    if (outcome.error.kind === 'rate-limited' && !(outcome.error instanceof BudgetError)) this.#budget.rateLimited(budgetScope(provider, credential));
    if (SEALABLE_FAILURES.has(outcome.error.kind)) return this.#fallback(provider, request, outcome.error);
    if (this.#next.delete(key)) this.#sealChanged = true;
    return outcome;
  }

  // Why a stand-in and not an answer: a secret's own list of sources comes first (`[1Password,
  // sops]` means "the sops file when 1Password fails"); the seal is the last resort.
  /** The temporary failure with the sealed value that may stand in for it, or with why there is none. */
  #fallback(provider: string, request: SecretRequest, error: ProviderError): RemoteOutcome {
    const key = request.id;
    const sealed = this.#usable(key);
    if (sealed) return { error, standIn: { value: sealed.value, fetchedAt: sealed.fetchedAt } };
    const old = this.#sealed.values.get(key);
    if (old && this.#options.settings.sealMaxAgeMs !== null) {
      return { error: new ProviderError(provider, error.kind, `${error.message}; the sealed value (from ${old.fetchedAt}) is older than network.seal.maxAge (${formatDuration(this.#options.settings.sealMaxAgeMs)}) and is not used`) };
    }
    return { error };
  }

  /** Writes what changed: the seal (encrypted to the host's X25519 keys) and the budget. Never fails the run. */
  async save(keyRing: () => Promise<KeyRing>): Promise<void> {
    const { log } = this.#options;
    if (this.#budget.changed) {
      try {
        writeBudget(join(this.#dir, BUDGET_NAME), this.#budget.state);
      } catch (error) {
        log.warn(`cannot record the call budget in ${this.#dir}: ${(error as Error).message}`);
      }
    }
    if (this.#options.settings.sealMaxAgeMs === null || !this.#sealChanged) return;
    const recipients = (await keyRing()).identities.flatMap((i) => (i.stanzaTypes.includes('X25519') && 'publicKey' in i ? [(i as { publicKey: Buffer }).publicKey] : []));
    if (recipients.length === 0) {
      log.warn('network values are not sealed: no age key or SSH ed25519 key is configured to seal them to (keys.ageKeyFiles, keys.sshKeyPaths)');
      return;
    }
    try {
      const file = join(this.#dir, SEAL_NAME);
      if (this.#sealed.problem && this.#sealed.exists) this.#moveAside(file);
      writeSeal(file, this.#next, recipients);
    } catch (error) {
      log.warn(`cannot write the sealed store in ${this.#dir}: ${(error as Error).message}`);
    }
  }

  // Why aside and not over it: a seal that fails its MAC may be evidence of tampering; it is ours,
  // but whoever looks into it should find it where it was refused.
  /** Moves a refused seal to `sealed.age.refused-<time>`, and says so. */
  #moveAside(file: string): void {
    const aside = `${file}.refused-${new Date(this.#now()).toISOString().replace(/[:.]/g, '-')}`;
    try {
      renameSync(file, aside);
      this.#options.log.warn(`the refused sealed store was moved aside to ${aside}; a new one replaces it`);
    } catch (error) {
      this.#options.log.warn(`cannot move the refused sealed store aside (${(error as Error).message}); it is replaced`);
    }
  }

  /** The budget left, per provider and credential (for reports and `status`). */
  budgetStatus() {
    return this.#budget.status();
  }
}
