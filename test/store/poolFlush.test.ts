/**
 * The pool's counter flush against real stores when a store refuses a batch (a token count
 * that arrived as the string "8" used to poison every flush): the batch is dropped with one
 * log line, never sent again, the store is not reported down, and later batches land.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { GeminiAPIPool } from '../../src/pool/GeminiAPIPool.ts';
import { pacificDay } from '../../src/pool/time.ts';
import { RedisStore } from '../../src/store/redis.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import type { CounterDelta, StateStore } from '../../src/store/types.ts';
import { FakeGemini } from '../../fakes/fakeGemini.ts';
import { captureLogger } from '../helpers.ts';
import { useRedisServer } from './redisServer.ts';

/**
 * Passes every call through to `store`, except that while `armed` it turns the token count
 * of each counter batch into a string, as an upstream that sent `totalTokenCount: "8"` did.
 * The refusal itself comes from the real store.
 */
function spoiling(store: StateStore): { store: StateStore; armed: boolean; batches: CounterDelta[][] } {
  const ctl = { store, armed: false, batches: [] as CounterDelta[][] };
  ctl.store = new Proxy(store, {
    get(target, prop) {
      if (prop === 'addCounters') {
        return (deltas: readonly CounterDelta[]) => {
          const sent = deltas.map((d) => (ctl.armed ? { ...d, tokens: String(d.tokens) as unknown as number } : d));
          ctl.batches.push(sent);
          return target.addCounters(sent);
        };
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return ctl;
}

let fake: FakeGemini | undefined;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await fake?.close();
  fake = undefined;
});

async function refusedBatchScenario(open: (logger: Logger) => Promise<StateStore>): Promise<void> {
  fake = await FakeGemini.start();
  const { logger, lines } = captureLogger('info');
  const real = await open(logger);
  const spoil = spoiling(real);
  const pool = new GeminiAPIPool({ keys: ['test-key-1', 'test-key-2'], baseUrl: fake.url, logger, timers: false });
  cleanups.push(async () => {
    await pool.close();
    await real.close();
  });
  // Flushes only when the test says so.
  await pool.attachStore(spoil.store, { flushIntervalMs: 3_600_000 });
  const hashes = pool.keys.map((k) => k.hash);
  const stored = async () => (await real.loadCounters(hashes, pacificDay(Date.now()))).reduce(
    (t, r) => ({ requests: t.requests + r.requestsToday, tokens: t.tokens + r.tokensToday }),
    { requests: 0, tokens: 0 },
  );

  spoil.armed = true;
  for (let i = 0; i < 3; i++) expect((await pool.generateContent({ prompt: `spoiled ${i}` })).ok).toBe(true);
  await pool.flush();
  expect(spoil.batches).toHaveLength(1);
  expect(await stored()).toEqual({ requests: 0, tokens: 0 });
  const refused = lines.filter((l) => l.includes('refused a counter batch'));
  expect(refused).toHaveLength(1);
  expect(JSON.parse(refused[0]!)).toMatchObject({ level: 50, rows: spoil.batches[0]!.length, err: expect.stringMatching(/tokens must be a non-negative integer/) });

  // Dropped, not kept: the next flushes have nothing to send.
  spoil.armed = false;
  await pool.flush();
  await pool.flush();
  expect(spoil.batches).toHaveLength(1);

  // Later batches land.
  for (let i = 0; i < 2; i++) expect((await pool.generateContent({ prompt: `good ${i}` })).ok).toBe(true);
  await pool.flush();
  expect(spoil.batches).toHaveLength(2);
  const landed = spoil.batches[1]!.reduce((n, d) => n + d.tokens, 0);
  expect(landed).toBeGreaterThan(0);
  expect(await stored()).toEqual({ requests: 2, tokens: landed });

  // Never taken for an outage.
  expect(lines.filter((l) => l.includes('refused a counter batch'))).toHaveLength(1);
  expect(lines.filter((l) => /state store unavailable|Redis is unreachable/.test(l))).toEqual([]);
}

describe('the pool when a store refuses a counter batch', () => {
  const redis = useRedisServer();
  let n = 0;

  it('redis: drops the batch with one log line, is not reported down, and later batches land', async () => {
    await refusedBatchScenario((logger) => RedisStore.connect(redis.server().url, { prefix: `refuse${++n}:`, logger }));
  });

  it('sqlite: drops the batch with one log line instead of storing garbage, and later batches land', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpool-refuse-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    await refusedBatchScenario(async () => new SqliteStore(dir));
  });
});
