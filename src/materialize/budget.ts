// The call budget of each network provider and credential, kept across runs and reboots: a run
// never spends more than `perHour` calls in any hour, and after a rate limit it makes none until
// the provider's window has passed. A unit stuck in a restart loop therefore cannot exhaust an
// account's quota (OpNix #43, external-secrets #4925): once the budget is spent, the run answers
// from the sealed store and says when the next call is allowed.
import { readFileSync } from 'node:fs';
import { ProviderError } from '../errors.js';
import { replaceFile } from './state.js';

export const BUDGET_NAME = 'budget.json';
export const HOUR = 3600_000;

/** The budget refused a call: a rate limit of our own making, not the provider's answer. */
export class BudgetError extends ProviderError {
  override name = 'BudgetError';
}

/** One provider+credential's record: the instants of its calls in the last hour, and any back-off. */
interface ScopeRecord {
  /** Whose budget it is, for `status` (`onepassword, token file /var/lib/…`); no secret. */
  label?: string;
  calls: number[];
  /** No call before this instant (ms since the epoch): the provider said "rate limited". */
  blockedUntil?: number;
}

export interface BudgetState {
  version: 1;
  scopes: Record<string, ScopeRecord>;
}

export interface ScopeStatus {
  scope: string;
  /** Whose budget it is: the provider and its credential (`onepassword, token file /var/lib/…`). */
  label: string | null;
  /** Calls allowed per hour (0: no limit). */
  perHour: number;
  used: number;
  /** Calls left in the current hour; null: no limit. */
  left: number | null;
  /** When the next call is allowed (ISO), if not now. */
  nextCallAt: string | null;
  blockedUntil: string | null;
}

/**
 * Reads the budget file; a missing or unreadable one is an empty budget, and a damaged record is
 * dropped (never a reason to fail a run or `status`).
 */
export function readBudget(file: string): BudgetState {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as BudgetState;
    if (parsed?.version === 1 && parsed.scopes && typeof parsed.scopes === 'object') {
      const scopes = Object.entries(parsed.scopes).filter(([, record]) => wellFormed(record));
      return { version: 1, scopes: Object.fromEntries(scopes) };
    }
  } catch {
    // missing or damaged: start afresh
  }
  return { version: 1, scopes: {} };
}

/** Whether a scope's record, as read from disk, has the shape the budget works with. */
function wellFormed(record: unknown): record is ScopeRecord {
  if (!record || typeof record !== 'object') return false;
  const r = record as Record<string, unknown>;
  return (
    Array.isArray(r.calls) &&
    r.calls.every((t) => typeof t === 'number') &&
    (r.blockedUntil === undefined || typeof r.blockedUntil === 'number') &&
    (r.label === undefined || typeof r.label === 'string')
  );
}

/** Writes the budget file whole (see state.ts). */
export function writeBudget(file: string, state: BudgetState): void {
  replaceFile(file, Buffer.from(`${JSON.stringify(state)}\n`));
}

/** The budget of one run: takes calls, records rate limits, and reports what is left. */
export class CallBudget {
  readonly #state: BudgetState;
  readonly #perHour: number;
  readonly #now: () => number;
  #changed = false;

  /** `perHour` 0 means no budget: calls are neither limited nor held back after a rate limit (still counted). */
  constructor(state: BudgetState, perHour: number, now: () => number = Date.now) {
    this.#state = state;
    this.#perHour = perHour;
    this.#now = now;
  }

  #record(scope: string): ScopeRecord {
    const now = this.#now();
    const record = (this.#state.scopes[scope] ??= { calls: [] });
    record.calls = record.calls.filter((t) => t > now - HOUR && t <= now);
    if (record.blockedUntil !== undefined && record.blockedUntil <= now) delete record.blockedUntil;
    return record;
  }

  /** Why no call may be made for `scope` now (a message naming when), or undefined when one may. */
  refusal(scope: string, provider: string): ProviderError | undefined {
    if (this.#perHour === 0) return undefined;
    const record = this.#record(scope);
    if (record.blockedUntil !== undefined) {
      return new BudgetError(provider, 'rate-limited', `rate limited earlier; no call before ${new Date(record.blockedUntil).toISOString()} (the provider's window)`);
    }
    if (this.#perHour > 0 && record.calls.length >= this.#perHour) {
      const next = new Date(record.calls[0]! + HOUR).toISOString();
      return new BudgetError(provider, 'rate-limited', `call budget spent (${this.#perHour} calls per hour); next call allowed at ${next}`);
    }
    return undefined;
  }

  /** Takes one call for `scope`; throws the refusal (kind rate-limited) when none is left. */
  take(scope: string, provider: string, label?: string): void {
    const refusal = this.refusal(scope, provider);
    if (refusal) throw refusal;
    const record = this.#record(scope);
    record.calls.push(this.#now());
    if (label !== undefined) record.label = label;
    this.#changed = true;
  }

  /** Gives back the newest call of `scope`: it never reached the provider, so it cost no quota. */
  giveBack(scope: string): void {
    const calls = this.#record(scope).calls;
    if (calls.length === 0) return;
    calls.splice(calls.lastIndexOf(Math.max(...calls)), 1);
    this.#changed = true;
  }

  /** The provider answered "rate limited": no call for `scope` until `windowMs` has passed. */
  rateLimited(scope: string, windowMs = HOUR): void {
    this.#record(scope).blockedUntil = this.#now() + windowMs;
    this.#changed = true;
  }

  get changed(): boolean {
    return this.#changed;
  }

  get state(): BudgetState {
    return this.#state;
  }

  /** What is left of every known scope, for `status` and reports. */
  status(): ScopeStatus[] {
    return Object.keys(this.#state.scopes)
      .sort()
      .map((scope) => this.scopeStatus(scope));
  }

  /** What is left of one scope (a scope never used has its whole budget; `left` null: no limit). */
  scopeStatus(scope: string, label?: string): ScopeStatus {
    const known = this.#state.scopes[scope];
    const record: ScopeRecord = known ? this.#record(scope) : { calls: [] };
    const base = { scope, label: record.label ?? label ?? null, perHour: this.#perHour, used: record.calls.length };
    // Without a budget (0) nothing is held back, a past rate limit included.
    if (this.#perHour === 0) return { ...base, left: null, nextCallAt: null, blockedUntil: null };
    const left = Math.max(0, this.#perHour - record.calls.length);
    const blocked = record.blockedUntil !== undefined ? new Date(record.blockedUntil).toISOString() : null;
    const next = blocked ?? (left === 0 ? new Date(record.calls[0]! + HOUR).toISOString() : null);
    return { ...base, left, nextCallAt: next, blockedUntil: blocked };
  }
}
