/**
 * The pool with a StateStore: what a restart keeps, what a new day clears, what a store
 * outage costs (nothing but a log line), and changes from other processes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { GeminiAPIPool, type GeminiAPIPoolOptions } from '../../src/pool/GeminiAPIPool.ts';
import { nextPacificMidnight } from '../../src/pool/time.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import type { CounterDelta, KeyStateChange } from '../../src/store/types.ts';
import { FakeGemini } from '../../fakes/fakeGemini.ts';
import { TestClock, captureLogger } from '../helpers.ts';

let fake: FakeGemini | undefined;
const pools: GeminiAPIPool[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.close();
  await fake?.close();
  fake = undefined;
});

const KEYS = ['test-key-1', 'test-key-2', 'test-key-3'];

function makePool(clock: TestClock, extra: Partial<GeminiAPIPoolOptions> = {}): GeminiAPIPool {
  const p = new GeminiAPIPool({ keys: KEYS, baseUrl: fake!.url, poolSize: 3, clock, timers: false, ...extra });
  pools.push(p);
  return p;
}

describe('pool + store', () => {
  it('a restart keeps disabled keys, a day-long cooldown and today\'s counts', async () => {
    const clock = new TestClock();
    fake = await FakeGemini.start({ now: clock.now, keys: [{ key: 'test-key-1', status: 'invalid' }] });
    const store = new MemoryStore();
    const a = makePool(clock);
    await a.attachStore(store);
    fake.inject({ type: 'rateLimit', per: 'day' }, { key: 'test-key-2' });
    for (let i = 0; i < 4; i++) expect((await a.generateContent({ prompt: `p${i}` })).ok).toBe(true);
    const before = a.getKeyStats();
    await a.close();

    const b = makePool(clock);
    await b.attachStore(store);
    expect(b.keyState(0, 'gemini-2.5-flash')).toMatchObject({ status: 'disabled', kind: 'auth' });
    expect(b.keyState(1, 'gemini-2.5-flash')).toMatchObject({ status: 'cooling', kind: 'quota_exhausted', until: nextPacificMidnight(clock.t) });
    const after = b.getKeyStats();
    expect(after.keys.map((k) => [k.requestsToday, k.usage, k.errors])).toEqual(before.keys.map((k) => [k.requestsToday, k.usage, k.errors]));
    expect(after.totals.tokensToday).toBe(before.totals.tokensToday);
    // Neither dead key is tried again.
    const sentBefore = fake.requests.length;
    for (let i = 0; i < 3; i++) expect(await b.generateContent({ prompt: `q${i}` })).toMatchObject({ ok: true, keyId: 'key#3' });
    expect(fake.requests.slice(sentBefore).map((r) => r.key)).toEqual(['test-key-3', 'test-key-3', 'test-key-3']);
  });

  it('after Pacific midnight: the day cooldown is over and today\'s counts start at zero', async () => {
    const clock = new TestClock();
    fake = await FakeGemini.start({ now: clock.now });
    const store = new MemoryStore();
    const a = makePool(clock);
    await a.attachStore(store);
    fake.inject({ type: 'rateLimit', per: 'day' }, { key: 'test-key-1' });
    await a.generateContent({ prompt: 'x' });
    await a.close();
    clock.t = nextPacificMidnight(clock.t) + 1;
    const b = makePool(clock);
    await b.attachStore(store);
    expect(b.keyState(0, 'gemini-2.5-flash').status).toBe('active');
    expect(b.getKeyStats().totals.requestsToday).toBe(0);
    expect(b.getKeyStats().totals.usage).toBe(2);
  });

  it('a re-enabled key is stored as active again', async () => {
    const clock = new TestClock();
    fake = await FakeGemini.start({ now: clock.now, keys: [{ key: 'test-key-1', status: 'suspended' }] });
    const store = new MemoryStore();
    const a = makePool(clock);
    await a.attachStore(store);
    await a.generateContent({ prompt: 'x' });
    fake.setKey({ key: 'test-key-1', status: 'valid' });
    await a.recheckDisabledKeys();
    await a.close();
    const b = makePool(clock);
    await b.attachStore(store);
    expect(b.keyState(0, 'gemini-2.5-flash').status).toBe('active');
  });

  it('counters are written in batches, not per request', async () => {
    const clock = new TestClock();
    fake = await FakeGemini.start({ now: clock.now });
    const store = new MemoryStore();
    const batches: CounterDelta[][] = [];
    const add = store.addCounters.bind(store);
    store.addCounters = async (d) => {
      batches.push([...d]);
      return add(d);
    };
    const a = makePool(clock);
    await a.attachStore(store, { flushIntervalMs: 60_000 });
    for (let i = 0; i < 30; i++) await a.generateContent({ prompt: `p${i}` });
    expect(batches).toHaveLength(0);
    await a.flush();
    expect(batches).toHaveLength(1);
    expect(batches[0]!.reduce((n, d) => n + d.requests, 0)).toBe(30);
    expect(batches[0]!.length).toBe(3); // one row per key and model
  });

  it('a store outage costs a log line, not a request, and nothing counted is lost', async () => {
    const clock = new TestClock();
    fake = await FakeGemini.start({ now: clock.now });
    const store = new MemoryStore();
    const { logger, lines } = captureLogger('info');
    const a = makePool(clock, { logger });
    await a.attachStore(store, { flushIntervalMs: 60_000 });
    let down = true;
    const add = store.addCounters.bind(store);
    store.addCounters = async (d) => {
      if (down) throw new Error('connection refused');
      return add(d);
    };
    store.setKeyState = async () => {
      if (down) throw new Error('connection refused');
    };
    fake.inject({ type: 'status', status: 401 }, { key: 'test-key-1' });
    for (let i = 0; i < 5; i++) {
      expect((await a.generateContent({ prompt: `p${i}` })).ok).toBe(true);
      await a.flush();
    }
    expect(lines.filter((l) => l.includes('state store unavailable'))).toHaveLength(1);
    down = false;
    await a.flush();
    expect(lines.filter((l) => l.includes('state store back'))).toHaveLength(1);
    const rows = await store.loadCounters(a.keys.map((k) => k.hash), '2026-11-22');
    expect(rows.reduce((n, r) => n + r.requestsToday, 0)).toBe(6);
  });

  it('applies cooldowns and disabled keys that another process reports', async () => {
    const clock = new TestClock();
    fake = await FakeGemini.start({ now: clock.now });
    const store = new MemoryStore();
    let push: ((c: KeyStateChange) => void) | undefined;
    store.subscribe = (listener) => {
      push = listener;
      return () => (push = undefined);
    };
    const a = makePool(clock);
    await a.attachStore(store);
    push!({ keyHash: a.keys[0]!.hash, model: '*', state: { status: 'disabled', since: clock.t, reason: 'API key not valid', kind: 'auth' } });
    push!({ keyHash: a.keys[1]!.hash, model: 'gemini-2.5-flash', state: { status: 'cooling', until: clock.t + 60_000, reason: 'rate limited', kind: 'rate_limited' } });
    for (let i = 0; i < 3; i++) expect(await a.generateContent({ prompt: `p${i}` })).toMatchObject({ ok: true, keyId: 'key#3' });
    push!({ keyHash: a.keys[0]!.hash, model: '*', state: null });
    expect(a.keyState(0, 'gemini-2.5-flash').status).toBe('active');
  });
});
