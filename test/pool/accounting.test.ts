/**
 * What a key check learns is the key's state everywhere (events, stats, the store, the next
 * process), and only requests that reached Gemini count toward today's requests and tokens
 * and the daily limiter.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { GeminiAPIPool } from '../../src/pool/GeminiAPIPool.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import type { StateStore, UsageReport } from '../../src/store/types.ts';
import { pacificDay } from '../../src/pool/time.ts';
import { FakeGemini } from '../../fakes/fakeGemini.ts';
import { TestClock, closedPort } from '../helpers.ts';
import { poolFixture } from './fixture.ts';

const MODELS = ['gemini-2.5-flash', 'gemini-2.5-pro'];
const setup = poolFixture(() => new TestClock(), { keys: ['test-key-1', 'test-key-2', 'test-key-3'], poolSize: 3, attemptTimeoutMs: 2_000, models: MODELS });

describe('a key check is the key\'s state everywhere', () => {
  it('an invalid key is disabled: state, stats, event, and the next process reading the store', async () => {
    const { pool, clock, fake, events } = await setup({ fake: { keys: [{ key: 'test-key-2', status: 'invalid' }] } });
    const store = new MemoryStore();
    await pool.attachStore(store);
    expect(await pool.checkKey(1)).toMatchObject({ ok: false, error: { kind: 'auth', reason: 'API_KEY_INVALID' } });
    expect(pool.keyState(1, 'gemini-2.5-pro')).toMatchObject({ status: 'disabled', kind: 'auth' });
    expect(pool.getKeyStats().keys[1]).toMatchObject({ id: 'key#2', state: 'disabled' });
    expect(events).toContainEqual(['keyDisabled', expect.objectContaining({ keyId: 'key#2', kind: 'auth' })]);
    // A check is no request: nothing counted today.
    expect(pool.getKeyStats().totals).toMatchObject({ requestsToday: 0, errors: 0 });
    await pool.close();
    // `keys check` then `stats`: another process on the same store sees it disabled.
    const next = new GeminiAPIPool({ keys: ['test-key-1', 'test-key-2', 'test-key-3'], baseUrl: fake.url, clock, timers: false, models: MODELS });
    await next.attachStore(store);
    expect(next.getKeyStats().keys[1]).toMatchObject({ state: 'disabled' });
    await next.close();
  });

  it('a billing failure disables the project; a 429 cools the project for every model; a network failure changes nothing', async () => {
    const { pool, fake, clock, events } = await setup({
      keys: ['proj-a:test-key-1', 'proj-a:test-key-2', 'test-key-3'],
      fake: { keys: [{ key: 'test-key-1', project: 'proj-a', status: 'billing' }, { key: 'test-key-2', project: 'proj-a' }] },
    });
    expect(await pool.checkKey(0)).toMatchObject({ ok: false, error: { kind: 'billing' } });
    expect(pool.keyState(1, 'gemini-2.5-flash')).toMatchObject({ status: 'disabled', kind: 'billing' });
    fake.inject({ type: 'rateLimit', per: 'minute', retryDelay: '20s' }, { key: 'test-key-3', route: 'listModels' });
    expect(await pool.checkKey(2)).toMatchObject({ ok: false, error: { kind: 'rate_limited' } });
    for (const model of MODELS) expect(pool.keyState(2, model)).toMatchObject({ status: 'cooling', kind: 'rate_limited', until: clock.t + 20_000 });
    expect(events.filter(([e]) => e === 'keyCooldown')).toHaveLength(2);
    clock.advance(20_000);
    fake.inject({ type: 'reset' }, { key: 'test-key-3', route: 'listModels' });
    expect(await pool.checkKey(2)).toMatchObject({ ok: false, error: { kind: 'transient' } });
    expect(pool.keyState(2, 'gemini-2.5-flash').status).toBe('active');
  });

  it('a disabled key that passes a check is enabled again, with an event', async () => {
    const { pool, fake, events } = await setup({ fake: { keys: [{ key: 'test-key-1', status: 'suspended' }] } });
    await pool.checkKey(0);
    expect(pool.keyState(0, 'gemini-2.5-flash').status).toBe('disabled');
    fake.setKey({ key: 'test-key-1' });
    expect(await pool.checkKey(0)).toMatchObject({ ok: true });
    expect(pool.keyState(0, 'gemini-2.5-flash').status).toBe('active');
    expect(events).toContainEqual(['keyRecovered', { keyId: 'key#1', model: null }]);
  });
});

describe('only requests that reached Gemini count today', () => {
  let extra: GeminiAPIPool | undefined;
  afterEach(async () => {
    await extra?.close();
    extra = undefined;
  });

  it('a refused connection counts nothing today, in the stats or the store', async () => {
    const clock = new TestClock();
    const store = new MemoryStore();
    extra = new GeminiAPIPool({ keys: ['test-key-1'], baseUrl: `http://127.0.0.1:${await closedPort()}`, clock, timers: false, maxAttempts: 1 });
    await extra.attachStore(store);
    expect(await extra.generateContent({ prompt: 'hi' })).toMatchObject({ ok: false, error: { kind: 'transient' } });
    expect(extra.getKeyStats().totals).toMatchObject({ requestsToday: 0, tokensToday: 0 });
    await extra.flush();
    const rows = await store.loadCounters(extra.keys.map((k) => k.hash), pacificDay(clock.t));
    expect(rows.reduce((n, r) => n + r.requestsToday, 0)).toBe(0);
  });

  it('a dropped connection gives its daily-limit slot back; an HTTP error keeps it', async () => {
    const { pool, fake } = await setup({ keys: ['test-key-1'], pool: { limits: { defaults: { rpd: 2 } }, transientFailuresBeforeCooldown: 10 } });
    fake.inject({ type: 'reset' });
    // The reset never reached Gemini: the retry still finds the day's slot free.
    expect(await pool.generateContent({ prompt: 'a' })).toMatchObject({ ok: true, attempts: 2 });
    expect(pool.getKeyStats().keys[0]).toMatchObject({ requestsToday: 1 });
    fake.inject({ type: 'status', status: 500 });
    // A 500 is an answer: Gemini counted it, so the second slot is used up by it.
    expect(await pool.generateContent({ prompt: 'b' })).toMatchObject({ ok: false, attempts: 1, error: { kind: 'quota_exhausted' } });
    expect(pool.getKeyStats().keys[0]).toMatchObject({ requestsToday: 2 });
    expect(fake.requests.filter((r) => r.route === 'generateContent').map((r) => r.status)).toEqual([0, 200, 500]);
  });

  it('the shared usage report does not include a send that never reached Gemini', async () => {
    const fake = await FakeGemini.start();
    const published: UsageReport[] = [];
    // A shared store: it reports what this process sends to the others.
    const store: StateStore = Object.assign(new MemoryStore(), {
      publishUsage: async (reports: readonly UsageReport[]) => void published.push(...reports),
      subscribeUsage: () => () => undefined,
    });
    extra = new GeminiAPIPool({ keys: ['test-key-1'], baseUrl: fake.url, clock: new TestClock(), timers: false, transientFailuresBeforeCooldown: 10 });
    await extra.attachStore(store, { flushIntervalMs: 60_000 });
    fake.inject({ type: 'reset' });
    expect(await extra.generateContent({ prompt: 'a' })).toMatchObject({ ok: true, attempts: 2 });
    await extra.flush();
    expect(published.reduce((n, r) => n + r.requests, 0)).toBe(1);
    await extra.close();
    extra = undefined;
    await fake.close();
  });
});
