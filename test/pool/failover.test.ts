/**
 * Failover without waiting, as tables: which keys a run of requests goes to, and how long it
 * waits, when one key (or every key) answers 503 or times out. A scripted client (no HTTP)
 * on an injected clock: every attempt takes `attemptMs` of the clock's time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AdapterAnswer, ClientFactory } from '../../src/gemini/adapter.ts';
import { AttemptTimeoutError } from '../../src/gemini/classify.ts';
import { GeminiAPIPool, type GeminiAPIPoolOptions } from '../../src/pool/GeminiAPIPool.ts';
import type { Clock } from '../../src/pool/time.ts';
import type { PoolEvents, PoolResult } from '../../src/pool/types.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { ManualClock, noNative, settle, TestClock } from '../helpers.ts';

const M = 'm';
type Outcome = 'ok' | 'overloaded' | 'timeout' | 'deadline' | 'rate_limited';
interface Call {
  /** Key number, 1-based (`test-key-N`, shown as `key#N`). */
  key: number;
  at: number;
  outcome: Outcome;
}

const statusError = (status: number, body: object) => Object.assign(new Error(JSON.stringify({ error: { code: status, ...body } })), { status });
const ANSWER: AdapterAnswer = { text: 'ok', usage: { promptTokens: 1, outputTokens: 1, totalTokens: 2 } };
const PER_MINUTE_429 = {
  status: 'RESOURCE_EXHAUSTED',
  details: [
    { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier' }] },
    { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '60s' },
  ],
};

const pools: GeminiAPIPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

/**
 * A pool of `keys` keys (`project:` prefixes allowed) whose client answers as `behave` says,
 * recording every call. With a {@link TestClock}, each attempt moves time by `attemptMs`.
 */
function scripted<C extends Clock>(o: { clock: C; keys: number | string[]; behave: (key: number, at: number) => Outcome; attemptMs?: number; pool?: Partial<GeminiAPIPoolOptions> }) {
  const { clock, behave } = o;
  const calls: Call[] = [];
  const keys = typeof o.keys === 'number' ? Array.from({ length: o.keys }, (_, i) => `test-key-${i + 1}`) : o.keys;
  const factory: ClientFactory = (apiKey) => {
    const key = Number(apiKey.replace(/.*test-key-/, ''));
    const generate = async (): Promise<AdapterAnswer> => {
      const at = clock.now();
      const outcome = behave(key, at);
      calls.push({ key, at, outcome });
      if (clock instanceof TestClock) clock.advance(o.attemptMs ?? 100);
      if (outcome === 'overloaded') throw statusError(503, { status: 'UNAVAILABLE', message: 'The model is overloaded. Please try again later.' });
      if (outcome === 'timeout') throw new AttemptTimeoutError(30_000);
      if (outcome === 'deadline') throw new AttemptTimeoutError(1_000, 'deadline');
      if (outcome === 'rate_limited') throw statusError(429, PER_MINUTE_429);
      return ANSWER;
    };
    return { generate, stream: () => { throw new Error('unused'); }, check: async () => undefined, ...noNative };
  };
  const pool = new GeminiAPIPool({ keys, models: [M], poolSize: keys.length, clock, timers: false, clientFactory: factory, ...o.pool });
  pools.push(pool);
  const events: Array<[keyof PoolEvents, unknown]> = [];
  for (const e of ['keyCooldown', 'keyDisabled', 'keyRecovered'] as const) pool.on(e, (p) => events.push([e, p]));
  /** The times (relative to `t0`) of the calls to key `n`. */
  const callsTo = (n: number, t0: number) => calls.filter((c) => c.key === n).map((c) => c.at - t0);
  return { pool, calls, events, callsTo };
}

/** Sends `n` requests one after another; returns their results. */
async function sequential(pool: GeminiAPIPool, n: number): Promise<PoolResult[]> {
  const out: PoolResult[] = [];
  for (let i = 0; i < n; i++) out.push(await pool.generateContent({ prompt: `p${i}` }));
  return out;
}

describe('one key answers 503 while the others answer', () => {
  it('moves on at once, then skips the key 5 s, 10 s, 20 s ...: never a sleep, never disabled', async () => {
    const clock = new TestClock();
    const t0 = clock.t;
    const { pool, calls, callsTo, events } = scripted({ clock, keys: 4, behave: (key) => (key === 1 ? 'overloaded' : 'ok') });
    const results = await sequential(pool, 400);
    expect(results.every((r) => r.ok)).toBe(true);
    // The very first request meets key#1 before any other key answered: nothing says the 503
    // is its own, so it is not counted; the request moves on at once.
    expect(calls.slice(0, 2).map((c) => [c.key, c.outcome])).toEqual([[1, 'overloaded'], [2, 'ok']]);
    expect(results[0]).toMatchObject({ ok: true, keyId: 'key#2', attempts: 2 });
    expect(clock.sleeps).toEqual([]);
    // Then three 503s that are its own (other keys answered within 5 s): skipped for 5 s,
    // and at every further 503 twice as long (it never answered in between).
    const at = callsTo(1, t0);
    // (Each attempt takes 100 ms: a skip of 5 s starts when the third 503 is back.)
    expect(at).toEqual([0, 400, 1_400, 2_400, 2_400 + 5_100, 7_500 + 10_100, 17_600 + 20_100]);
    expect(pool.keyState(0, M)).toMatchObject({ status: 'cooling', kind: 'overloaded' });
    expect(events.filter((e) => e[0] === 'keyDisabled')).toEqual([]);
    // Counted against the key's health: it served under 2 % of the calls.
    expect(at.length / calls.length).toBeLessThan(0.02);
    const stats = pool.getKeyStats().keys[0]!;
    expect(stats).toMatchObject({ state: 'cooling', softCooldown: 'overloaded', models: { m: { state: 'cooling', softCooldown: 'overloaded' } } });
    expect(stats.errors).toBe(at.length - 1);
  });

  it('an answer from the key ends its strikes and its doubling', async () => {
    const clock = new TestClock();
    let key1 = 'overloaded' as Outcome;
    const { pool, callsTo } = scripted({ clock, keys: 3, behave: (key) => (key === 1 ? key1 : 'ok') });
    await sequential(pool, 20);
    const cooled = pool.keyState(0, M);
    expect(cooled).toMatchObject({ status: 'cooling', kind: 'overloaded' });
    // Key#1 answers again once its 5 s are over.
    key1 = 'ok';
    clock.t = (cooled as { until: number }).until;
    await sequential(pool, 6);
    expect(pool.getKeyStats().keys[0]!.state).toBe('active');
    // Then it fails again: three strikes anew, and 5 s again, not 10 s.
    key1 = 'overloaded';
    const before = callsTo(1, 0).length;
    await sequential(pool, 30);
    expect(callsTo(1, 0).length - before).toBe(3);
    const again = pool.keyState(0, M) as { status: string; until: number };
    expect(again.status).toBe('cooling');
    const lastCall = callsTo(1, 0).at(-1)!;
    expect(again.until - lastCall).toBe(5_000 + 100);
  });

  it('with many keys, the overloaded key stops costing a retry: calls per answer near 1', async () => {
    const clock = new TestClock();
    const { pool, calls, callsTo } = scripted({ clock, keys: 10, attemptMs: 50, behave: (key) => (key === 3 ? 'overloaded' : 'ok') });
    const results = await sequential(pool, 240);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(calls.length / results.length).toBeLessThanOrEqual(1.05);
    const lastThirdFrom = calls[Math.floor((calls.length * 2) / 3)]!.at;
    expect(callsTo(3, 0).filter((t) => t >= lastThirdFrom).length).toBeLessThanOrEqual(1);
    expect(clock.sleeps).toEqual([]);
  });
});

describe('one key times out while the others answer', () => {
  it('the same soft treatment, shown as slow; never disabled', async () => {
    const clock = new TestClock();
    const t0 = clock.t;
    const { pool, callsTo, events } = scripted({ clock, keys: 4, behave: (key) => (key === 2 ? 'timeout' : 'ok') });
    const results = await sequential(pool, 100);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(clock.sleeps).toEqual([]);
    const at = callsTo(2, t0);
    // First call: key#1 answered just before, so the timeout already counts.
    expect(at.length).toBeGreaterThanOrEqual(4);
    expect(at[3]! - at[2]!).toBeGreaterThanOrEqual(5_000);
    expect(pool.keyState(1, M)).toMatchObject({ status: 'cooling', kind: 'timeout', reason: expect.stringContaining('too slow') });
    expect(pool.getKeyStats().keys[1]).toMatchObject({ state: 'cooling', softCooldown: 'slow' });
    expect(events.filter((e) => e[0] === 'keyDisabled')).toEqual([]);
  });
});

describe('an attempt cut short by the request\'s deadline', () => {
  it('says nothing about the key: not counted, never a soft cooldown', async () => {
    const clock = new TestClock();
    const { pool, callsTo } = scripted({ clock, keys: 3, behave: (key) => (key === 2 ? 'deadline' : 'ok') });
    const results = await sequential(pool, 30);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(callsTo(2, 0).length).toBeGreaterThanOrEqual(6);
    expect(pool.keyState(1, M).status).toBe('active');
    expect(pool.getKeyStats().keys[1]!.errors).toBe(0);
  });
});

describe('every key answers 503', () => {
  it('one request: the next key at once, then one wait for the model, doubling (1 s, 2 s)', async () => {
    const clock = new TestClock();
    const { pool, calls } = scripted({ clock, keys: 2, attemptMs: 0, behave: () => 'overloaded' });
    const r = await pool.generateContent({ prompt: 'x' });
    expect(r).toMatchObject({ ok: false, attempts: 4, error: { kind: 'overloaded' } });
    // key#1 503: nothing known yet, straight to key#2; key#2 503 too: the model waits.
    expect(calls.map((c) => c.key)).toEqual([1, 2, 1, 2]);
    expect(clock.sleeps).toEqual([1_000, 2_000]);
    // Never a cooldown: the overload is the model's.
    expect([0, 1].map((i) => pool.keyState(i, M).status)).toEqual(['active', 'active']);
  });

  it('concurrent requests share one wait: the same moment for all, later arrivals included', async () => {
    const clock = new ManualClock();
    const wakeAt: number[] = [];
    const sleep = clock.sleep;
    clock.sleep = (ms, signal) => (wakeAt.push(clock.t + ms), sleep(ms, signal));
    let overloaded = true;
    const { pool, calls } = scripted({ clock, keys: 3, behave: () => (overloaded ? 'overloaded' : 'ok') });
    const t0 = clock.t;
    const waitFor = async (sleeping: number) => {
      for (let i = 0; i < 100 && clock.sleeping < sleeping; i++) await settle();
      expect(clock.sleeping).toBe(sleeping);
    };
    const first = Array.from({ length: 3 }, (_, i) => pool.generateContent({ prompt: `a${i}` }));
    await waitFor(3);
    const sentByFirst = calls.length;
    // 400 ms later three more arrive: they send nothing and wait for the same moment.
    await clock.advance(400);
    const later = Array.from({ length: 3 }, (_, i) => pool.generateContent({ prompt: `b${i}` }));
    await waitFor(6);
    expect(calls.length).toBe(sentByFirst);
    expect(new Set(wakeAt)).toEqual(new Set([t0 + 1_000]));
    // Gemini recovers; at the shared moment every request goes, and answers.
    overloaded = false;
    await clock.advanceTo(t0 + 1_000);
    const done = await Promise.all([...first, ...later]);
    expect(done.every((r) => r.ok)).toBe(true);
    expect(calls.length).toBe(sentByFirst + 6);
    expect(calls.slice(sentByFirst).every((c) => c.at === t0 + 1_000)).toBe(true);
  });

  it('a request arriving during the wait waits for the same moment; one whose deadline comes first fails at once', async () => {
    const clock = new TestClock();
    let overloaded = true;
    const { pool } = scripted({ clock, keys: 2, attemptMs: 0, behave: () => (overloaded ? 'overloaded' : 'ok'), pool: { maxAttempts: 2 } });
    expect(await pool.generateContent({ prompt: 'a' })).toMatchObject({ ok: false, error: { kind: 'overloaded' } });
    // The model waits 1 s from the second 503.
    expect(await pool.generateContent({ prompt: 'b', deadlineMs: 500 })).toMatchObject({ ok: false, attempts: 0, error: { kind: 'overloaded', retryAfterMs: 1_000 } });
    expect(clock.sleeps).toEqual([]);
    overloaded = false;
    expect(await pool.generateContent({ prompt: 'c' })).toMatchObject({ ok: true, attempts: 1 });
    expect(clock.sleeps).toEqual([1_000]);
    // An answer ends the model's overload: the next request goes at once.
    expect(await pool.generateContent({ prompt: 'd' })).toMatchObject({ ok: true });
    expect(clock.sleeps).toEqual([1_000]);
  });
});

describe('a soft cooldown gives way', () => {
  it('ends at once when the other keys start getting 503s too', async () => {
    const clock = new TestClock();
    let everyKey = false;
    const { pool, events } = scripted({ clock, keys: 3, behave: (key) => (key === 1 || everyKey ? 'overloaded' : 'ok') });
    await sequential(pool, 20);
    expect(pool.keyState(0, M)).toMatchObject({ status: 'cooling', kind: 'overloaded' });
    everyKey = true;
    const r = await pool.generateContent({ prompt: 'x' });
    expect(r).toMatchObject({ ok: false, error: { kind: 'overloaded' } });
    expect(pool.keyState(0, M).status).toBe('active');
    expect(events).toContainEqual(['keyRecovered', { keyId: 'key#1', model: M }]);
  });

  it('ends when no other key can take the request, instead of making it wait', async () => {
    const clock = new TestClock();
    let key1: Outcome = 'overloaded';
    let key2: Outcome = 'ok';
    const { pool, calls } = scripted({ clock, keys: 2, behave: (key) => (key === 1 ? key1 : key2) });
    await sequential(pool, 8);
    expect(pool.keyState(0, M)).toMatchObject({ status: 'cooling', kind: 'overloaded' });
    // key#2's project is rate-limited for a minute: key#1, merely skipped, takes the request.
    key1 = 'ok';
    key2 = 'rate_limited';
    const before = calls.length;
    const r = await pool.generateContent({ prompt: 'x' });
    expect(r).toMatchObject({ ok: true, keyId: 'key#1', attempts: 2 });
    expect(calls.slice(before).map((c) => [c.key, c.outcome])).toEqual([[2, 'rate_limited'], [1, 'ok']]);
    expect(clock.sleeps).toEqual([]);
  });
});

describe('a soft cooldown in the store', () => {
  it('is written with its end, read back as the key\'s own (not its project\'s), and erased when it gives way', async () => {
    const clock = new TestClock();
    const store = new MemoryStore();
    const keys = ['p:test-key-1', 'p:test-key-2', 'test-key-3'];
    let everyKey = false;
    const { pool } = scripted({ clock, keys, behave: (key) => (key === 1 || everyKey ? 'overloaded' : 'ok') });
    await pool.attachStore(store);
    await sequential(pool, 20);
    const cooling = pool.keyState(0, M);
    expect(cooling).toMatchObject({ status: 'cooling', kind: 'overloaded' });
    const other = scripted({ clock, keys, behave: () => 'ok' });
    await other.pool.attachStore(store);
    expect(other.pool.keyState(0, M)).toEqual(cooling);
    expect(other.pool.keyState(1, M).status).toBe('active');
    expect(other.pool.keyState(0, M, (cooling as { until: number }).until).status).toBe('active');
    // Every key gets 503s: the soft cooldown ends, and the store forgets it.
    everyKey = true;
    await pool.generateContent({ prompt: 'x' });
    expect(pool.keyState(0, M).status).toBe('active');
    await settle();
    const hash = pool.keys[0]!.hash;
    expect((await store.loadKeyStates([hash], clock.t)).get(hash)?.get(M)).toBeUndefined();
  });
});
