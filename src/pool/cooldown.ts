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

/**
 * A soft cooldown: a key skipped for a while for one model because it answered 503 (model
 * overloaded) or timed out while other keys answered that model. Unlike every other
 * cooldown it gives way: it ends as soon as the other keys are overloaded too, or when no
 * other key can take a request.
 */
export function isSoft(c: Cooling | undefined): boolean {
  return c !== undefined && (c.kind === 'overloaded' || c.kind === 'timeout');
}

/**
 * Whom a cooldown of this kind takes: the key alone (server errors, a soft cooldown), or its
 * whole project (quota is per project and model).
 */
export function coolingScope(kind: ErrorKind): 'group' | 'key' {
  return kind === 'transient' || kind === 'overloaded' || kind === 'timeout' ? 'key' : 'group';
}
