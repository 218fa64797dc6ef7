// The call budget: at most `perHour` calls in any hour per provider and credential, none at all
// after a rate limit until its window has passed, kept across runs (a file), said when refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BudgetError, CallBudget, HOUR, readBudget, writeBudget } from '../../src/materialize/budget.js';

test('a budget allows perHour calls in any hour, then refuses until the oldest leaves the window', () => {
  let now = 1_800_000_000_000;
  const budget = new CallBudget({ version: 1, scopes: {} }, 3, () => now);
  for (let i = 0; i < 3; i++) {
    budget.take('onepassword:abc', 'onepassword');
    now += 60_000;
  }
  assert.throws(() => budget.take('onepassword:abc', 'onepassword'), (e: unknown) => e instanceof BudgetError && e.kind === 'rate-limited' && /call budget spent \(3 calls per hour\); next call allowed at 2027-01-15T09:00:00.000Z/.test(e.message));
  budget.take('onepassword:other-token', 'onepassword'); // another credential has its own budget
  now = 1_800_000_000_000 + HOUR + 1;
  budget.take('onepassword:abc', 'onepassword'); // the first call left the window
  assert.throws(() => budget.take('onepassword:abc', 'onepassword'), BudgetError);
  assert.deepEqual(budget.status().find((s) => s.scope === 'onepassword:abc')?.left, 0);
});

test('after a rate limit no call is made until the window has passed, whatever the budget left', () => {
  let now = 1_800_000_000_000;
  const budget = new CallBudget({ version: 1, scopes: {} }, 100, () => now);
  budget.take('bitwarden:x', 'bitwarden');
  budget.rateLimited('bitwarden:x');
  assert.throws(() => budget.take('bitwarden:x', 'bitwarden'), /rate limited earlier; no call before 2027-01-15T09:00:00.000Z/);
  now += HOUR - 1;
  assert.ok(budget.refusal('bitwarden:x', 'bitwarden'));
  now += 2;
  assert.equal(budget.refusal('bitwarden:x', 'bitwarden'), undefined);
});

test('the budget survives runs: written whole (0600), read back; a damaged file is a fresh budget', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'materialize-budget-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'budget.json');
  let now = 1_800_000_000_000;
  // A restart loop: 1,000 runs 30 s apart, each trying one call; at most 10 an hour get through.
  let made = 0;
  for (let run = 0; run < 1000; run++) {
    const budget = new CallBudget(readBudget(file), 10, () => now);
    try {
      budget.take('onepassword:t', 'onepassword');
      made++;
    } catch (error) {
      assert.ok(error instanceof BudgetError);
    }
    writeBudget(file, budget.state);
    now += 30_000;
  }
  const hours = Math.ceil((1000 * 30_000) / HOUR);
  assert.ok(made <= 10 * hours, `${made} calls in ${hours} hours`);
  assert.ok(made >= 10 * (hours - 1), 'the budget is spent, not wasted');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  rmSync(file);
  assert.deepEqual(readBudget(file), { version: 1, scopes: {} });
  // Damaged records are dropped one by one; the others are kept, and the budget works on them.
  writeFileSync(file, JSON.stringify({ version: 1, scopes: { a: {}, b: { calls: 'no' }, c: { calls: [now], blockedUntil: 'soon' }, d: null, e: { calls: [now - 1000] } } }));
  const read = readBudget(file);
  assert.deepEqual(Object.keys(read.scopes), ['e']);
  const budget = new CallBudget(read, 10, () => now);
  budget.take('a', 'onepassword');
  assert.deepEqual(budget.status().map((s) => [s.scope, s.used]), [['a', 1], ['e', 1]]);
});

test('a call that never reached the provider is given back: a boot waiting for the network spends nothing', () => {
  let now = 1_800_000_000_000;
  const budget = new CallBudget({ version: 1, scopes: {} }, 2, () => now);
  budget.take('onepassword:t', 'onepassword');
  // 100 runs 30 s apart, each trying three times without a connection.
  for (let i = 0; i < 300; i++) {
    budget.take('onepassword:t', 'onepassword');
    budget.giveBack('onepassword:t');
    now += 10_000;
  }
  // 50 minutes later: only the first call counts.
  assert.deepEqual([budget.scopeStatus('onepassword:t').used, budget.scopeStatus('onepassword:t').left], [1, 1]);
  budget.take('onepassword:t', 'onepassword');
  assert.throws(() => budget.take('onepassword:t', 'onepassword'), BudgetError);
});
