/**
 * When no key can serve, the words say why: server errors are not rate limits, a reason is
 * said once, and every key refused at once points at the path to Gemini, not at the keys.
 */
import { describe, expect, it } from 'vitest';
import { poolFailureText } from '../../src/bot/userText.ts';
import { alertText, fromPool } from '../../src/ops/alerts.ts';
import type { PoolEvents, PoolResult } from '../../src/pool/types.ts';
import { TestClock } from '../helpers.ts';
import { poolFixture } from './fixture.ts';

const setup = poolFixture(() => new TestClock(), { keys: ['test-key-1', 'test-key-2', 'test-key-3'], poolSize: 3, attemptTimeoutMs: 2_000 });

const unavailable = (events: Array<[string, unknown]>) =>
  events.filter(([e]) => e === 'allKeysUnavailable').map(([, p]) => p as PoolEvents['allKeysUnavailable']);
const disabledReasons = (events: Array<[string, unknown]>) =>
  events.filter(([e]) => e === 'keyDisabled').map(([, p]) => (p as PoolEvents['keyDisabled']).reason);

describe('every key cooling after server errors', () => {
  it('the failure, the user text and the alert say server errors, not rate limits', async () => {
    const { pool, fake, events } = await setup({ pool: { deadlineMs: 10_000 } });
    fake.inject({ type: 'status', status: 500 }, { times: Infinity });
    let r: PoolResult | undefined;
    // Three 500s per key cool every key for 30 s, longer than the deadline allows waiting.
    for (let i = 0; i < 10 && (r === undefined || r.attempts > 0); i++) r = await pool.generateContent({ prompt: `p${i}` });
    expect(r).toMatchObject({ ok: false, attempts: 0, error: { kind: 'transient', message: expect.stringMatching(/^Gemini is failing with server errors; try again in ~\d+ s$/) } });
    if (r && !r.ok) {
      expect(r.error.retryAfterMs).toBeGreaterThan(0);
      const text = poolFailureText(r.error);
      expect(text).toContain('server errors');
      expect(text).toMatch(/try again in ~\d+ s/);
      expect(text).not.toContain('rate-limited');
    }
    const [event] = unavailable(events);
    expect(event).toMatchObject({ kind: 'transient', message: expect.stringContaining('server errors') });
    const alert = alertText(fromPool.allKeysUnavailable(event!));
    expect(alert).toContain('Gemini is failing with server errors');
    expect(alert).not.toContain('rate-limited');
  });
});

describe('every key refused with the same answer', () => {
  it('a proxy\'s HTML 403: the reason is said once, and the alert suspects the path, not the keys', async () => {
    const { pool, fake, events } = await setup();
    fake.inject({ type: 'body', status: 403, body: '<html><head><title>403 Forbidden</title></head><body>Forbidden</body></html>', contentType: 'text/html' }, { times: Infinity });
    const r = await pool.generateContent({ prompt: 'hi' });
    expect(r).toMatchObject({ ok: false, error: { kind: 'auth' } });
    const reasons = disabledReasons(events);
    expect(reasons).toHaveLength(3);
    for (const reason of reasons) {
      expect(reason).toBe("refused (HTTP 403) by something that is not Gemini's API: a proxy?");
      expect(reason.match(/Forbidden/g)).toBeNull();
    }
    const [event] = unavailable(events);
    expect(event).toMatchObject({ kind: 'auth', sameFailure: { withinMs: 0, reason: reasons[0] } });
    const alert = alertText(fromPool.allKeysUnavailable(event!));
    expect(alert).toContain('Every key was refused within 1 s with the same answer');
    expect(alert).toContain('check GEMINI_BASE_URL or the proxy; Google revoking every key at once is unlikely');
  });

  it('Google\'s own 403 names its status once', async () => {
    const { pool, fake, events } = await setup({ keys: ['test-key-1'] });
    fake.inject({ type: 'status', status: 403 });
    await pool.generateContent({ prompt: 'hi' });
    expect(disabledReasons(events)).toEqual(['permission denied (PERMISSION_DENIED)']);
    // One key is no pattern: no suspicion of the path.
    expect(unavailable(events)[0]?.sameFailure).toBeUndefined();
  });

  it('keys refused minutes apart, or for different reasons, are the keys\' own business', async () => {
    const { pool, fake, clock, events } = await setup({ keys: ['test-key-1', 'test-key-2'] });
    fake.inject({ type: 'status', status: 401 }, { key: 'test-key-1' });
    await pool.generateContent({ prompt: 'a' });
    clock.advance(60_000);
    fake.inject({ type: 'status', status: 401 }, { key: 'test-key-2' });
    expect(await pool.generateContent({ prompt: 'b' })).toMatchObject({ ok: false, error: { kind: 'auth' } });
    const [event] = unavailable(events);
    expect(event).toMatchObject({ kind: 'auth' });
    expect(event!.sameFailure).toBeUndefined();
    expect(alertText(fromPool.allKeysUnavailable(event!))).not.toContain('GEMINI_BASE_URL');
  });
});
