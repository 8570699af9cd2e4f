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
 * A map of cooldowns that caps every value put in it, so no path around the policy (a stored
 * or remote state) can bring in an endless one. `onCapped` hears of a value that had to be
 * brought down, so the capped one can be written back where the long one came from.
 */
export class CooldownMap extends Map<string, Cooling> {
  constructor(
    private readonly limits: { now(): number; maxCooldownMs(): number },
    private readonly onCapped: (key: string, capped: Cooling) => void = () => undefined,
  ) {
    super();
  }

  override set(key: string, value: Cooling): this {
    // Map's own constructor never calls set here (no initial entries), so `limits` is there.
    const until = capUntil(value.kind, value.until, this.limits.now(), this.limits.maxCooldownMs());
    if (until >= value.until) return super.set(key, value);
    const capped: Cooling = { ...value, until };
    super.set(key, capped);
    this.onCapped(key, capped);
    return this;
  }
}
