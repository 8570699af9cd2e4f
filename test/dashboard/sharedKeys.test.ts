/**
 * Two processes on one Redis (each its own pool and store connection, as `createServices`
 * builds them): a key added on one is used by the other within a second, a key removed there
 * leaves it, a disable by hand reaches it, and a dashboard session made on one works on the
 * other.
 */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeGemini } from '../../fakes/fakeGemini.ts';
import { addKeys, removeAddedKey, ADDED_KEYS_POLL_MS } from '../../src/addedKeys.ts';
import { loadConfig } from '../../src/config.ts';
import { Sessions } from '../../src/gateway/dashboard/security.ts';
import { createServices, type Services } from '../../src/services.ts';
import { useRedisServer } from '../store/redisServer.ts';

const redis = useRedisServer();
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Polls `check` every 25 ms, at most `ms` worth of tries; throws when it never holds. */
async function within(ms: number, check: () => boolean): Promise<void> {
  for (let i = 0; i < Math.ceil(ms / 25) + 1; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`condition not reached within ${ms} ms`);
}

/** One process: its own pool and store connection on the shared Redis (each test's keys are gone by its end). */
async function process(fake: FakeGemini): Promise<Services> {
  const config = loadConfig({
    GEMINI_API_KEYS: 'test-key-1',
    GEMINI_BASE_URL: fake.url,
    STORE: 'redis',
    REDIS_URL: redis.server().url,
    STATE_SECRET: 'a-state-secret-shared-by-both',
  });
  const services = await createServices(config, pino({ level: 'silent' }));
  cleanups.push(async () => {
    await services.pool.close();
    await services.store.close();
  });
  return services;
}

describe('keys added at runtime, across processes sharing Redis', () => {
  it('a key added on one process is used by the other within a second; removed, it leaves both', async () => {
    const fake = await FakeGemini.start();
    cleanups.push(() => fake.close());
    const a = await process(fake);
    const b = await process(fake);
    expect(b.pool.keys.map((k) => k.id)).toEqual(['key#1']);
    const r = await addKeys({ pool: a.pool, store: a.store, vault: a.vault, now: Date.now }, 'test-key-shared', 'proj-s');
    expect(r.added).toEqual([{ hint: 'ared', group: 'proj-s', keyId: 'key#2' }]);
    // The other process reads the stored keys every ADDED_KEYS_POLL_MS.
    await within(3_000, () => b.pool.keys.some((k) => k.hint === 'ared'));
    expect(ADDED_KEYS_POLL_MS).toBeLessThanOrEqual(500);
    expect(b.pool.keys.find((k) => k.hint === 'ared')).toMatchObject({ id: 'key#2', groupLabel: 'proj-s', source: 'added' });
    // And sends requests with it.
    for (let i = 0; i < 4; i++) expect((await b.pool.generateContent({ prompt: `p${i}` })).ok).toBe(true);
    expect(fake.requestsFor('test-key-shared').length).toBeGreaterThan(0);

    expect((await removeAddedKey({ pool: b.pool, store: b.store, vault: b.vault, now: Date.now }, 'key#2')).ok).toBe(true);
    expect(b.pool.keys.map((k) => k.id)).toEqual(['key#1']);
    await within(3_000, () => a.pool.keys.length === 1);
    const before = fake.requestsFor('test-key-shared').length;
    for (let i = 0; i < 4; i++) expect((await a.pool.generateContent({ prompt: `q${i}` })).ok).toBe(true);
    expect(fake.requestsFor('test-key-shared')).toHaveLength(before);
  });

  it('a key disabled by hand on one process is disabled by hand on the other, and no re-check there lifts it', async () => {
    const fake = await FakeGemini.start();
    cleanups.push(() => fake.close());
    const a = await process(fake);
    const b = await process(fake);
    a.pool.disableKey(0);
    await within(3_000, () => b.pool.getKeyStats().keys[0]!.disabledByOperator === true);
    await b.pool.recheckDisabledKeys();
    expect(b.pool.getKeyStats().keys[0]).toMatchObject({ state: 'disabled', disabledByOperator: true });
    a.pool.enableKey(0);
    await within(3_000, () => b.pool.getKeyStats().keys[0]!.state === 'active');
  });

  it('a dashboard session made on one process works on the other', async () => {
    const fake = await FakeGemini.start();
    cleanups.push(() => fake.close());
    const a = await process(fake);
    const b = await process(fake);
    const onA = new Sessions(a.store, { idleMs: 60_000, now: Date.now });
    const onB = new Sessions(b.store, { idleMs: 60_000, now: Date.now });
    const { cookie, session } = await onA.create();
    expect(await onB.get(cookie, true)).toMatchObject({ id: session.id, csrf: session.csrf });
    await onB.end(cookie);
    expect(await onA.get(cookie, false)).toBeUndefined();
  });
});
