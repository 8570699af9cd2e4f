/**
 * A bounded first-in-first-out wait for quota. Only the head of the queue may take
 * capacity; it sleeps until the time capacity is expected, then tries. Newcomers queue
 * behind waiters even when a slot looks free, so waiting requests are served in arrival
 * order.
 */
import type { Clock } from './time.ts';

/** What the head learns when it looks: go now, or capacity is expected at this time. */
export type Probe = 'ready' | number;

export type WaitOutcome =
  | { ok: true }
  | { ok: false; reason: 'full' }
  | { ok: false; reason: 'deadline'; retryAt: number }
  | { ok: false; reason: 'cancelled' };

interface Waiter {
  wake: (() => void) | undefined;
}

export class WaitQueue {
  readonly #items: Waiter[] = [];

  constructor(
    private readonly clock: Pick<Clock, 'now' | 'sleep'>,
    /** Requests that may wait at once; more are refused at once. @default 100 */
    readonly maxQueued = 100,
  ) {
    if (!Number.isInteger(maxQueued) || maxQueued < 0) throw new TypeError(`WaitQueue: \`maxQueued\` must be an integer >= 0 (got ${maxQueued})`);
  }

  /** Requests waiting now. */
  get length(): number {
    return this.#items.length;
  }

  /**
   * Waits for the caller's turn. `probe` runs only at the head: 'ready' means the caller may
   * go (it leaves the queue); a time means capacity is expected then. Fails at once when the
   * queue is full or capacity is expected after `deadlineAt`.
   */
  async wait(probe: () => Probe, deadlineAt: number, signal?: AbortSignal): Promise<WaitOutcome> {
    if (this.#items.length >= this.maxQueued) return { ok: false, reason: 'full' };
    const me: Waiter = { wake: undefined };
    this.#items.push(me);
    try {
      // Bounded: each turn either returns or sleeps until capacity or the head changes.
      for (let turn = 0; turn < 100_000; turn++) {
        if (signal?.aborted) return { ok: false, reason: 'cancelled' };
        const now = this.clock.now();
        if (this.#items[0] === me) {
          const p = probe();
          if (p === 'ready') return { ok: true };
          // Capacity exactly at the deadline leaves no time for the call itself.
          if (p >= deadlineAt) return { ok: false, reason: 'deadline', retryAt: p };
          await this.clock.sleep(Math.max(1, p - now), signal);
          continue;
        }
        if (now >= deadlineAt) {
          const p = probe();
          return p === 'ready' ? { ok: false, reason: 'deadline', retryAt: now } : { ok: false, reason: 'deadline', retryAt: p };
        }
        await this.#untilHeadOrDeadline(me, deadlineAt - now, signal);
      }
      return { ok: false, reason: 'deadline', retryAt: this.clock.now() };
    } finally {
      const at = this.#items.indexOf(me);
      this.#items.splice(at, 1);
      // The next in line looks at once: capacity may be there already.
      if (at === 0) this.#items[0]?.wake?.();
    }
  }

  #untilHeadOrDeadline(me: Waiter, ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      const ctl = new AbortController();
      const done = () => {
        me.wake = undefined;
        signal?.removeEventListener('abort', done);
        ctl.abort();
        resolve();
      };
      me.wake = done;
      signal?.addEventListener('abort', done, { once: true });
      void this.clock.sleep(ms, ctl.signal).then(done);
    });
  }
}
