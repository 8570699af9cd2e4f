/**
 * Cooldowns with a ceiling. Whatever sets one (a 429's RetryInfo, a configured duration, the
 * store after a restart, another process), none outlasts the maximum cooldown, and one for
 * a day's quota never outlasts the Pacific day: a `retryDelay: "999999999s"` must not put a
 * key away for 31 years.
 */
import { nextPacificMidnight } from './time.ts';
import type { ErrorKind, KeyState } from './types.ts';

export type Cooling = Extract<KeyState, { status: 'cooling' }>;

/**
 * The latest end a cooldown of this kind may have, set at `now`: the next Pacific midnight
 * for a day's quota (when Google resets it), else `now + maxCooldownMs`.
 */
export function cooldownCeiling(kind: ErrorKind, now: number, maxCooldownMs: number): number {
  return kind === 'quota_exhausted' ? nextPacificMidnight(now) : now + maxCooldownMs;
}

/** `until`, brought down to the ceiling of its kind. */
export function capUntil(kind: ErrorKind, until: number, now: number, maxCooldownMs: number): number {
  return Math.min(until, cooldownCeiling(kind, now, maxCooldownMs));
}
