import { describe, expect, it } from 'vitest';
import { QuotaLimiter } from '../../src/pool/limiter.ts';
import { nextPacificMidnight } from '../../src/pool/time.ts';
import { WaitQueue } from '../../src/pool/waitQueue.ts';
import { ManualClock, settle } from '../helpers.ts';

const T0 = Date.UTC(2026, 10, 22, 18, 0, 0);

describe('QuotaLimiter', () => {
  it('sliding minute window: the (rpm+1)-th request waits until the oldest leaves', () => {
    const l = new QuotaLimiter({ defaults: { rpm: 3 }, marginMs: 0 });
    for (const dt of [0, 10_000, 20_000]) {
      expect(l.check('g', 'm', T0 + dt).ok).toBe(true);
      l.record('g', 'm', T0 + dt);
    }
    expect(l.check('g', 'm', T0 + 30_000)).toEqual({ ok: false, retryAt: T0 + 60_000, scope: 'minute' });
    expect(l.check('g', 'm', T0 + 59_999).ok).toBe(false);
    expect(l.check('g', 'm', T0 + 60_000).ok).toBe(true); // the window is (t-60s, t]: retryAt fits
    expect(l.check('other-group', 'm', T0 + 30_000).ok).toBe(true);
  });

  it('keeps a margin of 2% of the window (at most 1 s) for the time a request takes to arrive', () => {
    const l = new QuotaLimiter({ defaults: { rpm: 1 } });
    expect(l.marginMs).toBe(1_000);
    l.record('g', 'm', T0);
    expect(l.check('g', 'm', T0 + 60_500)).toMatchObject({ ok: false, retryAt: T0 + 61_000 });
    expect(new QuotaLimiter({ minuteMs: 1_000 }).marginMs).toBe(20);
  });

  it('per-day limit holds until Pacific midnight and resets after it', () => {
    const l = new QuotaLimiter({ perModel: { m: { rpd: 2 } } });
    l.record('g', 'm', T0);
    l.record('g', 'm', T0 + 1);
    expect(l.check('g', 'm', T0 + 2)).toEqual({ ok: false, retryAt: nextPacificMidnight(T0), scope: 'day' });
    expect(l.check('g', 'other-model', T0 + 2).ok).toBe(true);
    expect(l.check('g', 'm', nextPacificMidnight(T0)).ok).toBe(true);
  });

  it('release takes back a send Gemini never saw: minute window, tokens and the day', () => {
    const l = new QuotaLimiter({ defaults: { rpm: 2, rpd: 2, tpm: 100 }, marginMs: 0 });
    l.record('g', 'm', T0, 60);
    l.record('g', 'm', T0 + 1, 30);
    expect(l.check('g', 'm', T0 + 2).ok).toBe(false);
    l.release('g', 'm', T0 + 1, 30);
    expect(l.check('g', 'm', T0 + 2, 40).ok).toBe(true);
    expect(l.check('g', 'm', T0 + 2, 41)).toMatchObject({ ok: false, scope: 'tokens' });
    l.record('g', 'm', T0 + 3);
    expect(l.check('g', 'm', T0 + 4)).toMatchObject({ ok: false, scope: 'day' });
    // Out of the minute window already: only the day's count comes back.
    l.release('g', 'm', T0, 60, T0 + 120_000);
    expect(l.check('g', 'm', T0 + 120_000).ok).toBe(true);
    // A send of yesterday is not taken off today's count; unknown groups are ignored.
    l.record('g', 'm', nextPacificMidnight(T0) + 1);
    l.record('g', 'm', nextPacificMidnight(T0) + 2);
    l.release('g', 'm', T0 + 3, 0, nextPacificMidnight(T0) + 3);
    expect(l.check('g', 'm', nextPacificMidnight(T0) + 70_000)).toMatchObject({ ok: false, scope: 'day' });
    expect(() => l.release('nobody', 'm', T0)).not.toThrow();
  });

  it('tokens per minute', () => {
    const l = new QuotaLimiter({ defaults: { tpm: 100 }, marginMs: 0 });
    l.record('g', 'm', T0, 60);
    l.record('g', 'm', T0 + 1_000, 30);
    expect(l.check('g', 'm', T0 + 2_000, 10).ok).toBe(true);
    expect(l.check('g', 'm', T0 + 2_000, 20)).toEqual({ ok: false, retryAt: T0 + 60_000, scope: 'tokens' });
  });

  it('learns a limit from a 429 once, and it overrides the configured one', () => {
    const l = new QuotaLimiter({ defaults: { rpm: 100 } });
    expect(l.learn('g', 'm', 'minute', 'requests', 2, T0)).toBe(true);
    expect(l.learn('g', 'm', 'minute', 'requests', 2, T0)).toBe(false);
    expect(l.limitsFor('g', 'm')).toEqual({ rpm: 2 });
    expect(l.limitsFor('g2', 'm')).toEqual({ rpm: 100 });
    l.record('g', 'm', T0);
    l.record('g', 'm', T0);
    expect(l.check('g', 'm', T0).ok).toBe(false);
  });

  it('a learned daily limit counts the day as used up', () => {
    const l = new QuotaLimiter();
    l.learn('g', 'm', 'day', 'requests', 250, T0);
    expect(l.check('g', 'm', T0)).toMatchObject({ ok: false, scope: 'day' });
  });

  it('rejects bad limits with a TypeError naming them', () => {
    expect(() => new QuotaLimiter({ defaults: { rpm: 0 } })).toThrow('`defaults.rpm` must be an integer >= 1 (got 0)');
  });
});

describe('WaitQueue', () => {
  it('serves waiters in arrival order as capacity frees', async () => {
    const clock = new ManualClock(T0);
    const q = new WaitQueue(clock, 10);
    let capacity = 0;
    let nextFree = T0 + 1_000;
    const probe = () => {
      if (capacity > 0) {
        capacity--;
        return 'ready' as const;
      }
      return nextFree;
    };
    const order: number[] = [];
    const all = [1, 2, 3].map((n) => q.wait(probe, T0 + 60_000).then((r) => r.ok && order.push(n)));
    await settle();
    expect(q.length).toBe(3);
    // One slot at a time, one second apart.
    for (let i = 0; i < 3; i++) {
      capacity = 1;
      await clock.advanceTo(nextFree);
      nextFree += 1_000;
    }
    await Promise.all(all);
    expect(order).toEqual([1, 2, 3]);
    expect(q.length).toBe(0);
  });

  it('refuses at once when capacity comes after the deadline, and when full', async () => {
    const clock = new ManualClock(T0);
    const q = new WaitQueue(clock, 1);
    expect(await q.wait(() => T0 + 30_000, T0 + 10_000)).toEqual({ ok: false, reason: 'deadline', retryAt: T0 + 30_000 });
    const first = q.wait(() => T0 + 5_000, T0 + 10_000);
    await settle();
    expect(await q.wait(() => 'ready', T0 + 10_000)).toEqual({ ok: false, reason: 'full' });
    await clock.advanceTo(T0 + 5_000);
    void first;
  });

  it('a waiter behind the head gives up at its own deadline', async () => {
    const clock = new ManualClock(T0);
    const q = new WaitQueue(clock, 5);
    const head = q.wait(() => T0 + 20_000, T0 + 30_000);
    const second = q.wait(() => T0 + 20_000, T0 + 5_000);
    await settle();
    await clock.advanceTo(T0 + 5_000);
    expect(await second).toEqual({ ok: false, reason: 'deadline', retryAt: T0 + 20_000 });
    await clock.advanceTo(T0 + 20_000);
    void head;
  });

  it('a cancelled waiter leaves the queue', async () => {
    const clock = new ManualClock(T0);
    const q = new WaitQueue(clock, 5);
    const ctl = new AbortController();
    const p = q.wait(() => T0 + 20_000, T0 + 30_000, ctl.signal);
    await settle();
    ctl.abort();
    expect(await p).toEqual({ ok: false, reason: 'cancelled' });
    expect(q.length).toBe(0);
  });
});
