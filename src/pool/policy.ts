/**
 * The failure policy as pure functions: what one failed attempt does to its key, and how long
 * a request waits before its next attempt. No state, no clock, no I/O: the caller passes the
 * streaks it keeps and the time, and applies the decision (see docs/ARCHITECTURE.md, "The
 * policy table").
 */
import type { Classified } from '../gemini/classify.ts';
import type { ErrorKind } from '../gemini/types.ts';
import { capUntil } from './cooldown.ts';
import type { ResolvedOptions } from './options.ts';
import { nextPacificMidnight } from './time.ts';

/** The options the policy reads. */
export type PolicyOptions = Pick<
  ResolvedOptions,
  'rateLimitCooldownMs' | 'bareRateLimitCooldownMs' | 'maxCooldownMs' | 'transientCooldownMs' | 'transientFailuresBeforeCooldown' | 'retryBackoffMs' | 'overloadedBackoffMs'
>;

/** Failures in a row that make the next one weigh more. */
export interface Streaks {
  /** 429s without details in a row for the project and model (each doubles the cooldown). */
  bareRateLimits: number;
  /** Server errors in a row on the key and model (enough of them cool the key). */
  serverErrors: number;
}

/** What one failed attempt does. */
export interface Decision {
  /** Counted as the key's error (health score, rotation, instance rebuild). */
  penalize: boolean;
  /** A cooldown: of the project (`group`, quota is per project and model) or of the key alone. */
  cool?: { scope: 'group' | 'key'; until: number };
  /** Disabled until a re-check passes: the key, or its whole project (billing). */
  disable?: { scope: 'key' | 'group'; reason: string };
  /** A quota limit Gemini named, to hold from now on. */
  learn?: { scope: 'minute' | 'day'; unit: 'requests' | 'tokens'; limit: number };
  /** The streaks after this failure. */
  streaks: Streaks;
}

/** Kinds that say nothing bad about the key: no error counted against it. */
const NO_PENALTY: ReadonlySet<ErrorKind> = new Set(['bad_request', 'blocked', 'overloaded']);

/**
 * The policy table: what a failure of one kind does to its key, at `now`. Every cooldown is
 * capped: at `maxCooldownMs` (whatever RetryInfo asked for), a day's quota at the next
 * Pacific midnight.
 */
export function decide(error: Classified, streaks: Streaks, options: PolicyOptions, now: number): Decision {
  const d: Decision = { penalize: !NO_PENALTY.has(error.kind), streaks };
  if ((error.kind === 'rate_limited' || error.kind === 'quota_exhausted') && error.quotaValue !== undefined && error.quotaScope) {
    d.learn = { scope: error.quotaScope, unit: error.quotaUnit ?? 'requests', limit: error.quotaValue };
  }
  switch (error.kind) {
    case 'rate_limited': {
      let ms: number;
      if (error.retryDelayMs !== undefined) ms = error.retryDelayMs;
      else if (error.quotaScope === 'minute') ms = options.rateLimitCooldownMs;
      else {
        ms = options.bareRateLimitCooldownMs * 2 ** streaks.bareRateLimits;
        d.streaks = { ...streaks, bareRateLimits: streaks.bareRateLimits + 1 };
      }
      d.cool = { scope: 'group', until: capUntil(error.kind, now + ms, now, options.maxCooldownMs) };
      break;
    }
    case 'quota_exhausted':
      d.cool = { scope: 'group', until: nextPacificMidnight(now) };
      break;
    case 'auth':
      // Said once: 'permission denied (Forbidden)' needs no second '(Forbidden)'.
      d.disable = { scope: 'key', reason: error.reason && !error.message.includes(error.reason) ? `${error.message} (${error.reason})` : error.message };
      break;
    case 'billing':
      d.disable = { scope: 'group', reason: error.message };
      break;
    case 'transient': {
      const serverErrors = streaks.serverErrors + 1;
      if (serverErrors >= options.transientFailuresBeforeCooldown) {
        d.streaks = { ...streaks, serverErrors: 0 };
        d.cool = { scope: 'key', until: capUntil('transient', now + options.transientCooldownMs, now, options.maxCooldownMs) };
      } else d.streaks = { ...streaks, serverErrors };
      break;
    }
    default:
      // overloaded, timeout, bad_request, blocked: not the key's fault, no cooldown.
      break;
  }
  return d;
}

/** Where a request stands before its next attempt. */
export interface RetryState {
  /** The next attempt goes to the key that just failed (a single-key pool, say). */
  sameKey: boolean;
  /** Earlier retries of that same key in this request (0 for the first). */
  sameKeyRetries: number;
  /** Kind of the last failure, if any. */
  lastKind: ErrorKind | undefined;
  /** 503s (model overloaded) so far in this request. */
  overloaded: number;
}

/**
 * How long to wait before the next attempt, in ms. Switching keys needs no wait; retrying
 * the same key backs off 2 s, 4 s, 8 s (`retryBackoffMs` doubling); after a 503 the backoff
 * is `overloadedBackoffMs` doubling. Jittered by ±25 % with `random()` in [0, 1).
 */
export function retryDelay(state: RetryState, options: PolicyOptions, random: () => number): number {
  let ms = 0;
  if (state.sameKey) ms = options.retryBackoffMs * 2 ** state.sameKeyRetries;
  if (state.lastKind === 'overloaded') ms = Math.max(ms, options.overloadedBackoffMs * 2 ** (state.overloaded - 1));
  return ms > 0 ? Math.round(ms * (0.75 + 0.5 * random())) : 0;
}
