import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findUnhealthyKeys, healthScore, selectInstance, type InstanceView } from '../../src/pool/select.ts';

const view = (slot: number, over: Partial<InstanceView> = {}): InstanceView => ({ slot, inFlight: 0, keyAttempts: 0, keyErrorRate: 0, tried: false, ...over });

describe('selectInstance', () => {
  it.each([
    ['health: lowest usage wins', 'health', [view(0, { keyAttempts: 5 }), view(1, { keyAttempts: 2 }), view(2, { keyAttempts: 9 })], 0, 1],
    ['health: error rate lowers the score', 'health', [view(0, { keyAttempts: 1, keyErrorRate: 0.6 }), view(1, { keyAttempts: 2 })], 0, 1],
    ['health: ties go to fewest in flight', 'health', [view(0, { inFlight: 2 }), view(1, { inFlight: 1 }), view(2, { inFlight: 3 })], 0, 1],
    ['health: full ties go round-robin from the cursor', 'health', [view(0), view(1), view(2)], 2, 2],
    ['health: cursor past the end wraps', 'health', [view(0), view(1)], 5, 0],
    ['health: untried beats a better but tried key', 'health', [view(0, { tried: true }), view(1, { keyAttempts: 50 })], 0, 1],
    ['round-robin ignores usage', 'round-robin', [view(0, { keyAttempts: 0 }), view(3, { keyAttempts: 100 })], 1, 1],
    ['least-busy', 'least-busy', [view(0, { inFlight: 4 }), view(1, { inFlight: 0, keyAttempts: 100 })], 0, 1],
  ] as const)('%s', (_n, strategy, cands, cursor, expected) => {
    expect(selectInstance(strategy, cands, cursor, () => 0)).toBe(expected);
  });

  it('empty -> -1', () => expect(selectInstance('health', [], 0, Math.random)).toBe(-1));

  it('health score counts usage from 1', () => {
    expect(healthScore(0, 0)).toBe(1);
    expect(healthScore(1, 0.5)).toBe(0.25);
  });

  it('random stays in range and prefers untried', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 20 }), fc.double({ min: 0, max: 0.9999999, noNaN: true }), (tried, r) => {
        const cands = tried.map((t, i) => view(i, { tried: t }));
        const pos = selectInstance('random', cands, 0, () => r);
        expect(pos).toBeGreaterThanOrEqual(0);
        expect(pos).toBeLessThan(cands.length);
        if (tried.some((t) => !t)) expect(cands[pos]!.tried).toBe(false);
      }),
    );
  });

  it('equal keys get equal shares within +-1 when usage is counted on pick (all strategies but random)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 200 }), fc.constantFrom('health', 'round-robin', 'least-busy' as const), (n, picks, strategy) => {
        const usage = new Array<number>(n).fill(0);
        let cursor = 0;
        for (let p = 0; p < picks; p++) {
          const cands = usage.map((u, i) => view(i, { keyAttempts: u }));
          const pos = selectInstance(strategy, cands, cursor, Math.random);
          usage[pos]!++;
          cursor = (pos + 1) % n;
        }
        expect(Math.max(...usage) - Math.min(...usage)).toBeLessThanOrEqual(1);
      }),
    );
  });
});

describe('findUnhealthyKeys', () => {
  const w = (index: number, requests: number, errors = 0, usable = true) => ({ index, requests, errors, usable });
  it('flags an error rate above 20% once the key has enough samples', () => {
    expect([...findUnhealthyKeys([w(0, 20, 5), w(1, 20, 0), w(2, 20, 4)])]).toEqual([0]);
    expect([...findUnhealthyKeys([w(0, 5, 5), w(1, 20, 0), w(2, 20, 0)])]).toEqual([]); // too few samples
  });
  it('flags a key with more than half of all requests, only with >= 3 keys and enough requests', () => {
    expect([...findUnhealthyKeys([w(0, 60), w(1, 20), w(2, 10)])]).toEqual([0]);
    expect([...findUnhealthyKeys([w(0, 60), w(1, 20)])]).toEqual([]);
    expect([...findUnhealthyKeys([w(0, 6), w(1, 2), w(2, 1)])]).toEqual([]);
  });
  it('never rotates every key out: the best stays', () => {
    expect([...findUnhealthyKeys([w(0, 20, 10), w(1, 20, 8), w(2, 20, 15)])].sort()).toEqual([0, 2]);
  });
  it('ignores disabled keys', () => {
    expect([...findUnhealthyKeys([w(0, 0, 0, false), w(1, 20, 10), w(2, 20, 0)])]).toEqual([1]);
  });
});
