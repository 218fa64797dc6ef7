// Fleet scale, by simulation: 1,000 hosts share one 1Password account (Teams limits: 1,000 reads
// per token per hour, 5,000 per account per day) and all reboot at once, then refresh on a timer.
// How many hosts have every secret within the first minute, hour and day, and how many calls reach
// the account — for a restart loop (what burned quotas for OpNix #43 and external-secrets #4925),
// for materialize without sealed values, and with them. The per-host call budget is the program's
// own CallBudget; the account is a model of 1Password's documented limits. Seeded: the same table
// every run.
import { CallBudget, HOUR } from '../src/materialize/budget.js';
import type { Table } from './lib.js';

const HOSTS = 1000;
/** Reads one run costs: the items its references name (one resolveAll reads each item once). */
const READS_PER_RUN = 5;
const TOKEN_READS_PER_HOUR = 1000;
const ACCOUNT_READS_PER_DAY = 5000;
const DAY = 24 * HOUR;
const RESTART_SEC = 30_000;

/** A seeded generator of floats in [0, 1) (mulberry32). */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 1Password's limits as documented: reads per token per hour (sliding), per account per day. */
class Account {
  readonly #hour: number[] = [];
  #day = 0;
  calls = 0;
  accepted = 0;
  rejected = 0;

  /** One run's call: all its reads are served, or it is refused (429) and none is. */
  call(now: number): boolean {
    this.calls++;
    while (this.#hour.length > 0 && this.#hour[0]! <= now - HOUR) this.#hour.shift();
    if (this.#hour.length + READS_PER_RUN > TOKEN_READS_PER_HOUR || this.#day + READS_PER_RUN > ACCOUNT_READS_PER_DAY) {
      this.rejected++;
      return false;
    }
    for (let i = 0; i < READS_PER_RUN; i++) this.#hour.push(now);
    this.#day += READS_PER_RUN;
    this.accepted++;
    return true;
  }
}

/** A binary min-heap of (time, host) events; ties keep no particular order. */
class EventQueue {
  readonly #at: number[] = [];
  readonly #host: number[] = [];
  get size(): number {
    return this.#at.length;
  }
  push(at: number, host: number): void {
    let i = this.#at.length;
    this.#at.push(at);
    this.#host.push(host);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.#at[parent]! <= at) break;
      this.#swap(i, parent);
      i = parent;
    }
  }
  pop(): { at: number; host: number } {
    const top = { at: this.#at[0]!, host: this.#host[0]! };
    const lastAt = this.#at.pop()!;
    const lastHost = this.#host.pop()!;
    if (this.#at.length > 0) {
      this.#at[0] = lastAt;
      this.#host[0] = lastHost;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.#at.length && this.#at[l]! < this.#at[m]!) m = l;
        if (r < this.#at.length && this.#at[r]! < this.#at[m]!) m = r;
        if (m === i) break;
        this.#swap(i, m);
        i = m;
      }
    }
    return top;
  }
  #swap(a: number, b: number): void {
    [this.#at[a], this.#at[b]] = [this.#at[b]!, this.#at[a]!];
    [this.#host[a], this.#host[b]] = [this.#host[b]!, this.#host[a]!];
  }
}

interface Policy {
  name: string;
  /** Hosts come up with last-known-good values sealed before the reboot. */
  sealed: boolean;
  /** A failed run is restarted every 30 s (exit code not telling "stop"), or waits for the timer. */
  restartLoop: boolean;
  /** The per-host call budget (calls per hour; 0: none). */
  budgetPerHour: number;
  /** The refresh timer's interval and its randomized delay. */
  refreshMs: number;
  jitterMs: number;
}

interface Outcome {
  withinMinute: number;
  withinHour: number;
  withinDay: number;
  calls: number;
  accepted: number;
  rejected: number;
}

/** Runs one policy for a day after the fleet's reboot, as a queue of (time, host) events. */
function simulate(policy: Policy, seed: number): Outcome {
  const random = seeded(seed);
  const account = new Account();
  const has = new Array<number>(HOSTS).fill(Infinity); // when each host first had every secret
  let now = 0;
  const budgets = Array.from({ length: HOSTS }, () => new CallBudget({ version: 1, scopes: {} }, policy.budgetPerHour, () => now));
  const queue = new EventQueue();
  const push = (at: number, host: number) => queue.push(at, host);
  for (let h = 0; h < HOSTS; h++) {
    const bootAt = Math.floor(random() * 20_000); // hosts reach their unit within 20 s of the reboot
    if (policy.sealed) {
      has[h] = bootAt; // published from the seal at once, no call
      push(bootAt + 60_000 + Math.floor(random() * policy.jitterMs), h); // first refresh: OnBootSec=1min + jitter
    } else push(bootAt, h);
  }
  while (queue.size > 0) {
    const { at, host } = queue.pop();
    if (at > DAY) break;
    now = at;
    const budget = budgets[host]!;
    let ok = false;
    let rateLimited = false;
    if (!budget.refusal('onepassword:fleet', 'onepassword')) {
      budget.take('onepassword:fleet', 'onepassword');
      ok = account.call(now);
      if (!ok) {
        rateLimited = true;
        if (policy.budgetPerHour > 0) budget.rateLimited('onepassword:fleet');
      }
    } else rateLimited = true;
    if (ok) has[host] = Math.min(has[host]!, now);
    const failed = !ok && has[host] === Infinity;
    if (rateLimited && failed && policy.restartLoop) push(now + RESTART_SEC, host);
    else push(now + policy.refreshMs + Math.floor(random() * policy.jitterMs), host);
  }
  const count = (limit: number) => has.filter((t) => t <= limit).length;
  return { withinMinute: count(60_000), withinHour: count(HOUR), withinDay: count(DAY), calls: account.calls, accepted: account.accepted, rejected: account.rejected };
}

export function fleetScenario(): Table {
  const policies: Policy[] = [
    { name: 'restart loop (every 30 s on any failure), no seal', sealed: false, restartLoop: true, budgetPerHour: 0, refreshMs: 6 * HOUR, jitterMs: 0 },
    { name: 'materialize, no seal: rate limit = exit 69, hourly refresh (±1 h jitter)', sealed: false, restartLoop: false, budgetPerHour: 60, refreshMs: HOUR, jitterMs: HOUR },
    { name: 'materialize, sealed values + budget, hourly refresh (±1 h jitter)', sealed: true, restartLoop: false, budgetPerHour: 60, refreshMs: HOUR, jitterMs: HOUR },
    { name: 'materialize, sealed values + budget, refresh every 6 h (±6 h jitter)', sealed: true, restartLoop: false, budgetPerHour: 60, refreshMs: 6 * HOUR, jitterMs: 6 * HOUR },
    { name: 'materialize, sealed values + budget, refresh daily (±24 h jitter)', sealed: true, restartLoop: false, budgetPerHour: 60, refreshMs: DAY, jitterMs: DAY },
  ];
  const rows = policies.map((p) => {
    const o = simulate(p, 20261129);
    return [p.name, o.withinMinute, o.withinHour, o.withinDay, o.calls, o.accepted * READS_PER_RUN, o.rejected];
  });
  return {
    title: `Fleet: ${HOSTS} hosts, one 1Password Teams account, all rebooting at once (simulated day)`,
    columns: ['policy', 'hosts with every secret ≤ 1 min', '≤ 1 h', '≤ 24 h', 'calls reaching the account', 'reads served', 'calls refused (429)'],
    rows,
    notes: [
      `Model: each host resolves its secrets with one call reading ${READS_PER_RUN} items; the account serves ${TOKEN_READS_PER_HOUR} reads per token per hour (sliding) and ${ACCOUNT_READS_PER_DAY} per day, and refuses a call (429) that would pass either. Hosts reach their unit within 20 s of the reboot. Sealed hosts had values sealed before the reboot (the seal is younger than maxAge) and publish them at once; their first refresh is a timer (1 min after boot plus the randomized delay). The per-host budget is the program's CallBudget (60 calls per hour), which also blocks a host for an hour after a 429. Seeded: \`npm run bench\` prints the same table every run.`,
    ],
  };
}
