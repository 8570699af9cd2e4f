/**
 * Two pools on one shared store, and the pick as a query: what another process writes is
 * applied as the store means it, and nextKey() changes nothing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ClientFactory } from '../../src/gemini/adapter.ts';
import { GeminiAPIPool } from '../../src/pool/GeminiAPIPool.ts';
import { hashKey } from '../../src/pool/keys.ts';
import type { PoolEvents } from '../../src/pool/types.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import type { KeyStateChange, PoolStateStore } from '../../src/store/types.ts';
import { captureLogger, TestClock, noNative } from '../helpers.ts';

const MODEL = 'gemini-2.5-flash';
const KEYS = ['p:test-key-1', 'p:test-key-2', 'test-key-3'];
const answering: ClientFactory = () => ({
  generate: async () => ({ text: 'hello', usage: { promptTokens: 1, outputTokens: 1, totalTokens: 2 } }),
  async *stream() {
    yield { text: 'hello' };
  },
  check: async () => undefined,
  ...noNative,
});

const pools: GeminiAPIPool[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.close();
});

/** Views of one MemoryStore that tell each other's state writes, as Redis does between processes. */
function sharedStores(n: number): PoolStateStore[] {
  const data = new MemoryStore();
  const listeners: Array<Set<(c: KeyStateChange) => void>> = Array.from({ length: n }, () => new Set());
  return listeners.map((own) => {
    const view = new Proxy(data, {
      get(target, prop) {
        if (prop === 'subscribe') {
          return (l: (c: KeyStateChange) => void) => {
            own.add(l);
            return () => own.delete(l);
          };
        }
        if (prop === 'setKeyState') {
          return async (keyHash: string, model: string, state: KeyStateChange['state']) => {
            await target.setKeyState(keyHash, model, state);
            for (const other of listeners) if (other !== own) for (const l of other) l({ keyHash, model, state });
          };
        }
        const v: unknown = Reflect.get(target, prop, target);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    return view as PoolStateStore;
  });
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
}

describe('a shared store', () => {
  it("another process's clearCooldowns ends the project's cooldown here too, not only the key's own", async () => {
    const clock = new TestClock();
    const [a, b] = sharedStores(2);
    const cooling = { status: 'cooling' as const, until: clock.t + 60_000, reason: 'rate limited', kind: 'rate_limited' };
    for (const k of ['test-key-1', 'test-key-2']) await a!.setKeyState(hashKey(k), MODEL, cooling);
    const here = new GeminiAPIPool({ keys: KEYS, models: [MODEL], clock, timers: false, clientFactory: answering });
    const there = new GeminiAPIPool({ keys: KEYS, models: [MODEL], clock, timers: false, clientFactory: answering });
    pools.push(here, there);
    await here.attachStore(a!);
    await there.attachStore(b!);
    expect(there.keyState(1, MODEL)).toMatchObject({ status: 'cooling', kind: 'rate_limited' });
    expect(here.clearCooldowns().sort()).toEqual(['key#1', 'key#2']);
    await until(() => there.keyState(0, MODEL).status === 'active' && there.keyState(1, MODEL).status === 'active');
  });

  it("/reset-pool here ends a key's own cooldown without ending its project's cooldown there", async () => {
    const clock = new TestClock();
    const [a, b] = sharedStores(2);
    const project = { status: 'cooling' as const, until: clock.t + 60_000, reason: 'rate limited', kind: 'rate_limited' };
    const own = { status: 'cooling' as const, until: clock.t + 30_000, reason: 'server errors', kind: 'transient' };
    await a!.setKeyState(hashKey('test-key-1'), MODEL, own);
    await a!.setKeyState(hashKey('test-key-2'), MODEL, project);
    const here = new GeminiAPIPool({ keys: KEYS, models: [MODEL], clock, timers: false, clientFactory: answering });
    const there = new GeminiAPIPool({ keys: KEYS, models: [MODEL], clock, timers: false, clientFactory: answering });
    pools.push(here, there);
    await here.attachStore(a!);
    await there.attachStore(b!);
    expect(here.keyState(0, MODEL)).toMatchObject({ status: 'cooling', kind: 'rate_limited' });
    here.resetPool();
    // key#1's own cooldown is gone here; what the store keeps for it is its project's.
    const stored = async () => (await a!.loadKeyStates([hashKey('test-key-1')], clock.t)).get(hashKey('test-key-1'))?.get(MODEL);
    let row = await stored();
    for (let i = 0; i < 200 && row?.kind !== 'rate_limited'; i++) {
      await new Promise((r) => setTimeout(r, 5));
      row = await stored();
    }
    expect(row).toMatchObject({ status: 'cooling', kind: 'rate_limited', until: project.until });
    expect(there.keyState(0, MODEL)).toMatchObject({ status: 'cooling', kind: 'rate_limited' });
    expect(there.keyState(1, MODEL)).toMatchObject({ status: 'cooling', kind: 'rate_limited' });
  });

  it("another process's cooldown of a project reaches every key of it here", async () => {
    const clock = new TestClock();
    const [a, b] = sharedStores(2);
    const here = new GeminiAPIPool({ keys: KEYS, models: [MODEL], clock, timers: false, clientFactory: answering });
    pools.push(here);
    await here.attachStore(a!);
    const cooling = { status: 'cooling' as const, until: clock.t + 60_000, reason: 'rate limited', kind: 'rate_limited' };
    await b!.setKeyState(hashKey('test-key-2'), MODEL, cooling);
    await until(() => here.keyState(0, MODEL).status === 'cooling');
    expect(here.keyState(2, MODEL)).toEqual({ status: 'active' });
  });
});

describe('nextKey is a query', () => {
  it('emits nothing and changes no state, even with a cooldown due to end; a request then ends it and says so', async () => {
    const clock = new TestClock();
    const { logger, lines } = captureLogger();
    const store = new MemoryStore();
    await store.setKeyState(hashKey('test-key-3'), MODEL, { status: 'cooling', until: clock.t + 1_000, reason: 'server errors', kind: 'transient' });
    const pool = new GeminiAPIPool({ keys: KEYS, models: [MODEL], clock, timers: false, clientFactory: answering, logger, poolSize: 3 });
    pools.push(pool);
    await pool.attachStore(store);
    const events: Array<PoolEvents['keyRecovered']> = [];
    pool.on('keyRecovered', (e) => events.push(e));
    clock.advance(1_000);
    const before = { stats: pool.getKeyStats(), pool: pool.getPoolStats(), logLines: lines.length };
    for (let i = 0; i < 5; i++) expect(pool.nextKey()).toBeDefined();
    expect(events).toEqual([]);
    expect({ stats: pool.getKeyStats(), pool: pool.getPoolStats(), logLines: lines.length }).toEqual(before);
    expect((await pool.generateContent({ prompt: 'hi' })).ok).toBe(true);
    expect(events).toEqual([{ keyId: 'key#3', model: MODEL }]);
  });
});

describe('the flush timer', () => {
  it('a flush that throws costs one log line, never an unhandled rejection', async () => {
    const { logger, lines } = captureLogger();
    const [shared] = sharedStores(1);
    const store = new Proxy(shared!, {
      get(target, prop) {
        if (prop === 'subscribeUsage') return () => () => undefined;
        if (prop === 'publishUsage') {
          return () => {
            throw new Error('publish exploded');
          };
        }
        return Reflect.get(target, prop, target);
      },
    });
    const rejections: unknown[] = [];
    const onRejection = (err: unknown) => rejections.push(err);
    process.on('unhandledRejection', onRejection);
    try {
      const pool = new GeminiAPIPool({ keys: KEYS, models: [MODEL], timers: false, clientFactory: answering, logger });
      pools.push(pool);
      await pool.attachStore(store, { flushIntervalMs: 5 });
      expect((await pool.generateContent({ prompt: 'hi' })).ok).toBe(true);
      await until(() => lines.some((l) => l.includes('flush failed')));
      expect(lines.find((l) => l.includes('flush failed'))).toContain('publish exploded');
      expect(rejections).toEqual([]);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });
});
