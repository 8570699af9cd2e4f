/**
 * The wait for quota as tables, with an injected clock (no sleeps, no wall clock): the slot
 * schedule the limiter's windows give, the fair order of clients that wait (weighted), the
 * bound on the wait behind others, push-out of a request a smaller share got ahead of, and
 * the expected start each waiter is told.
 */
import { describe, expect, it } from 'vitest';
import { QuotaLimiter } from '../../src/pool/limiter.ts';
import { slotSchedule, type SlotSource } from '../../src/pool/slots.ts';
import { WaitQueue, type WaitOptions, type WaitOutcome } from '../../src/pool/waitQueue.ts';
import { ManualClock, settle } from '../helpers.ts';

const T0 = Date.UTC(2026, 10, 22, 18, 0, 0);
const DAY_END = T0 + 86_400_000;

const windowOf = (o: Partial<Extract<SlotSource, { kind: 'window' }>>): SlotSource => ({
  kind: 'window',
  from: T0,
  rpm: 2,
  windowMs: 1_000,
  times: [],
  dayLeft: Infinity,
  dayEnd: DAY_END,
  ...o,
});

describe('slotSchedule', () => {
  const rows: Array<[string, SlotSource[], number, number[]]> = [
    ['no known limit: everyone at once', [{ kind: 'unlimited', from: T0 }], 3, [T0, T0, T0]],
    ['no known limit, cooling: everyone when the cooldown ends', [{ kind: 'unlimited', from: T0 + 500 }], 2, [T0 + 500, T0 + 500]],
    ['empty window: rpm at once, then a window later', [windowOf({})], 5, [T0, T0, T0 + 1_000, T0 + 1_000, T0 + 2_000]],
    ['one send in the window: one free now, the other when it leaves', [windowOf({ times: [T0 - 300] })], 3, [T0, T0 + 700, T0 + 1_000]],
    ['full window: in the order its sends leave', [windowOf({ times: [T0 - 900, T0 - 100] })], 4, [T0 + 100, T0 + 900, T0 + 1_100, T0 + 1_900]],
    ['more sends than rpm (a limit learned lower): the newest rpm decide', [windowOf({ times: [T0 - 950, T0 - 900, T0 - 100] })], 2, [T0 + 100, T0 + 900]],
    ['a cooldown holds the group back', [windowOf({ from: T0 + 400, times: [T0 - 900] })], 3, [T0 + 400, T0 + 400, T0 + 1_400]],
    ['the day runs out: the rest at its end', [windowOf({ dayLeft: 1 })], 3, [T0, DAY_END, DAY_END]],
    [
      'two groups merge in time order',
      [windowOf({ times: [T0 - 900, T0 - 100] }), windowOf({ rpm: 1, times: [T0 - 500] })],
      4,
      [T0 + 100, T0 + 500, T0 + 900, T0 + 1_100],
    ],
    ['a group without a limit next to one with a window', [windowOf({ times: [T0 - 900, T0 - 100] }), { kind: 'unlimited', from: T0 + 300 }], 3, [T0 + 100, T0 + 300, T0 + 300]],
  ];
  it.each(rows)('%s', (_name, sources, k, expected) => {
    expect(slotSchedule(sources, k)).toEqual(expected);
  });

  it('reads the limiter: its window, margin included, and its day', () => {
    const l = new QuotaLimiter({ defaults: { rpm: 2, rpd: 3 }, minuteMs: 1_000, marginMs: 20 });
    l.record('g', 'm', T0 - 500);
    l.record('g', 'm', T0 - 200);
    const src = l.slotSource('g', 'm', T0, T0);
    expect(src).toMatchObject({ kind: 'window', rpm: 2, windowMs: 1_020, dayLeft: 1 });
    expect(slotSchedule([src], 2)).toEqual([T0 + 520, src.kind === 'window' ? src.dayEnd : NaN]);
    expect(new QuotaLimiter().slotSource('g', 'm', T0 + 5, T0)).toEqual({ kind: 'unlimited', from: T0 + 5 });
  });
});

/** A queue whose capacity is handed out by the test: `free()` lets the head go. */
function harness(maxQueued = 20) {
  const clock = new ManualClock(T0);
  const q = new WaitQueue(clock, maxQueued);
  let capacity = 0;
  const probe = () => {
    if (capacity > 0) {
      capacity--;
      return 'ready' as const;
    }
    return clock.now() + 60_000;
  };
  const served: string[] = [];
  const outcomes = new Map<string, WaitOutcome>();
  const join = (name: string, options: WaitOptions = {}, deadlineAt = T0 + 600_000) =>
    q.wait(probe, deadlineAt, undefined, { client: name.replace(/\d+$/, ''), ...options }).then((r) => {
      outcomes.set(name, r);
      if (r.ok) served.push(name);
    });
  /** Frees one slot at a time, `n` times, letting each go before the next. */
  const free = async (n: number) => {
    for (let i = 0; i < n; i++) {
      capacity = 1;
      // The head sleeps until its probe time: move time so it looks again.
      await clock.advance(60_000);
      await settle();
    }
  };
  return { clock, q, join, free, served, outcomes };
}

describe('WaitQueue: fair order', () => {
  it('one client: first come, first served', async () => {
    const h = harness();
    for (const n of ['a1', 'a2', 'a3']) void h.join(n);
    await settle();
    await h.free(3);
    expect(h.served).toEqual(['a1', 'a2', 'a3']);
  });

  it('a client that has waited for nothing goes before the second request of a heavy one', async () => {
    const h = harness();
    for (const n of ['heavy1', 'heavy2', 'heavy3', 'heavy4']) void h.join(n);
    await settle();
    void h.join('light1');
    await settle();
    await h.free(5);
    expect(h.served).toEqual(['heavy1', 'light1', 'heavy2', 'heavy3', 'heavy4']);
  });

  it('clients that keep waiting take turns (max-min fair), whatever their arrival order', async () => {
    const h = harness();
    for (const n of ['a1', 'a2', 'a3', 'a4', 'b1', 'b2', 'c1']) void h.join(n);
    await settle();
    await h.free(7);
    expect(h.served).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'a3', 'a4']);
  });

  it('a weight of 2 gets two turns to one', async () => {
    const h = harness();
    for (let i = 1; i <= 4; i++) {
      void h.join(`w${i}`, { weight: 2 });
      void h.join(`c${i}`);
    }
    await settle();
    await h.free(8);
    // Tags: w 0, .5, 1, 1.5; c 0, 1, 2, 3 (ties in arrival order).
    expect(h.served).toEqual(['w1', 'c1', 'w2', 'c2', 'w3', 'w4', 'c3', 'c4']);
  });

  it('recent use counts after the line emptied: who used much goes after who used nothing', async () => {
    const h = harness();
    for (const n of ['a1', 'a2', 'a3']) void h.join(n);
    await settle();
    await h.free(3);
    void h.join('a4');
    void h.join('b1');
    await settle();
    await h.free(2);
    expect(h.served).toEqual(['a1', 'a2', 'a3', 'b1', 'a4']);
  });

  it('slots taken without waiting count as use too', async () => {
    const h = harness();
    for (let i = 0; i < 3; i++) h.q.took('a');
    void h.join('a1');
    void h.join('b1');
    await settle();
    await h.free(2);
    expect(h.served).toEqual(['b1', 'a1']);
  });

  it('a cancelled request gives its turn back to its client', async () => {
    const h = harness();
    const ctl = new AbortController();
    void h.join('a1');
    const gone = h.q.wait(() => T0 + 60_000, T0 + 600_000, ctl.signal, { client: 'a' });
    for (const n of ['b1', 'b2', 'b3']) void h.join(n);
    await settle();
    ctl.abort();
    expect(await gone).toEqual({ ok: false, reason: 'cancelled' });
    void h.join('a2');
    await settle();
    await h.free(5);
    // a2 takes the turn the cancelled request left (tag 1), not the one after it.
    expect(h.served).toEqual(['a1', 'b1', 'b2', 'a2', 'b3']);
  });
});

describe('WaitQueue: bounded wait', () => {
  /** Slots one second apart from T0 + 1 s on. */
  const everySecond = (k: number) => Array.from({ length: k }, (_, i) => T0 + 1_000 * (i + 1));

  it('lets in what the next slots serve within maxWaitMs of the first; refuses the rest at once with when its turn would come', async () => {
    const h = harness();
    const opts = { schedule: everySecond, maxWaitMs: 1_500 };
    const told: Array<[string, number]> = [];
    for (const n of ['a1', 'a2', 'a3']) void h.join(n, { ...opts, onWait: (at) => told.push([n, at]) });
    await settle();
    expect(h.q.length).toBe(2);
    expect(h.outcomes.get('a3')).toEqual({ ok: false, reason: 'later', retryAt: T0 + 3_000 });
    expect(told).toEqual([
      ['a1', T0 + 1_000],
      ['a2', T0 + 2_000],
    ]);
  });

  it('the first slot itself may come as late as the deadline (a cooldown everyone waits for)', async () => {
    const h = harness();
    const late = (k: number) => Array.from({ length: k }, () => T0 + 30_000);
    void h.join('a1', { schedule: late, maxWaitMs: 1_000 });
    void h.join('b1', { schedule: late, maxWaitMs: 1_000 });
    await settle();
    expect(h.q.length).toBe(2);
    // Past the deadline it is refused at once, with the time it would have gone.
    void h.join('c1', { schedule: late, maxWaitMs: 1_000 }, T0 + 20_000);
    await settle();
    expect(h.outcomes.get('c1')).toEqual({ ok: false, reason: 'deadline', retryAt: T0 + 30_000 });
  });

  it('a light newcomer that goes ahead pushes the last heavy waiter past its bound: refused then, with its new time', async () => {
    const h = harness();
    const opts = { schedule: everySecond, maxWaitMs: 2_500 };
    const told: Array<[string, number]> = [];
    const onWait = (n: string) => (at: number) => told.push([n, at]);
    // The heavy client used its credit of turns with its first two requests: its third is
    // bounded by maxWaitMs behind the first slot (T0 + 3.5 s).
    for (const n of ['heavy1', 'heavy2', 'heavy3']) void h.join(n, { ...opts, onWait: onWait(n) });
    await settle();
    void h.join('light1', { ...opts, onWait: onWait('light1') });
    await settle();
    expect(h.outcomes.get('heavy3')).toEqual({ ok: false, reason: 'later', retryAt: T0 + 4_000 });
    expect(h.q.length).toBe(3);
    expect(told).toEqual([
      ['heavy1', T0 + 1_000],
      ['heavy2', T0 + 2_000],
      ['heavy3', T0 + 3_000],
      ['light1', T0 + 2_000],
      ['heavy2', T0 + 3_000],
    ]);
    await h.free(3);
    expect(h.served).toEqual(['heavy1', 'light1', 'heavy2']);
  });

  it('a full line refuses at once, before any estimate', async () => {
    const h = harness(1);
    void h.join('a1', { schedule: everySecond });
    await settle();
    expect(await h.q.wait(() => 'ready', T0 + 10_000, undefined, { schedule: everySecond })).toEqual({ ok: false, reason: 'full' });
  });

  it('rejects a weight that is not a number > 0', async () => {
    const h = harness();
    await expect(h.q.wait(() => 'ready', T0 + 1_000, undefined, { weight: 0 })).rejects.toThrow('`weight` must be a number > 0 (got 0)');
  });
});

describe('WaitQueue: memory', () => {
  it('many clients that each take one slot are not all remembered, but a client that keeps asking is', async () => {
    const h = harness(10);
    for (let i = 0; i < 5; i++) h.q.took('heavy');
    for (let i = 0; i < 50_000; i++) h.q.took(`discord:user:${i}`);
    expect(h.q.remembered).toBeLessThanOrEqual(4 * 10 + 1_024 + 1);
    void h.join('heavy1');
    void h.join('newcomer1');
    await settle();
    await h.free(2);
    expect(h.served).toEqual(['newcomer1', 'heavy1']);
  });
});
