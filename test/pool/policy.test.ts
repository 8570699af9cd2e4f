/**
 * Every row of the policy table, through the real @google/genai SDK against the fake Gemini.
 */
import { describe, expect, it } from 'vitest';
import { poolFixture } from './fixture.ts';
import { nextPacificMidnight } from '../../src/pool/time.ts';
import type { FakeGemini } from '../../fakes/fakeGemini.ts';
import { TestClock } from '../helpers.ts';

const setup = poolFixture(() => new TestClock(), { keys: ['test-key-1', 'test-key-2', 'test-key-3'], poolSize: 3, attemptTimeoutMs: 2_000 });

const keysSent = (f: FakeGemini) => f.requests.filter((r) => r.route === 'generateContent' || r.route === 'streamGenerateContent').map((r) => r.key);

describe('instances and choice', () => {
  it('assigns keys to instances in a cycle and answers through the SDK', async () => {
    const { pool } = await setup({ pool: { poolSize: 5 } });
    expect(pool.getPoolStats().models['gemini-2.5-flash']!.keyDistribution).toEqual({ 'key#1': 2, 'key#2': 2, 'key#3': 1 });
    const r = await pool.generateContent({ prompt: 'hello' });
    expect(r).toMatchObject({ ok: true, text: 'echo: hello', keyId: 'key#1', model: 'gemini-2.5-flash', attempts: 1 });
    if (r.ok) expect(r.usage.totalTokens).toBeGreaterThan(0);
  });

  it('spreads sequential requests evenly (health score)', async () => {
    const { pool, fake } = await setup();
    for (let i = 0; i < 9; i++) await pool.generateContent({ prompt: `p${i}` });
    expect(fake.countsByKey()).toEqual({ 'test-key-1': 3, 'test-key-2': 3, 'test-key-3': 3 });
  });
});

describe('policy table', () => {
  it('per-minute 429: cools the group for RetryInfo.retryDelay and retries at once on another key', async () => {
    const { pool, fake, clock, events } = await setup();
    fake.inject({ type: 'rateLimit', per: 'minute', retryDelay: '37.5s' }, { key: 'test-key-1' });
    const r = await pool.generateContent({ prompt: 'hi' });
    expect(r).toMatchObject({ ok: true, keyId: 'key#2', attempts: 2 });
    expect(clock.sleeps).toEqual([]);
    expect(pool.keyState(0, 'gemini-2.5-flash')).toMatchObject({ status: 'cooling', until: clock.t + 37_500, kind: 'rate_limited' });
    expect(events).toContainEqual(['keyCooldown', expect.objectContaining({ keyId: 'key#1', kind: 'rate_limited' })]);
    clock.advance(37_500);
    expect(pool.keyState(0, 'gemini-2.5-flash').status).toBe('active');
  });

  it('per-minute 429 without RetryInfo cools for 60 s', async () => {
    const { pool, fake, clock } = await setup();
    fake.inject({ type: 'rateLimit', per: 'minute', retryDelay: null }, { key: 'test-key-1' });
    await pool.generateContent({ prompt: 'hi' });
    expect(pool.keyState(0, 'gemini-2.5-flash')).toMatchObject({ status: 'cooling', until: clock.t + 60_000 });
  });

  it('per-day 429: cools the group and model until Pacific midnight, other models untouched', async () => {
    const { pool, fake, clock } = await setup({ pool: { models: ['gemini-2.5-flash', 'gemini-2.5-pro'] } });
    fake.inject({ type: 'rateLimit', per: 'day' }, { key: 'test-key-1' });
    const r = await pool.generateContent({ prompt: 'hi' });
    expect(r).toMatchObject({ ok: true, keyId: 'key#2' });
    expect(pool.keyState(0, 'gemini-2.5-flash')).toMatchObject({ status: 'cooling', until: nextPacificMidnight(clock.t), kind: 'quota_exhausted' });
    expect(pool.keyState(0, 'gemini-2.5-pro').status).toBe('active');
  });

  it('bare 429: growing cooldown 30 s, 60 s, 120 s ... capped at 10 min', async () => {
    const { pool, fake, clock } = await setup({ keys: ['test-key-1', 'test-key-2'] });
    const seen: number[] = [];
    for (let i = 0; i < 6; i++) {
      fake.inject({ type: 'status', status: 429 }, { key: 'test-key-1' });
      // Force the next request onto key#1 by cooling key#2's group via its own state: use a fresh pool choice.
      const state = pool.keyState(0, 'gemini-2.5-flash');
      if (state.status === 'cooling') clock.t = state.until;
      await pool.generateContent({ prompt: `p${i}`, model: 'gemini-2.5-flash' });
      const st = pool.keyState(0, 'gemini-2.5-flash');
      if (st.status === 'cooling') seen.push(st.until - clock.t);
    }
    // Some requests go to key#2 first (health spreads load); each hit on key#1 grows the cooldown.
    expect(seen.slice(0, 5)).toEqual([30_000, 60_000, 120_000, 240_000, 480_000].slice(0, seen.length > 5 ? 5 : seen.length));
    expect(Math.max(...seen)).toBeLessThanOrEqual(600_000);
  });

  it('invalid key (400 API_KEY_INVALID): disabled for every model until a re-check succeeds', async () => {
    const { pool, fake, events } = await setup({
      fake: { keys: [{ key: 'test-key-1', status: 'invalid' }] },
      pool: { models: ['gemini-2.5-flash', 'gemini-2.5-pro'] },
    });
    const r = await pool.generateContent({ prompt: 'hi' });
    expect(r).toMatchObject({ ok: true, keyId: 'key#2', attempts: 2 });
    expect(pool.keyState(0, 'gemini-2.5-pro')).toMatchObject({ status: 'disabled', kind: 'auth' });
    expect(events).toContainEqual(['keyDisabled', expect.objectContaining({ keyId: 'key#1' })]);
    for (let i = 0; i < 6; i++) await pool.generateContent({ prompt: 'again', model: i % 2 ? 'gemini-2.5-pro' : 'gemini-2.5-flash' });
    expect(fake.requestsFor('test-key-1').filter((r) => r.route === 'generateContent')).toHaveLength(1);
    await pool.recheckDisabledKeys();
    expect(pool.keyState(0, 'gemini-2.5-flash').status).toBe('disabled');
    fake.setKey({ key: 'test-key-1', status: 'valid' });
    await pool.recheckDisabledKeys();
    expect(pool.keyState(0, 'gemini-2.5-flash').status).toBe('active');
    expect(events).toContainEqual(['keyRecovered', { keyId: 'key#1', model: null }]);
  });

  it('the re-check runs by itself once the interval has passed', async () => {
    const { pool, fake, clock } = await setup({ fake: { keys: [{ key: 'test-key-1', status: 'suspended' }] }, pool: { recheckIntervalMs: 3_600_000 } });
    await pool.generateContent({ prompt: 'hi' });
    expect(pool.keyState(0, 'gemini-2.5-flash')).toMatchObject({ status: 'disabled', reason: expect.stringContaining('CONSUMER_SUSPENDED') });
    fake.setKey({ key: 'test-key-1', status: 'valid' });
    clock.advance(3_600_000);
    await pool.generateContent({ prompt: 'trigger' });
    await pool.recheckDisabledKeys();
    expect(pool.keyState(0, 'gemini-2.5-flash').status).toBe('active');
    expect(fake.requests.filter((r) => r.route === 'listModels').length).toBeGreaterThanOrEqual(1);
  });

  it('402 billing: disables every key of the quota group', async () => {
    const { pool, fake } = await setup({
      keys: ['proj-a:test-key-1', 'proj-a:test-key-2', 'test-key-3'],
      fake: { keys: [{ key: 'test-key-1', project: 'proj-a', status: 'billing' }, { key: 'test-key-2', project: 'proj-a' }] },
    });
    const r = await pool.generateContent({ prompt: 'hi' });
    expect(r).toMatchObject({ ok: true, keyId: 'key#3' });
    expect(pool.keyState(1, 'gemini-2.5-flash')).toMatchObject({ status: 'disabled', kind: 'billing' });
    expect(fake.requestsFor('test-key-2')).toHaveLength(0);
  });

  it('503 overloaded: another key at once, no cooldown and no error counted', async () => {
    const { pool, fake, clock } = await setup();
    fake.inject({ type: 'status', status: 503 }, { key: 'test-key-1' });
    const r = await pool.generateContent({ prompt: 'hi' });
    expect(r).toMatchObject({ ok: true, keyId: 'key#2', attempts: 2 });
    expect(clock.sleeps).toEqual([]);
    expect(pool.keyState(0, 'gemini-2.5-flash').status).toBe('active');
    expect(pool.getKeyStats().keys[0]!.errors).toBe(0);
  });

  it('one key answering 503 while the others answer: traffic moves off it, softly, with no wait', async () => {
    const { pool, fake, clock, events } = await setup({ keys: ['test-key-1', 'test-key-2', 'test-key-3', 'test-key-4'], pool: { poolSize: 4 } });
    fake.inject({ type: 'status', status: 503 }, { key: 'test-key-1', times: Infinity });
    const results: Array<{ ok: boolean; attempts: number }> = [];
    // 60 requests, one every 200 ms of the clock (12 s).
    for (let i = 0; i < 60; i++) {
      results.push(await pool.generateContent({ prompt: `p${i}` }));
      clock.advance(200);
    }
    expect(results.every((r) => r.ok && r.attempts <= 2)).toBe(true);
    expect(clock.sleeps).toEqual([]);
    const calls = fake.countsByKey();
    // One 503 the pool could not judge yet, three that were the key's own, then one more
    // after its 5 s skip, which skipped it for 10 s.
    expect(calls['test-key-1']).toBe(5);
    for (const k of ['test-key-2', 'test-key-3', 'test-key-4']) expect(calls[k]).toBeGreaterThanOrEqual(18);
    expect(pool.getKeyStats().keys[0]).toMatchObject({ state: 'cooling', softCooldown: 'overloaded', errors: 4 });
    expect(events.filter((e) => e[0] === 'keyDisabled')).toEqual([]);
  });

  it.each([
    ['500', { type: 'status', status: 500 } as const],
    ['502 HTML', { type: 'status', status: 502 } as const],
    ['504', { type: 'status', status: 504 } as const],
    ['connection reset', { type: 'reset' } as const],
    ['malformed JSON', { type: 'malformed' } as const],
  ])('%s is transient: retried at once on another key, never disabled', async (_n, fault) => {
    const { pool, fake, clock } = await setup();
    fake.inject(fault, { key: 'test-key-1' });
    const r = await pool.generateContent({ prompt: 'hi' });
    expect(r).toMatchObject({ ok: true, keyId: 'key#2', attempts: 2 });
    expect(clock.sleeps).toEqual([]);
    expect(pool.keyState(0, 'gemini-2.5-flash').status).toBe('active');
  });

  it('repeated server errors on one key cool it for 30 s', async () => {
    const { pool, fake, clock, events } = await setup({ keys: ['test-key-1'] });
    fake.inject({ type: 'status', status: 500 }, { times: 3 });
    const r = await pool.generateContent({ prompt: 'hi' });
    // Two backoffs on the same key, then the third failure cools it and the pool waits it out.
    expect(r).toMatchObject({ ok: true, attempts: 4 });
    expect(clock.sleeps).toEqual([2_000, 4_000, 30_000]);
    expect(events).toContainEqual(['keyCooldown', expect.objectContaining({ keyId: 'key#1', kind: 'transient' })]);
  });

  it('an attempt past its timeout moves to another key; slowness never disables', async () => {
    const { pool, fake } = await setup({ pool: { attemptTimeoutMs: 150 } });
    fake.inject({ type: 'hang' }, { key: 'test-key-1' });
    const r = await pool.generateContent({ prompt: 'hi' });
    expect(r).toMatchObject({ ok: true, keyId: 'key#2', attempts: 2 });
    expect(pool.keyState(0, 'gemini-2.5-flash').status).toBe('active');
  });

  it('every attempt timing out ends with kind timeout', async () => {
    const { pool, fake } = await setup({ keys: ['test-key-1', 'test-key-2'], pool: { attemptTimeoutMs: 50, maxAttempts: 2 } });
    fake.inject({ type: 'hang' }, { times: Infinity });
    const r = await pool.generateContent({ prompt: 'hi' });
    expect(r).toMatchObject({ ok: false, attempts: 2, error: { kind: 'timeout' } });
  });

  it('404 unknown model: no retry, no penalty, a clear message', async () => {
    const { pool, fake } = await setup({ pool: { models: ['gemini-9-imaginary'] } });
    const r = await pool.generateContent({ prompt: 'hi' });
    expect(r).toMatchObject({ ok: false, attempts: 1, error: { kind: 'bad_request', message: expect.stringContaining('not found') } });
    expect(fake.requests).toHaveLength(1);
    expect(pool.getKeyStats().totals.errors).toBe(0);
  });

  it('400 other: no retry, no penalty, Gemini\'s message', async () => {
    const { pool, fake, events } = await setup();
    fake.inject({ type: 'status', status: 400, message: 'The input token count exceeds the maximum number of tokens allowed' });
    const r = await pool.generateContent({ prompt: 'hi' });
    expect(r).toMatchObject({ ok: false, attempts: 1, error: { kind: 'bad_request', message: 'The input token count exceeds the maximum number of tokens allowed' } });
    expect(fake.requests.map((q) => [q.key, q.status])).toEqual([['test-key-1', 400]]);
    expect(pool.getKeyStats().totals.errors).toBe(0);
    expect(pool.keyState(0, 'gemini-2.5-flash').status).toBe('active');
    expect(events).toEqual([]);
    // The key is not held against it: the next request goes out normally.
    expect(await pool.generateContent({ prompt: 'again' })).toMatchObject({ ok: true });
  });

  it('blocked prompt and SAFETY finish: no retry, the reason is named', async () => {
    const { pool, fake } = await setup();
    fake.inject({ type: 'blocked', reason: 'PROHIBITED_CONTENT' });
    const r = await pool.generateContent({ prompt: 'bad' });
    expect(r).toMatchObject({ ok: false, attempts: 1, error: { kind: 'blocked', reason: 'PROHIBITED_CONTENT' } });
    fake.inject({ type: 'finishReason', reason: 'SAFETY' });
    const r2 = await pool.generateContent({ prompt: 'bad' });
    expect(r2).toMatchObject({ ok: false, attempts: 1, error: { kind: 'blocked', reason: 'SAFETY' } });
    expect(pool.getKeyStats().totals.errors).toBe(0);
  });

  it('quota groups: a per-project 429 cools every key of the project for that model', async () => {
    const { pool, fake, clock } = await setup({
      keys: ['proj-a:test-key-1', 'proj-a:test-key-2', 'proj-b:test-key-3'],
      fake: { keys: [{ key: 'test-key-1', project: 'proj-a' }, { key: 'test-key-2', project: 'proj-a' }, { key: 'test-key-3', project: 'proj-b' }], quotas: { rpm: 1 } },
    });
    expect(await pool.generateContent({ prompt: 'a' })).toMatchObject({ ok: true, keyId: 'key#1' });
    // key#2 shares proj-a's quota: the fake answers 429, the pool cools proj-a and moves to proj-b.
    expect(await pool.generateContent({ prompt: 'b' })).toMatchObject({ ok: true, keyId: 'key#3', attempts: 2 });
    expect(pool.keyState(0, 'gemini-2.5-flash').status).toBe('cooling');
    expect(pool.keyState(1, 'gemini-2.5-flash').status).toBe('cooling');
    expect(keysSent(fake)).toEqual(['test-key-1', 'test-key-2', 'test-key-3']);
    void clock;
  });

  it('all keys cooling: waits for the first to recover when that is inside the deadline', async () => {
    const { pool, fake, clock, events } = await setup({ keys: ['test-key-1', 'test-key-2'] });
    fake.inject({ type: 'rateLimit', per: 'minute', retryDelay: '5s' }, { key: 'test-key-1' });
    fake.inject({ type: 'rateLimit', per: 'minute', retryDelay: '3s' }, { key: 'test-key-2' });
    const r = await pool.generateContent({ prompt: 'hi' });
    expect(r).toMatchObject({ ok: true, keyId: 'key#2', attempts: 3 });
    expect(clock.sleeps).toEqual([3_000]);
    expect(events.map((e) => e[0])).toEqual(['keyCooldown', 'keyCooldown', 'allKeysUnavailable', 'keyRecovered', 'serviceRecovered']);
  });

  it('all keys cooling past the deadline: fails at once with retryAfterMs', async () => {
    const { pool, fake, clock } = await setup({ keys: ['test-key-1', 'test-key-2'], pool: { deadlineMs: 10_000 } });
    fake.inject({ type: 'rateLimit', per: 'minute', retryDelay: '30s' }, { times: 2 });
    const r = await pool.generateContent({ prompt: 'hi' });
    expect(r).toMatchObject({ ok: false, error: { kind: 'rate_limited', retryAfterMs: 30_000, message: 'all keys are rate-limited; try again later' } });
    expect(clock.sleeps).toEqual([]);
  });

  it('every key disabled: fails at once with kind auth', async () => {
    const { pool } = await setup({ keys: ['bad-key-1'], fake: { rejectUnknownKeys: true } });
    const r = await pool.generateContent({ prompt: 'hi' });
    expect(r).toMatchObject({ ok: false, error: { kind: 'auth' } });
    const r2 = await pool.generateContent({ prompt: 'hi' });
    expect(r2).toMatchObject({ ok: false, attempts: 0, error: { kind: 'auth', message: expect.stringContaining('every key is disabled') } });
  });

  it('single-key pool: the same key is retried with backoff 2 s, 4 s, 8 s', async () => {
    const { pool, fake, clock } = await setup({ keys: ['test-key-1'], pool: { transientFailuresBeforeCooldown: 10 } });
    fake.inject({ type: 'status', status: 500 }, { times: 3 });
    const r = await pool.generateContent({ prompt: 'hi' });
    expect(r).toMatchObject({ ok: true, attempts: 4 });
    expect(clock.sleeps).toEqual([2_000, 4_000, 8_000]);
  });

  it('stops after maxAttempts with the last error', async () => {
    const { pool, fake } = await setup({ pool: { maxAttempts: 2 } });
    fake.inject({ type: 'status', status: 500 }, { times: Infinity });
    const r = await pool.generateContent({ prompt: 'hi' });
    expect(r).toMatchObject({ ok: false, attempts: 2, error: { kind: 'transient' } });
    expect(fake.requests).toHaveLength(2);
  });

  it('a cancelled request stops without further attempts', async () => {
    const { pool, fake } = await setup({ pool: { attemptTimeoutMs: 5_000 } });
    fake.inject({ type: 'hang' }, { times: Infinity });
    const ctl = new AbortController();
    const p = pool.generateContent({ prompt: 'hi', signal: ctl.signal });
    // Cancel once the request is on the wire (bounded polling, no fixed sleep).
    for (let i = 0; i < 1_000 && fake.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(fake.requests).toHaveLength(1);
    ctl.abort();
    expect(await p).toMatchObject({ ok: false, attempts: 1, error: { kind: 'timeout', message: 'the request was cancelled' } });
    expect(fake.requests).toHaveLength(1);
  });

  it('the deadline bounds backoff sleeps', async () => {
    const { pool, fake, clock } = await setup({ keys: ['test-key-1'], pool: { deadlineMs: 5_000, transientFailuresBeforeCooldown: 10 } });
    fake.inject({ type: 'status', status: 500 }, { times: Infinity });
    const r = await pool.generateContent({ prompt: 'hi' });
    expect(r).toMatchObject({ ok: false, error: { kind: 'transient' } });
    expect(clock.sleeps).toEqual([2_000]);
  });
});
