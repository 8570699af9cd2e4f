/**
 * The policy table of the README ("What Gemini says, and what the pool does"), one row per
 * row, as pure decisions: no HTTP, no pool, the time passed in.
 */
import { describe, expect, it } from 'vitest';
import type { Classified } from '../../src/gemini/classify.ts';
import { POOL_DEFAULTS } from '../../src/pool/options.ts';
import { decide, retryDelay, type Decision, type Streaks } from '../../src/pool/policy.ts';
import { nextPacificMidnight } from '../../src/pool/time.ts';

const OPTIONS = {
  rateLimitCooldownMs: POOL_DEFAULTS.rateLimitCooldownMs,
  bareRateLimitCooldownMs: POOL_DEFAULTS.bareRateLimitCooldownMs,
  maxCooldownMs: POOL_DEFAULTS.maxCooldownMs,
  transientCooldownMs: POOL_DEFAULTS.transientCooldownMs,
  transientFailuresBeforeCooldown: POOL_DEFAULTS.transientFailuresBeforeCooldown,
  retryBackoffMs: POOL_DEFAULTS.retryBackoffMs,
  overloadedBackoffMs: POOL_DEFAULTS.overloadedBackoffMs,
};
const NOW = Date.UTC(2026, 5, 1, 12, 0, 0);
const FRESH: Streaks = { bareRateLimits: 0, serverErrors: 0 };
const err = (kind: Classified['kind'], extra: Partial<Classified> = {}): Classified => ({ kind, status: 0, message: `${kind} happened`, ...extra });

describe('decide: the policy table, row by row', () => {
  it.each<[string, Classified, Streaks, Partial<Decision>]>([
    ['429 per minute with RetryInfo: the project cools for the delay', err('rate_limited', { quotaScope: 'minute', retryDelayMs: 37_000 }), FRESH, { penalize: true, cool: { scope: 'group', until: NOW + 37_000 } }],
    ['429 per minute without a delay: the project cools for rateLimitCooldownMs', err('rate_limited', { quotaScope: 'minute' }), FRESH, { cool: { scope: 'group', until: NOW + 60_000 } }],
    ['429 per minute naming its limit: the limit is learned', err('rate_limited', { quotaScope: 'minute', quotaValue: 10 }), FRESH, { learn: { scope: 'minute', unit: 'requests', limit: 10 }, cool: { scope: 'group', until: NOW + 60_000 } }],
    ['429 per day: the project cools until the next Pacific midnight', err('quota_exhausted', { quotaScope: 'day', retryDelayMs: 3_600_000 }), FRESH, { penalize: true, cool: { scope: 'group', until: nextPacificMidnight(NOW) } }],
    ['429 without details, first: 30 s', err('rate_limited'), FRESH, { cool: { scope: 'group', until: NOW + 30_000 }, streaks: { bareRateLimits: 1, serverErrors: 0 } }],
    ['429 without details, third in a row: 120 s', err('rate_limited'), { bareRateLimits: 2, serverErrors: 0 }, { cool: { scope: 'group', until: NOW + 120_000 }, streaks: { bareRateLimits: 3, serverErrors: 0 } }],
    ['429 without details, many in a row: capped at 10 min', err('rate_limited'), { bareRateLimits: 9, serverErrors: 0 }, { cool: { scope: 'group', until: NOW + 600_000 } }],
    ['429 whose RetryInfo asks for years: capped at 10 min', err('rate_limited', { retryDelayMs: 999_999_999_000 }), FRESH, { cool: { scope: 'group', until: NOW + 600_000 } }],
    ['auth: the key is disabled, the reason said once', err('auth', { message: 'API key not valid', reason: 'API_KEY_INVALID' }), FRESH, { penalize: true, disable: { scope: 'key', reason: 'API key not valid (API_KEY_INVALID)' } }],
    ['auth whose message already names the reason', err('auth', { message: 'permission denied (Forbidden)', reason: 'Forbidden' }), FRESH, { disable: { scope: 'key', reason: 'permission denied (Forbidden)' } }],
    ['billing: the whole project is disabled', err('billing'), FRESH, { penalize: true, disable: { scope: 'group', reason: 'billing happened' } }],
    ['503 overloaded: no penalty, no cooldown', err('overloaded'), FRESH, { penalize: false }],
    ['server error, first: counted, no cooldown yet', err('transient'), FRESH, { penalize: true, streaks: { bareRateLimits: 0, serverErrors: 1 } }],
    ['server error, third in a row: the key alone cools 30 s', err('transient'), { bareRateLimits: 0, serverErrors: 2 }, { cool: { scope: 'key', until: NOW + 30_000 }, streaks: { bareRateLimits: 0, serverErrors: 0 } }],
    ['timeout: counted, never a cooldown or a disable', err('timeout'), FRESH, { penalize: true }],
    ['bad request: no penalty', err('bad_request'), FRESH, { penalize: false }],
    ['blocked: no penalty', err('blocked', { reason: 'SAFETY' }), FRESH, { penalize: false }],
  ])('%s', (_row, error, streaks, expected) => {
    const d = decide(error, streaks, OPTIONS, NOW);
    expect(d).toMatchObject(expected);
    if (!('cool' in expected)) expect(d.cool).toBeUndefined();
    if (!('disable' in expected)) expect(d.disable).toBeUndefined();
  });

  it('a server-error cooldown longer than the maximum is capped too', () => {
    const d = decide(err('transient'), { bareRateLimits: 0, serverErrors: 2 }, { ...OPTIONS, transientCooldownMs: 3_600_000 }, NOW);
    expect(d.cool).toEqual({ scope: 'key', until: NOW + 600_000 });
  });

  it('decides without touching what it was given', () => {
    const streaks = { bareRateLimits: 1, serverErrors: 1 };
    decide(err('rate_limited'), streaks, OPTIONS, NOW);
    decide(err('transient'), streaks, OPTIONS, NOW);
    expect(streaks).toEqual({ bareRateLimits: 1, serverErrors: 1 });
  });
});

describe('retryDelay', () => {
  const mid = () => 0.5;
  it.each([
    ['another key: no wait', { sameKey: false, sameKeyRetries: 0, lastKind: 'transient' as const, overloaded: 0 }, 0],
    ['the same key again: 2 s', { sameKey: true, sameKeyRetries: 0, lastKind: 'transient' as const, overloaded: 0 }, 2_000],
    ['the same key, third time: 8 s', { sameKey: true, sameKeyRetries: 2, lastKind: 'transient' as const, overloaded: 0 }, 8_000],
    ['after a 503 on another key: 1 s', { sameKey: false, sameKeyRetries: 0, lastKind: 'overloaded' as const, overloaded: 1 }, 1_000],
    ['after the second 503: 2 s', { sameKey: false, sameKeyRetries: 0, lastKind: 'overloaded' as const, overloaded: 2 }, 2_000],
    ['same key and a 503: the longer of both', { sameKey: true, sameKeyRetries: 1, lastKind: 'overloaded' as const, overloaded: 1 }, 4_000],
  ])('%s', (_row, state, ms) => {
    expect(retryDelay(state, OPTIONS, mid)).toBe(ms);
  });

  it('jitters by a quarter either way', () => {
    const state = { sameKey: true, sameKeyRetries: 0, lastKind: undefined, overloaded: 0 };
    expect(retryDelay(state, OPTIONS, () => 0)).toBe(1_500);
    expect(retryDelay(state, OPTIONS, () => 0.999_999)).toBe(2_500);
  });
});
