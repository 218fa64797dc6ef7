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
  /** The first refresh after boot: when the network is up (no delay), or the timer's OnBootSec plus its random delay. */
  firstRefresh: 'network-up' | 'timer';
  /** The refresh timer's interval and its randomized delay. */
  refreshMs: number;
  jitterMs: number;
}

interface Outcome {
  withinMinute: number;
  withinHour: number;
  withinDay: number;
  /** Hosts whose values the network confirmed (a call served) within the day. */
  confirmed: number;
  calls: number;
  accepted: number;
  rejected: number;
}

/** The timer's OnBootSec= (the module's): a few minutes, for the network to settle. */
const ON_BOOT_SEC = 5 * 60_000;
/** When the network is up after a host reaches its unit (DHCP and the like). */
const NETWORK_UP = 10_000;

/** Runs one policy for a day after the fleet's reboot, as a queue of (time, host) events. */
function simulate(policy: Policy, seed: number): Outcome {
  const random = seeded(seed);
  const account = new Account();
  const has = new Array<number>(HOSTS).fill(Infinity); // when each host first had every secret
  const confirmed = new Array<boolean>(HOSTS).fill(false);
  let now = 0;
  const budgets = Array.from({ length: HOSTS }, () => new CallBudget({ version: 1, scopes: {} }, policy.budgetPerHour, () => now));
  const queue = new EventQueue();
  // Two kinds of run per host: the boot unit's (and its restarts), and the refresh timer's.
  const BOOT = 0;
  const TIMER = HOSTS;
  const jitter = () => Math.floor(random() * policy.jitterMs);
  for (let h = 0; h < HOSTS; h++) {
    const bootAt = Math.floor(random() * 20_000); // hosts reach their unit within 20 s of the reboot
    if (policy.sealed) has[h] = bootAt; // published from the seal at once, no call
    else queue.push(bootAt + NETWORK_UP, BOOT + h); // the boot run waits for the network, then calls
    if (policy.sealed && policy.firstRefresh === 'network-up') queue.push(bootAt + NETWORK_UP, TIMER + h);
    else queue.push(bootAt + ON_BOOT_SEC + jitter(), TIMER + h);
  }
  while (queue.size > 0) {
    const { at, host: event } = queue.pop();
    if (at > DAY) break;
    now = at;
    const host = event % HOSTS;
    const budget = budgets[host]!;
    let ok = false;
    if (!budget.refusal('onepassword:fleet', 'onepassword')) {
      budget.take('onepassword:fleet', 'onepassword');
      ok = account.call(now);
      if (!ok && policy.budgetPerHour > 0) budget.rateLimited('onepassword:fleet');
    }
    if (ok) {
      has[host] = Math.min(has[host]!, now);
      confirmed[host] = true;
    }
    if (event >= TIMER) queue.push(now + policy.refreshMs + jitter(), event);
    else if (!ok && policy.restartLoop) queue.push(now + RESTART_SEC, event);
  }
  const count = (limit: number) => has.filter((t) => t <= limit).length;
  return {
    withinMinute: count(60_000),
    withinHour: count(HOUR),
    withinDay: count(DAY),
    confirmed: confirmed.filter(Boolean).length,
    calls: account.calls,
    accepted: account.accepted,
    rejected: account.rejected,
  };
}

export function fleetScenario(): Table {
  const policies: Policy[] = [
    { name: 'restart loop (every 30 s on any failure), no seal, no budget: what burned quotas (OpNix #43, external-secrets #4925)', sealed: false, restartLoop: true, budgetPerHour: 0, firstRefresh: 'timer', refreshMs: DAY, jitterMs: DAY },
    { name: 'no seal: the boot run waits for the network, a 429 exits 69 (no restart); timer 5 min + ≤24 h, then daily + ≤24 h', sealed: false, restartLoop: false, budgetPerHour: 60, firstRefresh: 'timer', refreshMs: DAY, jitterMs: DAY },
    { name: 'sealed + budget; every host refreshes when the network is up, then daily + ≤24 h', sealed: true, restartLoop: false, budgetPerHour: 60, firstRefresh: 'network-up', refreshMs: DAY, jitterMs: DAY },
    { name: 'sealed + budget; timer only: 5 min + ≤24 h after boot, then daily + ≤24 h', sealed: true, restartLoop: false, budgetPerHour: 60, firstRefresh: 'timer', refreshMs: DAY, jitterMs: DAY },
    { name: 'sealed + budget; timer every 6 h + ≤6 h', sealed: true, restartLoop: false, budgetPerHour: 60, firstRefresh: 'timer', refreshMs: 6 * HOUR, jitterMs: 6 * HOUR },
    { name: 'sealed + budget; the defaults (1 h + ≤15 min): too often for 1,000 hosts on one Teams account', sealed: true, restartLoop: false, budgetPerHour: 60, firstRefresh: 'timer', refreshMs: HOUR, jitterMs: 15 * 60_000 },
  ];
  const rows = policies.map((p) => {
    const o = simulate(p, 20261129);
    return [p.name, o.withinMinute, o.withinHour, o.withinDay, o.confirmed, o.calls, o.accepted * READS_PER_RUN, o.rejected];
  });
  return {
    title: `Fleet: ${HOSTS} hosts, one 1Password Teams account, all rebooting at once (simulated day)`,
    columns: ['policy', 'hosts with every secret ≤ 1 min', '≤ 1 h', '≤ 24 h', 'values confirmed by 1Password ≤ 24 h', 'calls reaching the account', 'reads served', 'calls refused (429)'],
    rows,
    notes: [
      `Model: each host resolves its secrets with one call reading ${READS_PER_RUN} items; the account serves ${TOKEN_READS_PER_HOUR} reads per token per hour (sliding) and ${ACCOUNT_READS_PER_DAY} per day, and refuses a call (429) that would pass either. Hosts reach their unit within 20 s of the reboot and have the network ${NETWORK_UP / 1000} s later. Sealed hosts had values sealed before the reboot (younger than maxAge) and publish them at once, without a call; unsealed hosts wait for the network and call then. The refresh timer fires OnBootSec=5min after boot, then the interval after each run, each time plus a random delay up to RandomizedDelaySec. The per-host budget is the program's CallBudget (60 calls per hour), which also holds a host back for an hour after a 429. Seeded: \`npm run bench\` prints the same table every run.`,
      '',
      `Reading it: the account serves at most ${ACCOUNT_READS_PER_DAY / READS_PER_RUN} such runs a day, whatever the policy. A refresh of every host when the network comes up spends the hour's quota on the first ${TOKEN_READS_PER_HOUR / READS_PER_RUN} hosts and has the rest refused; sealed values make that refresh unnecessary for the boot itself, and a timer's random delay spreads the refreshes. At this fleet size a Teams account sustains a daily refresh; hourly suits a few dozen hosts per account.`,
    ],
  };
}
