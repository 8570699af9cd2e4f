/**
 * The wait for quota through the real SDK, on an injected clock: a client that asks little
 * goes before a heavy client's backlog (weighted by `clientWeights`), the wait behind others
 * is bounded by `maxWaitMs` with an accurate `retryAfterMs` for what is refused, and a
 * waiting request is told its expected wait.
 */
import { describe, expect, it } from 'vitest';
import type { PoolResult } from '../../src/pool/types.ts';
import { ManualClock, settle } from '../helpers.ts';
import { poolFixture } from './fixture.ts';

const setup = poolFixture(() => new ManualClock(), { keys: ['test-key-1'], poolSize: 1 });

/** Waits (bounded) until `n` results are in. */
async function until(results: unknown[], n: number): Promise<void> {
  for (let i = 0; i < 200 && results.length < n; i++) await settle(5);
  expect(results.length).toBeGreaterThanOrEqual(n);
}

describe('fair shares while requests wait for quota', () => {
  it('a client that asks once goes before the backlog of one that asks often; nothing passes rpm', async () => {
    const { pool, fake, clock } = await setup({ pool: { limits: { defaults: { rpm: 2 }, maxWaitMs: 600_000 }, deadlineMs: 600_000 } });
    const done: string[] = [];
    const ask = (name: string, client: string) => pool.generateContent({ prompt: name, client }).then((r) => r.ok && done.push(name));
    const all = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((n) => ask(n, 'token:heavy'));
    await until(done, 2);
    all.push(ask('light', 'discord:user:1'));
    await settle();
    expect(pool.getPoolStats().waiting).toBe(5);
    // Each window frees two slots: the light client, which used none, goes first.
    await clock.advance(61_000);
    await until(done, 4);
    expect(done).toEqual(['h1', 'h2', 'light', 'h3']);
    for (let w = 0; w < 2; w++) await clock.advance(61_000);
    await Promise.all(all);
    expect(done).toEqual(['h1', 'h2', 'light', 'h3', 'h4', 'h5', 'h6']);
    expect(fake.requests.filter((r) => r.status === 429)).toHaveLength(0);
  });

  it('clientWeights: a client of weight 2 gets two slots to one while both wait', async () => {
    const { pool, clock } = await setup({
      pool: { limits: { defaults: { rpm: 1 }, maxWaitMs: 600_000, clientWeights: { 'token:web-app': 2 } }, deadlineMs: 600_000 },
    });
    const done: string[] = [];
    expect((await pool.generateContent({ prompt: 'first' })).ok).toBe(true);
    const all: Array<Promise<unknown>> = [];
    for (const [name, client] of [['w', 'token:web-app'], ['o', 'token:other']] as const) {
      for (let i = 1; i <= 3; i++) all.push(pool.generateContent({ prompt: `${name}${i}`, client }).then(() => done.push(`${name}${i}`)));
    }
    for (let w = 0; w < 6; w++) {
      await clock.advance(61_000);
      await until(done, w + 1);
    }
    await Promise.all(all);
    // Equal weights would alternate (w1 o1 w2 o2 w3 o3).
    expect(done).toEqual(['w1', 'o1', 'w2', 'w3', 'o2', 'o3']);
  });

  it('rejects a weight that is not a number > 0, naming it', async () => {
    await expect(setup({ pool: { limits: { clientWeights: { cli: -1 } } } })).rejects.toThrow('`limits.clientWeights.cli` must be a number > 0 (got -1)');
  });
});

describe('bounded wait for quota', () => {
  it('tells a waiting request its expected wait; refuses at once, sending nothing, one whose turn comes past maxWaitMs behind others', async () => {
    const { pool, fake, clock } = await setup({ pool: { limits: { defaults: { rpm: 1 }, maxWaitMs: 10_000 }, deadlineMs: 300_000 } });
    expect((await pool.generateContent({ prompt: 'a' })).ok).toBe(true);
    await clock.advance(1_000);
    const told: number[] = [];
    const second = pool.generateContent({ prompt: 'b', onWait: (ms) => told.push(ms) });
    // The first slot is worth waiting for (up to the deadline): the window frees it 61 s after the first send.
    expect(told).toEqual([60_000]);
    const third: PoolResult = await pool.generateContent({ prompt: 'c', onWait: () => told.push(-1) });
    // Behind `b` its turn is a window later: past the 10 s it may wait behind others.
    expect(third).toMatchObject({ ok: false, attempts: 0, error: { kind: 'rate_limited', retryAfterMs: 121_000 } });
    expect(told).toEqual([60_000]);
    expect(fake.requests).toHaveLength(1);
    await clock.advance(60_000);
    expect((await second).ok).toBe(true);
  });

  it('a key removed at runtime frees no slot: the schedule of waits reads only the keys in use', async () => {
    const { pool, fake, clock } = await setup({ keys: ['test-key-1', 'test-key-2'], pool: { limits: { defaults: { rpm: 1 }, maxWaitMs: 10_000 }, deadlineMs: 300_000 } });
    expect((await pool.generateContent({ prompt: 'a' })).ok).toBe(true);
    expect((await pool.generateContent({ prompt: 'b' })).ok).toBe(true);
    expect(pool.removeKey(1)).toBe(true);
    await clock.advance(1_000);
    const told: number[] = [];
    const third = pool.generateContent({ prompt: 'c', onWait: (ms) => told.push(ms) });
    expect(told).toEqual([60_000]);
    // With the removed key's slot counted, `d` would be told 60 s too; with one key its turn is a window later.
    const fourth = await pool.generateContent({ prompt: 'd', onWait: (ms) => told.push(ms) });
    expect(fourth).toMatchObject({ ok: false, attempts: 0, error: { kind: 'rate_limited', retryAfterMs: 121_000 } });
    expect(told).toEqual([60_000]);
    expect(fake.requests).toHaveLength(2);
    await clock.advance(60_000);
    expect((await third).ok).toBe(true);
  });

  it('a request that goes at once is not told anything', async () => {
    const { pool } = await setup({ pool: { limits: { defaults: { rpm: 5 } } } });
    const told: number[] = [];
    expect((await pool.generateContent({ prompt: 'a', onWait: (ms) => told.push(ms) })).ok).toBe(true);
    expect(told).toEqual([]);
  });
});
