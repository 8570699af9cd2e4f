/**
 * The policy table of the README ("What Gemini says, and what the pool does"), one row per
 * row, as pure decisions: no HTTP, no pool, the time passed in.
 */
import { describe, expect, it } from 'vitest';
import type { Classified } from '../../src/gemini/classify.ts';
import { POOL_DEFAULTS } from '../../src/pool/options.ts';
import { decide, retryDelay, type Circumstances, type Decision, type Streaks } from '../../src/pool/policy.ts';
import { nextPacificMidnight } from '../../src/pool/time.ts';

const OPTIONS = {
  rateLimitCooldownMs: POOL_DEFAULTS.rateLimitCooldownMs,
  bareRateLimitCooldownMs: POOL_DEFAULTS.bareRateLimitCooldownMs,
  maxCooldownMs: POOL_DEFAULTS.maxCooldownMs,
  transientCooldownMs: POOL_DEFAULTS.transientCooldownMs,
  transientFailuresBeforeCooldown: POOL_DEFAULTS.transientFailuresBeforeCooldown,
  retryBackoffMs: POOL_DEFAULTS.retryBackoffMs,
  overloadStrikes: POOL_DEFAULTS.overloadStrikes,
  softCooldownMs: POOL_DEFAULTS.softCooldownMs,
  maxSoftCooldownMs: POOL_DEFAULTS.maxSoftCooldownMs,
};
const NOW = Date.UTC(2026, 5, 1, 12, 0, 0);
const FRESH: Streaks = { bareRateLimits: 0, serverErrors: 0, localBusy: 0, softCooldowns: 0 };
const streaks = (s: Partial<Streaks>): Streaks => ({ ...FRESH, ...s });
const err = (kind: Classified['kind'], extra: Partial<Classified> = {}): Classified => ({ kind, status: 0, message: `${kind} happened`, ...extra });

describe('decide: the policy table, row by row', () => {
  it.each<[string, Classified, Streaks, Partial<Decision>]>([
    ['429 per minute with RetryInfo: the project cools for the delay', err('rate_limited', { quotaScope: 'minute', retryDelayMs: 37_000 }), FRESH, { penalize: true, cool: { scope: 'group', until: NOW + 37_000 } }],
    ['429 per minute without a delay: the project cools for rateLimitCooldownMs', err('rate_limited', { quotaScope: 'minute' }), FRESH, { cool: { scope: 'group', until: NOW + 60_000 } }],
    ['429 per minute naming its limit: the limit is learned', err('rate_limited', { quotaScope: 'minute', quotaValue: 10 }), FRESH, { learn: { scope: 'minute', unit: 'requests', limit: 10 }, cool: { scope: 'group', until: NOW + 60_000 } }],
    ['429 per day: the project cools until the next Pacific midnight', err('quota_exhausted', { quotaScope: 'day', retryDelayMs: 3_600_000 }), FRESH, { penalize: true, cool: { scope: 'group', until: nextPacificMidnight(NOW) } }],
    ['429 without details, first: 30 s', err('rate_limited'), FRESH, { cool: { scope: 'group', until: NOW + 30_000 }, streaks: streaks({ bareRateLimits: 1 }) }],
    ['429 without details, third in a row: 120 s', err('rate_limited'), streaks({ bareRateLimits: 2 }), { cool: { scope: 'group', until: NOW + 120_000 }, streaks: streaks({ bareRateLimits: 3 }) }],
    ['429 without details, many in a row: capped at 10 min', err('rate_limited'), streaks({ bareRateLimits: 9 }), { cool: { scope: 'group', until: NOW + 600_000 } }],
    ['429 whose RetryInfo asks for years: capped at 10 min', err('rate_limited', { retryDelayMs: 999_999_999_000 }), FRESH, { cool: { scope: 'group', until: NOW + 600_000 } }],
    ['auth: the key is disabled, the reason said once', err('auth', { message: 'API key not valid', reason: 'API_KEY_INVALID' }), FRESH, { penalize: true, disable: { scope: 'key', reason: 'API key not valid (API_KEY_INVALID)' } }],
    ['auth whose message already names the reason', err('auth', { message: 'permission denied (Forbidden)', reason: 'Forbidden' }), FRESH, { disable: { scope: 'key', reason: 'permission denied (Forbidden)' } }],
    ['billing: the whole project is disabled', err('billing'), FRESH, { penalize: true, disable: { scope: 'group', reason: 'billing happened' } }],
    ['503 overloaded, nothing known of the other keys: no penalty, no cooldown', err('overloaded'), FRESH, { penalize: false }],
    ['server error, first: counted, no cooldown yet', err('transient'), FRESH, { penalize: true, streaks: streaks({ serverErrors: 1 }) }],
    ['server error, third in a row: the key alone cools 30 s', err('transient'), streaks({ serverErrors: 2 }), { cool: { scope: 'key', until: NOW + 30_000 }, streaks: FRESH }],
    ['timeout, nothing known of the other keys: not counted, never a cooldown or a disable', err('timeout'), FRESH, { penalize: false }],
    ['bad request: no penalty', err('bad_request'), FRESH, { penalize: false }],
    ['blocked: no penalty', err('blocked', { reason: 'SAFETY' }), FRESH, { penalize: false }],
  ])('%s', (_row, error, streaks, expected) => {
    const d = decide(error, streaks, OPTIONS, NOW);
    expect(d).toMatchObject(expected);
    if (!('cool' in expected)) expect(d.cool).toBeUndefined();
    if (!('disable' in expected)) expect(d.disable).toBeUndefined();
  });

  it('a server-error cooldown longer than the maximum is capped too', () => {
    const d = decide(err('transient'), streaks({ serverErrors: 2 }), { ...OPTIONS, transientCooldownMs: 3_600_000 }, NOW);
    expect(d.cool).toEqual({ scope: 'key', until: NOW + 600_000 });
  });

  it('decides without touching what it was given', () => {
    const given = streaks({ bareRateLimits: 1, serverErrors: 1, localBusy: 2, softCooldowns: 1 });
    decide(err('rate_limited'), given, OPTIONS, NOW);
    decide(err('transient'), given, OPTIONS, NOW);
    decide(err('overloaded'), given, OPTIONS, NOW, { overload: 'local', softCooling: false });
    expect(given).toEqual(streaks({ bareRateLimits: 1, serverErrors: 1, localBusy: 2, softCooldowns: 1 }));
  });
});

describe('decide: 503s and timeouts, judged against the other keys of the model', () => {
  const local = { overload: 'local' as const, softCooling: false };
  it.each<[string, Classified, Streaks, Circumstances, Partial<Decision>]>([
    ['503 while others answer, first: counted, no cooldown yet', err('overloaded'), FRESH, local, { penalize: true, streaks: streaks({ localBusy: 1 }) }],
    ['503 while others answer, third in a row: the key alone is skipped 5 s', err('overloaded'), streaks({ localBusy: 2 }), local, { penalize: true, cool: { scope: 'key', until: NOW + 5_000, reason: 'overloaded (503) while other keys answered, 3 times in a row' }, streaks: streaks({ localBusy: 3, softCooldowns: 1 }) }],
    ['503 while others answer, again after one soft cooldown: 10 s', err('overloaded'), streaks({ localBusy: 3, softCooldowns: 1 }), local, { cool: { scope: 'key', until: NOW + 10_000, reason: expect.any(String) }, streaks: streaks({ localBusy: 4, softCooldowns: 2 }) }],
    ['503 while others answer, after many soft cooldowns: capped at 60 s', err('overloaded'), streaks({ localBusy: 9, softCooldowns: 6 }), local, { cool: { scope: 'key', until: NOW + 60_000, reason: expect.any(String) } }],
    ['503 on a key already skipped (an attempt under way before): counted, not skipped longer', err('overloaded'), streaks({ localBusy: 3, softCooldowns: 1 }), { overload: 'local', softCooling: true }, { penalize: true, streaks: streaks({ localBusy: 4, softCooldowns: 1 }) }],
    ['timeout while others answer, third in a row: skipped 5 s as too slow', err('timeout'), streaks({ localBusy: 2 }), local, { penalize: true, cool: { scope: 'key', until: NOW + 5_000, reason: 'too slow (timeouts) while other keys answered, 3 times in a row' } }],
    ['503 with other keys overloaded too: no penalty, soft cooldowns end, the model waits', err('overloaded'), streaks({ localBusy: 2, softCooldowns: 1 }), { overload: 'global', softCooling: false }, { penalize: false, everyKey: { wait: true }, streaks: streaks({ localBusy: 2, softCooldowns: 1 }) }],
    ['timeout with other keys slow or overloaded too: no penalty, soft cooldowns end, no wait', err('timeout'), FRESH, { overload: 'global', softCooling: false }, { penalize: false, everyKey: { wait: false } }],
    ['503 with nothing known of the other keys: nothing', err('overloaded'), streaks({ localBusy: 2 }), { overload: 'unknown', softCooling: false }, { penalize: false, streaks: streaks({ localBusy: 2 }) }],
  ])('%s', (_row, error, given, circumstances, expected) => {
    const d = decide(error, given, OPTIONS, NOW, circumstances);
    expect(d).toMatchObject(expected);
    if (!('cool' in expected)) expect(d.cool).toBeUndefined();
    if (!('everyKey' in expected)) expect(d.everyKey).toBeUndefined();
    // Slowness and overload never disable a key.
    expect(d.disable).toBeUndefined();
  });
});

describe('retryDelay', () => {
  const mid = () => 0.5;
  it.each([
    ['another key: no wait (after a 503 too: the model-wide wait is not the request\'s)', { sameKey: false, sameKeyRetries: 0 }, 0],
    ['the same key again: 2 s', { sameKey: true, sameKeyRetries: 0 }, 2_000],
    ['the same key, third time: 8 s', { sameKey: true, sameKeyRetries: 2 }, 8_000],
  ])('%s', (_row, state, ms) => {
    expect(retryDelay(state, OPTIONS, mid)).toBe(ms);
  });

  it('jitters by a quarter either way', () => {
    const state = { sameKey: true, sameKeyRetries: 0 };
    expect(retryDelay(state, OPTIONS, () => 0)).toBe(1_500);
    expect(retryDelay(state, OPTIONS, () => 0.999_999)).toBe(2_500);
  });
});
