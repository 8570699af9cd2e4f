/**
 * The wait for quota of one model: a bounded line in which waiting requests are served in
 * a fair order across clients, and only what can be served within a bounded wait gets in.
 *
 * - Order: the least recent use first, by start-time fair queueing over every slot taken
 *   (from the line or straight away, see {@link WaitQueue.took}). A slot's start tag is
 *   `max(virtual time - CREDIT_TURNS, its client's last finish tag)`, its finish tag
 *   `start + 1 / weight`; the smallest tag in line is served first, and the virtual time
 *   follows the tags of the slots taken. So among clients that keep asking, each gets slots
 *   in proportion to its weight (max-min fair: a client that asks less than its share gets
 *   all it asks), a heavy client's requests queue behind the ones of clients that used
 *   less, and a client that was away banks at most `CREDIT_TURNS` turns. With one client it
 *   is first come, first served.
 * - Admission: given the schedule of the next free slots (`slots.ts`), the k-th request in
 *   line goes at the k-th time. The first slot is everyone's wait for capacity (a cooldown's
 *   end, a quota window freeing): a request may wait for it until its deadline. What comes
 *   on top of that, the wait behind others, is bounded by `maxWaitMs`, except for a request
 *   that fairness owes a turn (its tag is behind the virtual time): that one may wait up to
 *   half of what is left of its deadline. A request whose turn comes later is refused at
 *   once, with that time; one that a newcomer pushes past its bound is refused then. So
 *   under a sustained overload the line holds only what the next `maxWaitMs` of slots can
 *   serve, instead of growing until everyone in it waits nearly their whole deadline, and
 *   what is refused is the heavy clients' excess.
 * - Only the first in line probes capacity; it sleeps until capacity is expected and looks
 *   again. The others sleep until they are first, refused, cancelled or past their deadline.
 */
import type { Clock } from './time.ts';

/** What the head learns when it looks: go now, or capacity is expected at this time. */
export type Probe = 'ready' | number;

export type WaitOutcome =
  | { ok: true }
  | { ok: false; reason: 'full' }
  /** Its turn comes after its deadline (`retryAt`: when it would have come). */
  | { ok: false; reason: 'deadline'; retryAt: number }
  /** Its turn comes later than it may wait (`maxWaitAt`); `retryAt`: when it would have come. */
  | { ok: false; reason: 'later'; retryAt: number }
  | { ok: false; reason: 'cancelled' };

/** How one request waits, beyond its probe and deadline. */
export interface WaitOptions {
  /** Who asks: requests of one client share its fair share. @default one anonymous client */
  client?: string | undefined;
  /** The client's weight (> 0): a client of weight 3 gets three slots to another's one. @default 1 */
  weight?: number | undefined;
  /** The longest this request waits behind others, on top of the wait for the first free slot. @default until its deadline */
  maxWaitMs?: number | undefined;
  /** The first `k` times a waiting request can go (see `slotSchedule`). Without it: no estimates, no refusals before the deadline. */
  schedule?: ((k: number) => readonly number[]) | undefined;
  /** Told when the request starts waiting, and when its expected start changes. */
  onWait?: ((expectedAt: number) => void) | undefined;
}

interface Waiter {
  client: string;
  /** Start and finish tags (fair order). */
  start: number;
  finish: number;
  /** Arrival order, to break ties. */
  seq: number;
  deadlineAt: number;
  /** Its bound: set when it gets in (the first free slot then, plus `maxWaitMs`), else its deadline. */
  maxWaitAt: number;
  expectedAt: number | undefined;
  onWait: ((expectedAt: number) => void) | undefined;
  /** Set when a newcomer pushed it past its bound. */
  refused: { retryAt: number } | undefined;
  /** Took a slot: its tag stays its client's. */
  served: boolean;
  wake: (() => void) | undefined;
}

/**
 * Turns a client that was away may take before those that kept asking: enough for a light
 * client whose requests come while no slot frees (the end of a quota window that a burst
 * used up) to get its share when slots free again.
 */
const CREDIT_TURNS = 2;

const before = (a: Waiter, b: Waiter): boolean => a.start < b.start || (a.start === b.start && a.seq < b.seq);

export class WaitQueue {
  readonly #items: Waiter[] = [];
  /** Virtual time: the latest start tag of a slot taken. */
  #virtual = 0;
  /** Finish tag of each client's latest slot taken or request in line. */
  readonly #lastFinish = new Map<string, number>();
  /** Clients remembered before the next sweep of `#lastFinish` (amortized: it doubles with what a sweep keeps). */
  #sweepAt: number;
  #seq = 0;

  constructor(
    private readonly clock: Pick<Clock, 'now' | 'sleep'>,
    /** Requests that may wait at once; more are refused at once. @default 100 */
    readonly maxQueued = 100,
  ) {
    if (!Number.isInteger(maxQueued) || maxQueued < 0) throw new TypeError(`WaitQueue: \`maxQueued\` must be an integer >= 0 (got ${maxQueued})`);
    this.#sweepAt = 4 * maxQueued + 1_024;
  }

  /** Clients whose use is remembered now (for tests and the curious). */
  get remembered(): number {
    return this.#lastFinish.size;
  }

  /** Requests waiting now. */
  get length(): number {
    return this.#items.length;
  }

  /**
   * Waits for the caller's turn. `probe` runs only at the head: 'ready' means the caller may
   * go (it leaves the queue); a time means capacity is expected then. Fails at once when the
   * queue is full, or when the caller's turn is expected after `deadlineAt` or past its
   * bound (`options.maxWaitMs`).
   */
  async wait(probe: () => Probe, deadlineAt: number, signal?: AbortSignal, options: WaitOptions = {}): Promise<WaitOutcome> {
    if (this.#items.length >= this.maxQueued) return { ok: false, reason: 'full' };
    const me = this.#enter(options, deadlineAt);
    const refused = this.#admit(me, options.schedule, options.maxWaitMs);
    if (refused) return refused;
    try {
      // Bounded: each turn either returns or sleeps until capacity, the head changes, or a refusal.
      for (let turn = 0; turn < 100_000; turn++) {
        if (me.refused) return { ok: false, reason: 'later', retryAt: me.refused.retryAt };
        if (signal?.aborted) return { ok: false, reason: 'cancelled' };
        const now = this.clock.now();
        if (this.#items[0] === me) {
          const p = probe();
          if (p === 'ready') {
            this.#served(me);
            return { ok: true };
          }
          // Capacity exactly at the deadline leaves no time for the call itself.
          if (p >= deadlineAt) return { ok: false, reason: 'deadline', retryAt: p };
          await this.#nap(me, Math.max(1, p - now), signal);
          continue;
        }
        if (now >= deadlineAt) {
          const p = probe();
          return { ok: false, reason: 'deadline', retryAt: p === 'ready' ? now : p };
        }
        await this.#nap(me, deadlineAt - now, signal);
      }
      return { ok: false, reason: 'deadline', retryAt: this.clock.now() };
    } finally {
      this.#leave(me);
    }
  }

  /**
   * Counts a slot a client took without waiting (the line was empty and capacity there), so
   * that its use counts when it next waits.
   */
  took(client: string | undefined, weight = 1): void {
    const c = client ?? '';
    const start = this.#startOf(c);
    this.#lastFinish.set(c, start + 1 / weight);
    this.#moved(start);
  }

  #startOf(client: string): number {
    const floor = this.#virtual - CREDIT_TURNS;
    const last = this.#lastFinish.get(client);
    return last === undefined || last < floor ? floor : last;
  }

  /** A slot was taken at tag `start`: the virtual time follows it. */
  #moved(start: number): void {
    if (start > this.#virtual) this.#virtual = start;
    if (this.#lastFinish.size > this.#sweepAt) this.#sweep();
  }

  /**
   * Forgets clients within one turn of the floor (those behind it start there anyway; those
   * less than a turn ahead of it gain at most that turn), except those in line. Many clients
   * that each ask once never move the virtual time, so without this the map would only grow.
   */
  #sweep(): void {
    const waiting = new Set(this.#items.map((w) => w.client));
    const keepAbove = this.#virtual - CREDIT_TURNS + 1;
    for (const [client, finish] of this.#lastFinish) if (finish <= keepAbove && !waiting.has(client)) this.#lastFinish.delete(client);
    this.#sweepAt = Math.max(4 * this.maxQueued + 1_024, 2 * this.#lastFinish.size);
  }

  /** Tags the newcomer and puts it in line. */
  #enter(options: WaitOptions, deadlineAt: number): Waiter {
    const client = options.client ?? '';
    const weight = options.weight ?? 1;
    if (!(weight > 0 && Number.isFinite(weight))) throw new TypeError(`WaitQueue: \`weight\` must be a number > 0 (got ${weight})`);
    const start = this.#startOf(client);
    const me: Waiter = {
      client,
      start,
      finish: start + 1 / weight,
      seq: this.#seq++,
      deadlineAt,
      maxWaitAt: deadlineAt,
      expectedAt: undefined,
      onWait: options.onWait,
      refused: undefined,
      served: false,
      wake: undefined,
    };
    this.#lastFinish.set(client, me.finish);
    let at = this.#items.length;
    while (at > 0 && before(me, this.#items[at - 1]!)) at--;
    this.#items.splice(at, 0, me);
    return me;
  }

  /**
   * Estimates every turn from the newcomer on: refuses the newcomer when its turn comes too
   * late, else those behind it that it pushed past their bound, and tells the rest.
   */
  #admit(me: Waiter, schedule: WaitOptions['schedule'], maxWaitMs: number | undefined): WaitOutcome | undefined {
    if (!schedule) return undefined;
    const items = this.#items;
    const from = items.indexOf(me);
    const times = schedule(items.length);
    if (maxWaitMs !== undefined && times.length > 0) {
      const now = this.clock.now();
      let bound = Math.max(now, times[0]!) + maxWaitMs;
      // Its client is behind the others: max-min fairness owes it this turn, so it may
      // wait behind others for up to half of what is left of its deadline.
      if (me.start < this.#virtual) bound = Math.max(bound, now + (me.deadlineAt - now) / 2);
      me.maxWaitAt = Math.min(me.deadlineAt, bound);
    }
    const mine = times[from];
    if (mine !== undefined && mine > me.maxWaitAt) {
      this.#leave(me);
      return { ok: false, reason: mine >= me.deadlineAt ? 'deadline' : 'later', retryAt: mine };
    }
    const told: Waiter[] = [];
    const out: Waiter[] = [];
    // `turn` counts the waiters that stay: one pushed out frees its turn for the next.
    for (let i = from, turn = from; i < items.length; i++) {
      const w = items[i]!;
      const at = times[turn];
      if (at === undefined) break;
      if (w !== me && at > w.maxWaitAt) {
        w.refused = { retryAt: at };
        out.push(w);
        continue;
      }
      turn++;
      if (at === w.expectedAt) continue;
      w.expectedAt = at;
      told.push(w);
    }
    for (const w of out) {
      this.#leave(w);
      w.wake?.();
    }
    // Told last: a listener may look at the queue.
    for (const w of told) w.onWait?.(w.expectedAt!);
    return undefined;
  }

  /** The head took a slot. */
  #served(me: Waiter): void {
    me.served = true;
    this.#moved(me.start);
  }

  #leave(me: Waiter): void {
    const at = this.#items.indexOf(me);
    if (at < 0) return;
    this.#items.splice(at, 1);
    // Not served: the client did not use its turn, so its next request need not wait for it.
    if (!me.served && this.#lastFinish.get(me.client) === me.finish) this.#lastFinish.set(me.client, me.start);
    // The next in line looks at once: capacity may be there already.
    if (at === 0) this.#items[0]?.wake?.();
  }

  /** Sleeps `ms`, or until woken (head changed, refused) or cancelled. */
  #nap(me: Waiter, ms: number, signal: AbortSignal | undefined): Promise<void> {
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
