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
  | 'rateLimitCooldownMs'
  | 'bareRateLimitCooldownMs'
  | 'maxCooldownMs'
  | 'transientCooldownMs'
  | 'transientFailuresBeforeCooldown'
  | 'retryBackoffMs'
  | 'overloadStrikes'
  | 'softCooldownMs'
  | 'maxSoftCooldownMs'
>;

/** Failures in a row that make the next one weigh more. */
export interface Streaks {
  /** 429s without details in a row for the project and model (each doubles the cooldown). */
  bareRateLimits: number;
  /** Server errors in a row on the key and model (enough of them cool the key). */
  serverErrors: number;
  /** 503s and timeouts in a row on the key and model that were its own (see {@link Overload}). */
  localBusy: number;
  /** Soft cooldowns of the key and model since it last answered (each lasts twice the one before). */
  softCooldowns: number;
}

/**
 * Whose fault a 503 or a timeout is, judged from the other keys of the same model (see
 * `localOverload.ts`): `local` when another key answered it within the last few seconds
 * (the key's own trouble), `global` when none did and other keys got 503s or timed out too
 * (the model's), `unknown` when nothing says either.
 */
export type Overload = 'local' | 'global' | 'unknown';

/** What the policy is told besides the failure and the streaks. */
export interface Circumstances {
  /** For a 503 or a timeout: whose fault it is. */
  overload: Overload;
  /** The key is already softly cooling for the model (an attempt that started before). */
  softCooling: boolean;
}

/** What one failed attempt does. */
export interface Decision {
  /** Counted as the key's error (health score, rotation, instance rebuild). */
  penalize: boolean;
  /**
   * A cooldown: of the project (`group`, quota is per project and model) or of the key alone;
   * `reason` when it is not Gemini's message.
   */
  cool?: { scope: 'group' | 'key'; until: number; reason?: string };
  /** Disabled until a re-check passes: the key, or its whole project (billing). */
  disable?: { scope: 'key' | 'group'; reason: string };
  /** A quota limit Gemini named, to hold from now on. */
  learn?: { scope: 'minute' | 'day'; unit: 'requests' | 'tokens'; limit: number };
  /**
   * The model is overloaded (or slow) for every key, not only this one: every soft cooldown
   * of the model ends; after a 503, requests for the model wait once, together
   * (`wait`: see `localOverload.ts`).
   */
  everyKey?: { wait: boolean };
  /** The streaks after this failure. */
  streaks: Streaks;
}

/** Kinds that say nothing bad about the key: no error counted against it. 503s and timeouts count only when they are the key's own. */
const NO_PENALTY: ReadonlySet<ErrorKind> = new Set(['bad_request', 'blocked', 'overloaded', 'timeout']);

const NOTHING_KNOWN: Circumstances = { overload: 'unknown', softCooling: false };

/**
 * The policy table: what a failure of one kind does to its key, at `now`. Every cooldown is
 * capped: at `maxCooldownMs` (whatever RetryInfo asked for), a day's quota at the next
 * Pacific midnight.
 */
export function decide(error: Classified, streaks: Streaks, options: PolicyOptions, now: number, circumstances: Circumstances = NOTHING_KNOWN): Decision {
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
    case 'overloaded':
    case 'timeout':
      if (circumstances.overload === 'local') busyOnItsOwn(d, error.kind, circumstances.softCooling, options, now);
      else if (circumstances.overload === 'global') d.everyKey = { wait: error.kind === 'overloaded' };
      break;
    default:
      // bad_request, blocked: not the key's fault, no cooldown.
      break;
  }
  return d;
}

/**
 * A 503 or a timeout while other keys answer the same model: counted against the key; after
 * `overloadStrikes` in a row it is skipped for the model for `softCooldownMs`, then twice as
 * long at every further one until it answers again (capped at `maxSoftCooldownMs`). Never a
 * disable. A key already skipped is not skipped longer for the attempts that were under way.
 */
function busyOnItsOwn(d: Decision, kind: 'overloaded' | 'timeout', softCooling: boolean, options: PolicyOptions, now: number): void {
  const streaks = d.streaks;
  const localBusy = streaks.localBusy + 1;
  d.penalize = true;
  d.streaks = { ...streaks, localBusy };
  if (localBusy < options.overloadStrikes || softCooling) return;
  const ms = Math.min(options.softCooldownMs * 2 ** streaks.softCooldowns, options.maxSoftCooldownMs);
  const reason = `${kind === 'overloaded' ? 'overloaded (503)' : 'too slow (timeouts)'} while other keys answered, ${localBusy} times in a row`;
  d.cool = { scope: 'key', until: capUntil(kind, now + ms, now, options.maxCooldownMs), reason };
  d.streaks.softCooldowns = streaks.softCooldowns + 1;
}

/** Where a request stands before its next attempt. */
export interface RetryState {
  /** The next attempt goes to the key that just failed (a single-key pool, say). */
  sameKey: boolean;
  /** Earlier retries of that same key in this request (0 for the first). */
  sameKeyRetries: number;
}

/**
 * How long a request waits before its next attempt, in ms. Switching keys needs no wait,
 * whatever the last failure was (a 503 included); retrying the same key backs off 2 s, 4 s,
 * 8 s (`retryBackoffMs` doubling), jittered by ±25 % with `random()` in [0, 1). The wait of
 * a model overloaded on every key is the model's, not the request's (`localOverload.ts`).
 */
export function retryDelay(state: RetryState, options: Pick<PolicyOptions, 'retryBackoffMs'>, random: () => number): number {
  if (!state.sameKey) return 0;
  return jittered(options.retryBackoffMs * 2 ** state.sameKeyRetries, random);
}

/** `ms` jittered by ±25 % with `random()` in [0, 1). */
export function jittered(ms: number, random: () => number): number {
  return ms > 0 ? Math.round(ms * (0.75 + 0.5 * random())) : 0;
}
