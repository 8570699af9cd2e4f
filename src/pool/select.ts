/**
 * Instance selection and rotation: pure functions, so their order can be tested as tables.
 */
import type { Strategy } from './types.ts';

/** What selection needs to know about one usable instance. */
export interface InstanceView {
  /** Instance index within its model's pool. */
  slot: number;
  /** Requests in flight on this instance. */
  inFlight: number;
  /** Attempts started on the instance's key for this model (decaying, see stats.ts). */
  keyAttempts: number;
  /** Failed share of the key's finished attempts for this model, 0..1. */
  keyErrorRate: number;
  /** Already tried by the current request: chosen only when nothing else is left. */
  tried: boolean;
}

/**
 * Health score of a key: `(1 / attempts) * (1 - errorRate)`, attempts counted from 1 so an
 * unused key scores 1 and keeps its chance.
 */
export function healthScore(attempts: number, errorRate: number): number {
  return (1 / (attempts + 1)) * (1 - errorRate);
}

/**
 * Picks one instance from `candidates` (in slot order); returns its position or -1.
 *
 * `health` (weighted health with least-busy and round-robin tie-breaks):
 * highest {@link healthScore}, then fewest in flight, then the first slot at or after
 * `cursor` (round-robin). `round-robin`: the first slot at or after `cursor`.
 * `least-busy`: fewest in flight, ties round-robin. `random`: uniform.
 * Candidates the request already tried lose to any untried one under every strategy.
 */
export function selectInstance(
  strategy: Strategy,
  candidates: readonly InstanceView[],
  cursor: number,
  random: () => number,
): number {
  const n = candidates.length;
  if (n === 0) return -1;
  if (strategy === 'random') {
    const fresh: number[] = [];
    for (let i = 0; i < n; i++) if (!candidates[i]!.tried) fresh.push(i);
    const pool = fresh.length > 0 ? fresh : candidates.map((_, i) => i);
    return pool[Math.min(pool.length - 1, Math.floor(random() * pool.length))]!;
  }
  // Start at the first candidate whose slot is at or after the cursor, so scanning in that
  // rotated order and keeping only strictly better ones breaks ties round-robin.
  let start = 0;
  while (start < n && candidates[start]!.slot < cursor) start++;
  if (start === n) start = 0;
  let best = -1;
  let bestScore = -Infinity;
  for (let k = 0; k < n; k++) {
    const i = (start + k) % n;
    const c = candidates[i]!;
    if (best >= 0 && isBetter(strategy, candidates[best]!, bestScore, c) === false) continue;
    best = i;
    bestScore = strategy === 'health' ? healthScore(c.keyAttempts, c.keyErrorRate) : 0;
  }
  return best;
}

const EPSILON = 1e-12;

/** Whether `c` beats the current best (strictly). */
function isBetter(strategy: Strategy, best: InstanceView, bestScore: number, c: InstanceView): boolean {
  if (c.tried !== best.tried) return !c.tried;
  if (strategy === 'round-robin') return false;
  if (strategy === 'health') {
    const score = healthScore(c.keyAttempts, c.keyErrorRate);
    if (score > bestScore + EPSILON) return true;
    if (score < bestScore - EPSILON) return false;
  }
  return c.inFlight < best.inFlight;
}

/** Counts of one key over the last rotation window (all models). */
export interface KeyWindow {
  index: number;
  requests: number;
  errors: number;
  /** Whether the key can take requests at all (not disabled). */
  usable: boolean;
}

export interface RotationRules {
  /** A key with a higher error rate than this is unhealthy. @default 0.2 */
  maxErrorRate: number;
  /** A key with a larger share of all requests than this is unhealthy. @default 0.5 */
  maxUsageShare: number;
  /** Requests a key needs in the window before its error rate counts. @default 10 */
  minSamplesPerKey: number;
  /** Requests the whole pool needs in the window before usage shares count. @default 20 */
  minSamplesTotal: number;
  /** Usage shares count only with at least this many usable keys. @default 3 */
  minKeysForShare: number;
}

export const DEFAULT_ROTATION_RULES: RotationRules = {
  maxErrorRate: 0.2,
  maxUsageShare: 0.5,
  minSamplesPerKey: 10,
  minSamplesTotal: 20,
  minKeysForShare: 3,
};

/**
 * Keys to rotate out (the periodic health check, every 5 minutes by default): error rate above the limit, or a share
 * of all requests above the limit. Never all of them: when every usable key looks
 * unhealthy, the best one (lowest error rate, then fewest requests) is kept.
 */
export function findUnhealthyKeys(windows: readonly KeyWindow[], rules: RotationRules = DEFAULT_ROTATION_RULES): Set<number> {
  const usable = windows.filter((w) => w.usable);
  const total = usable.reduce((s, w) => s + w.requests, 0);
  const shareCounts = usable.length >= rules.minKeysForShare && total >= rules.minSamplesTotal;
  const bad = new Set<number>();
  for (const w of usable) {
    const errorRate = w.requests > 0 ? w.errors / w.requests : 0;
    if (w.requests >= rules.minSamplesPerKey && errorRate > rules.maxErrorRate) bad.add(w.index);
    else if (shareCounts && w.requests / total > rules.maxUsageShare) bad.add(w.index);
  }
  if (usable.length > 0 && bad.size === usable.length) {
    const rate = (w: KeyWindow) => (w.requests > 0 ? w.errors / w.requests : 0);
    const keep = [...usable].sort((a, b) => rate(a) - rate(b) || a.requests - b.requests || a.index - b.index)[0]!;
    bad.delete(keep.index);
  }
  return bad;
}
