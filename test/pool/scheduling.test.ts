/**
 * Quota-aware scheduling through the real SDK: known limits are never overrun, limits named
 * in a 429 are learned, waiters are served in arrival order, and a wait that would pass the
 * deadline is refused at once.
 */
import { describe, expect, it } from 'vitest';
import { poolFixture } from './fixture.ts';
import type { PoolResult } from '../../src/pool/types.ts';
import type { FakeGemini } from '../../fakes/fakeGemini.ts';
import { ManualClock, settle } from '../helpers.ts';

const setup = poolFixture(() => new ManualClock(), { keys: ['test-key-1', 'test-key-2'], poolSize: 2 });

const count429 = (f: FakeGemini) => f.requests.filter((r) => r.status === 429).length;

/** Waits until `n` results are in (bounded). */
async function until(results: unknown[], n: number): Promise<void> {
  for (let i = 0; i < 200 && results.length < n; i++) await settle(5);
  expect(results.length).toBeGreaterThanOrEqual(n);
}

describe('scheduling', () => {
  it('known limits: never sends past RPM; the rest wait and go in arrival order as the window frees', async () => {
    const { pool, fake, clock } = await setup({ fake: { quotas: { rpm: 2 } }, pool: { limits: { defaults: { rpm: 2 } }, deadlineMs: 120_000 } });
    const done: Array<[number, PoolResult]> = [];
    const all = Array.from({ length: 7 }, (_, i) => pool.generateContent({ prompt: `p${i}` }).then((r) => done.push([i, r])));
    await until(done, 4);
    expect(done.map(([i]) => i).sort()).toEqual([0, 1, 2, 3]);
    expect(pool.getPoolStats().waiting).toBe(3);
    await clock.advance(61_000);
    await until(done, 7);
    await Promise.all(all);
    expect(done.map(([i]) => i).slice(4)).toEqual([4, 5, 6]);
    expect(done.every(([, r]) => r.ok)).toBe(true);
    expect(count429(fake)).toBe(0);
  });

  it('learns a limit from the first 429 and does not overrun it again', async () => {
    const { pool, fake, clock, lines } = await setup({
      keys: ['proj-a:test-key-1', 'proj-a:test-key-2'],
      fake: { keys: [{ key: 'test-key-1', project: 'proj-a' }, { key: 'test-key-2', project: 'proj-a' }], quotas: { rpm: 2 } },
      pool: { deadlineMs: 5_000 },
    });
    const results: PoolResult[] = [];
    for (let window = 0; window < 4; window++) {
      for (let i = 0; i < 4; i++) results.push(await pool.generateContent({ prompt: `w${window}-${i}` }));
      await clock.advance(61_000);
    }
    expect(count429(fake)).toBe(1);
    expect(results.filter((r) => r.ok)).toHaveLength(8);
    const refused = results.filter((r) => !r.ok);
    expect(refused.every((r) => !r.ok && r.error.kind === 'rate_limited' && (r.error.retryAfterMs ?? 0) > 0)).toBe(true);
    expect(lines.filter((l) => l.includes('learned a quota limit'))).toHaveLength(1);
  });

  it('a wait that would pass the deadline fails at once with retryAfterMs, sending nothing', async () => {
    const { pool, fake, clock } = await setup({ keys: ['test-key-1'], pool: { limits: { defaults: { rpm: 1 } }, deadlineMs: 10_000 } });
    expect((await pool.generateContent({ prompt: 'a' })).ok).toBe(true);
    await clock.advance(15_000);
    const r = await pool.generateContent({ prompt: 'b' });
    // The slot frees 60 s after the first send plus the 1 s margin.
    expect(r).toMatchObject({ ok: false, attempts: 0, error: { kind: 'rate_limited', retryAfterMs: 46_000 } });
    expect(fake.requests).toHaveLength(1);
  });

  it('a full wait queue refuses at once', async () => {
    const { pool, clock } = await setup({ keys: ['test-key-1'], pool: { limits: { defaults: { rpm: 1 }, maxQueued: 1 }, deadlineMs: 120_000 } });
    const first = await pool.generateContent({ prompt: 'a' });
    expect(first.ok).toBe(true);
    const waiting = pool.generateContent({ prompt: 'b' });
    // It queues in the same step as the call: no wait needed to see it there.
    expect(pool.getPoolStats().waiting).toBe(1);
    expect(await pool.generateContent({ prompt: 'c' })).toMatchObject({ ok: false, error: { kind: 'rate_limited', message: expect.stringContaining('too many requests are waiting') } });
    await clock.advance(61_000);
    expect((await waiting).ok).toBe(true);
  });

  it('a daily limit refuses until Pacific midnight with kind quota_exhausted', async () => {
    const { pool } = await setup({ keys: ['test-key-1'], pool: { limits: { defaults: { rpd: 1 } } } });
    expect((await pool.generateContent({ prompt: 'a' })).ok).toBe(true);
    const r = await pool.generateContent({ prompt: 'b' });
    expect(r).toMatchObject({ ok: false, error: { kind: 'quota_exhausted' } });
    if (!r.ok) expect(r.error.retryAfterMs).toBeGreaterThan(60_000);
  });

  it('health still chooses among keys that have capacity', async () => {
    const { pool, fake } = await setup({ keys: ['test-key-1', 'test-key-2', 'test-key-3'], pool: { poolSize: 3, limits: { perModel: { 'gemini-2.5-flash': { rpm: 3 } } } } });
    for (let i = 0; i < 9; i++) expect((await pool.generateContent({ prompt: `p${i}` })).ok).toBe(true);
    expect(fake.countsByKey()).toEqual({ 'test-key-1': 3, 'test-key-2': 3, 'test-key-3': 3 });
  });
});
