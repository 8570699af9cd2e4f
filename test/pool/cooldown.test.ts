/**
 * No cooldown outlasts GEMINI_MAX_COOLDOWN_MS (a day's quota: the next Pacific midnight),
 * whoever sets it: RetryInfo, a configured duration, the store, another process. And an
 * admin can end cooldowns with clearCooldowns.
 */
import { describe, expect, it } from 'vitest';
import { GeminiAPIPool } from '../../src/pool/GeminiAPIPool.ts';
import { nextPacificMidnight } from '../../src/pool/time.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import type { KeyStateChange } from '../../src/store/types.ts';
import { TestClock } from '../helpers.ts';
import { poolFixture } from './fixture.ts';

const MODELS = ['gemini-2.5-flash', 'gemini-2.5-pro'];
const setup = poolFixture(() => new TestClock(), { keys: ['test-key-1', 'test-key-2', 'test-key-3'], poolSize: 3, attemptTimeoutMs: 2_000, models: MODELS });
const YEARS_31 = 999_999_999_000;

describe('every cooldown has a ceiling', () => {
  it('a RetryInfo of 999999999s cools for maxCooldownMs, and that is what is stored', async () => {
    const { pool, fake, clock } = await setup();
    const store = new MemoryStore();
    await pool.attachStore(store);
    fake.inject({ type: 'rateLimit', per: 'minute', retryDelay: '999999999s' }, { key: 'test-key-1' });
    expect(await pool.generateContent({ prompt: 'hi' })).toMatchObject({ ok: true, keyId: 'key#2' });
    expect(pool.keyState(0, 'gemini-2.5-flash')).toMatchObject({ status: 'cooling', until: clock.t + 600_000 });
    const stored = await store.loadKeyStates([pool.keys[0]!.hash], clock.t);
    expect(stored.get(pool.keys[0]!.hash)?.get('gemini-2.5-flash')).toMatchObject({ status: 'cooling', until: clock.t + 600_000 });
  });

  it('the configured max applies to every cooldown that is not a day\'s: RetryInfo, per-minute and server errors', async () => {
    const { pool, fake, clock } = await setup({ pool: { maxCooldownMs: 5_000, rateLimitCooldownMs: 60_000, transientCooldownMs: 30_000, transientFailuresBeforeCooldown: 1 } });
    fake.inject({ type: 'rateLimit', per: 'minute', retryDelay: null }, { key: 'test-key-1' });
    fake.inject({ type: 'status', status: 500 }, { key: 'test-key-2' });
    await pool.generateContent({ prompt: 'hi' });
    expect(pool.keyState(0, 'gemini-2.5-flash')).toMatchObject({ status: 'cooling', kind: 'rate_limited', until: clock.t + 5_000 });
    expect(pool.keyState(1, 'gemini-2.5-flash')).toMatchObject({ status: 'cooling', kind: 'transient', until: clock.t + 5_000 });
    // A day's quota is not capped by it: it lasts until Pacific midnight, and not beyond.
    fake.inject({ type: 'rateLimit', per: 'day', retryDelay: '999999999s' }, { key: 'test-key-3' });
    await pool.generateContent({ prompt: 'hi' });
    expect(pool.keyState(2, 'gemini-2.5-flash')).toMatchObject({ status: 'cooling', kind: 'quota_exhausted', until: nextPacificMidnight(clock.t) });
  });

  it('cooldowns loaded from the store are capped (a day\'s at midnight) and the capped ones written back', async () => {
    const { fake, clock } = await setup();
    const store = new MemoryStore();
    const keys = ['test-key-1', 'test-key-2', 'test-key-3'];
    const first = new GeminiAPIPool({ keys, baseUrl: fake.url, clock, timers: false, models: MODELS });
    const [k1, k2] = first.keys;
    await first.close();
    await store.setKeyState(k1!.hash, 'gemini-2.5-flash', { status: 'cooling', until: clock.t + YEARS_31, reason: 'rate limited', kind: 'rate_limited' });
    await store.setKeyState(k2!.hash, 'gemini-2.5-flash', { status: 'cooling', until: clock.t + 3 * 86_400_000, reason: 'daily quota exhausted', kind: 'quota_exhausted' });
    const pool = new GeminiAPIPool({ keys, baseUrl: fake.url, clock, timers: false, models: MODELS, maxCooldownMs: 60_000 });
    const recovered: string[] = [];
    pool.on('keyRecovered', (e) => recovered.push(e.keyId));
    await pool.attachStore(store);
    expect(pool.keyState(0, 'gemini-2.5-flash')).toMatchObject({ status: 'cooling', until: clock.t + 60_000 });
    expect(pool.keyState(1, 'gemini-2.5-flash')).toMatchObject({ status: 'cooling', until: nextPacificMidnight(clock.t) });
    await new Promise((r) => setImmediate(r));
    const stored = await store.loadKeyStates([k1!.hash], clock.t);
    expect(stored.get(k1!.hash)?.get('gemini-2.5-flash')).toMatchObject({ until: clock.t + 60_000 });
    // At the capped end the key is back, and announced.
    clock.advance(60_000);
    expect(await pool.generateContent({ prompt: 'hi' })).toMatchObject({ ok: true });
    expect(recovered).toContain('key#1');
    await pool.close();
  });

  it('a cooldown another process reports is capped too', async () => {
    const { pool, clock } = await setup();
    const store = new MemoryStore();
    let push: ((c: KeyStateChange) => void) | undefined;
    store.subscribe = (listener) => {
      push = listener;
      return () => (push = undefined);
    };
    await pool.attachStore(store);
    push!({ keyHash: pool.keys[2]!.hash, model: 'gemini-2.5-pro', state: { status: 'cooling', until: clock.t + YEARS_31, reason: 'server error (500)', kind: 'transient' } });
    expect(pool.keyState(2, 'gemini-2.5-pro')).toMatchObject({ status: 'cooling', until: clock.t + 600_000 });
  });
});

describe('clearCooldowns', () => {
  it('ends one key\'s cooldown now (its project\'s, for every model), stores it and announces it', async () => {
    const { pool, fake, clock, events } = await setup({ keys: ['proj-a:test-key-1', 'proj-a:test-key-2', 'test-key-3'] });
    const store = new MemoryStore();
    await pool.attachStore(store);
    fake.inject({ type: 'rateLimit', per: 'day' }, { key: 'test-key-1' });
    fake.inject({ type: 'rateLimit', per: 'minute', retryDelay: '600s' }, { key: 'test-key-1', model: 'gemini-2.5-pro' });
    await pool.generateContent({ prompt: 'a' });
    await pool.generateContent({ prompt: 'b', model: 'gemini-2.5-pro' });
    expect(pool.keyState(1, 'gemini-2.5-flash').status).toBe('cooling');
    expect(pool.keyState(1, 'gemini-2.5-pro').status).toBe('cooling');
    expect(pool.clearCooldowns(0)).toEqual(['key#1', 'key#2']);
    for (const i of [0, 1]) for (const m of MODELS) expect(pool.keyState(i, m).status).toBe('active');
    expect(events.filter(([e]) => e === 'keyRecovered').map(([, p]) => p)).toEqual([
      { keyId: 'key#1', model: 'gemini-2.5-flash' },
      { keyId: 'key#2', model: 'gemini-2.5-flash' },
      { keyId: 'key#1', model: 'gemini-2.5-pro' },
      { keyId: 'key#2', model: 'gemini-2.5-pro' },
    ]);
    await new Promise((r) => setImmediate(r));
    expect((await store.loadKeyStates(pool.keys.map((k) => k.hash), clock.t)).size).toBe(0);
  });

  it('one model only, or every key; disabled keys stay disabled; unknown keys and models are refused', async () => {
    const { pool, fake } = await setup({ fake: { keys: [{ key: 'test-key-3', status: 'invalid' }] } });
    fake.inject({ type: 'rateLimit', per: 'minute', retryDelay: '60s' }, { key: 'test-key-1', times: 2 });
    await pool.checkKey(2);
    await pool.generateContent({ prompt: 'a' });
    await pool.generateContent({ prompt: 'b', model: 'gemini-2.5-pro' });
    expect(pool.keyState(2, 'gemini-2.5-flash').status).toBe('disabled');
    expect(pool.clearCooldowns(0, 'gemini-2.5-pro')).toEqual(['key#1']);
    expect(pool.keyState(0, 'gemini-2.5-pro').status).toBe('active');
    expect(pool.keyState(0, 'gemini-2.5-flash').status).toBe('cooling');
    expect(pool.clearCooldowns()).toEqual(['key#1']);
    expect(pool.keyState(0, 'gemini-2.5-flash').status).toBe('active');
    expect(pool.keyState(2, 'gemini-2.5-flash').status).toBe('disabled');
    expect(pool.clearCooldowns()).toEqual([]);
    expect(() => pool.clearCooldowns(7)).toThrow(RangeError);
    expect(() => pool.clearCooldowns(0, 'gemini-9')).toThrow(TypeError);
  });
});
