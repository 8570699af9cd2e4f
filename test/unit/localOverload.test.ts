/**
 * Whose fault a 503 or a timeout is (the key's, the model's, or unknown), and the model-wide
 * wait: pure, on counters set by hand.
 */
import { describe, expect, it } from 'vitest';
import { judgeOverload, ModelOverloads } from '../../src/pool/localOverload.ts';
import { PoolCounters } from '../../src/pool/stats.ts';

const M = 'm';
const NOW = 1_000_000;
const WINDOW = 5_000;
type Latest = ['ok' | 'busy' | 'failed', number] | undefined;

/** Counters of keys 0.. whose latest outcome for `M` is given (ms before NOW). */
function counters(latest: Latest[]): PoolCounters {
  const c = new PoolCounters(latest.length);
  latest.forEach((l, i) => {
    if (!l) return;
    const k = c.of(i, M);
    k.latest = l[0];
    k.latestAt = NOW - l[1];
  });
  return c;
}

describe('judgeOverload (key 0 just failed)', () => {
  it.each<[string, Latest[], 'local' | 'global' | 'unknown']>([
    ['another key answered 1 s ago: the key\'s own', [undefined, ['ok', 1_000], undefined], 'local'],
    ['one other key answered, another got a 503: still the key\'s own', [undefined, ['busy', 100], ['ok', 2_000]], 'local'],
    ['the other key answered, but 6 s ago: nothing recent', [undefined, ['ok', 6_000]], 'unknown'],
    ['the other key answered, then got a 503: the model\'s', [undefined, ['busy', 500]], 'global'],
    ['the other key\'s latest was a 429: nothing known', [undefined, ['failed', 500]], 'unknown'],
    ['a fresh pool: nothing known', [undefined, undefined, undefined], 'unknown'],
    ['a single key: its own failure is all there is', [undefined], 'global'],
    ['the key itself answered a moment ago: says nothing of the others', [['ok', 10], undefined], 'unknown'],
  ])('%s', (_row, latest, verdict) => {
    expect(judgeOverload(counters(latest), latest.length, 0, M, NOW, WINDOW)).toBe(verdict);
  });

  it('another model\'s answers say nothing', () => {
    const c = new PoolCounters(2);
    Object.assign(c.of(1, 'other'), { latest: 'ok', latestAt: NOW });
    expect(judgeOverload(c, 2, 0, M, NOW, WINDOW)).toBe('unknown');
  });
});

describe('ModelOverloads: one wait per model', () => {
  const mid = () => 0.5;
  it('the first request that finds every key overloaded sets the moment; the others join it', () => {
    const w = new ModelOverloads({ overloadedBackoffMs: 1_000, maxCooldownMs: 600_000 });
    expect(w.overloaded(M, NOW, mid)).toEqual({ until: NOW + 1_000, started: true });
    expect(w.overloaded(M, NOW + 300, mid)).toEqual({ until: NOW + 1_000, started: false });
    expect(w.waitMs(M, NOW + 300)).toBe(700);
    expect(w.waitMs('other', NOW + 300)).toBe(0);
    // Still overloaded after the wait: twice as long, then four times.
    expect(w.overloaded(M, NOW + 1_000, mid).until).toBe(NOW + 3_000);
    expect(w.overloaded(M, NOW + 3_000, mid).until).toBe(NOW + 7_000);
    // An answer ends it, for new requests at once, and the doubling starts over.
    w.answered(M);
    expect(w.waitMs(M, NOW + 3_500)).toBe(0);
    expect(w.overloaded(M, NOW + 8_000, mid).until).toBe(NOW + 9_000);
  });

  it('is jittered once, by a quarter either way, and capped at the longest cooldown', () => {
    expect(new ModelOverloads({ overloadedBackoffMs: 1_000, maxCooldownMs: 600_000 }).overloaded(M, NOW, () => 0).until).toBe(NOW + 750);
    const capped = new ModelOverloads({ overloadedBackoffMs: 1_000, maxCooldownMs: 1_500 });
    capped.overloaded(M, NOW, mid);
    expect(capped.overloaded(M, NOW + 1_000, mid).until).toBe(NOW + 2_500);
  });

  it('a request whose deadline comes first is told the model is overloaded, and when to come back', () => {
    const w = new ModelOverloads({ overloadedBackoffMs: 1_000, maxCooldownMs: 600_000 });
    w.overloaded(M, NOW, mid);
    expect(w.failure(M, NOW + 400)).toEqual({ kind: 'overloaded', message: 'Gemini is overloaded on every key; try again shortly', retryAfterMs: 600 });
  });
});
