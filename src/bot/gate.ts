/**
 * The gate in front of Gemini: one request in flight per user, at most `maxConcurrent`
 * Gemini calls at once (a p-queue), and at most `maxQueued` waiting for a slot. It decides
 * synchronously, so a refused user is told at once and nothing ever hangs. It is asked
 * last, by `admit` in `admission.ts`.
 */
import PQueue from 'p-queue';

/** Why a request was not admitted. (Stopping is admission's call, not the gate's.) */
export type Refusal = 'busy' | 'queue_full';

/** An admitted request: run it (once), or release it if the caller gives up first. */
export interface Ticket {
  /** Runs `work` when a slot is free; the user's slot is released when it settles. */
  run<T>(work: () => Promise<T>): Promise<T>;
  /** Gives the slot back without running (e.g. the reply could not be deferred). */
  release(): void;
}

/** The answer of {@link RequestGate.admit}: a ticket, or why not. */
export type GateDecision = { ok: true; ticket: Ticket } | { ok: false; reason: Refusal };

/** Options of {@link RequestGate}. */
export interface RequestGateOptions {
  /** Gemini calls at once. @default 4 */
  maxConcurrent?: number;
  /** Requests that may wait for a free slot; more are refused. @default 50 */
  maxQueued?: number;
}

/** Per-user exclusivity plus a bounded p-queue; see the module comment. */
export class RequestGate {
  readonly maxConcurrent: number;
  readonly maxQueued: number;
  readonly #queue: PQueue;
  readonly #users = new Set<string>();
  /** Admitted and not yet settled: running + waiting. */
  #admitted = 0;

  constructor(options: RequestGateOptions = {}) {
    const maxConcurrent = options.maxConcurrent ?? 4;
    const maxQueued = options.maxQueued ?? 50;
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) {
      throw new TypeError(`RequestGate: \`maxConcurrent\` must be an integer >= 1 (got ${maxConcurrent})`);
    }
    if (!Number.isInteger(maxQueued) || maxQueued < 0) {
      throw new TypeError(`RequestGate: \`maxQueued\` must be an integer >= 0 (got ${maxQueued})`);
    }
    this.maxConcurrent = maxConcurrent;
    this.maxQueued = maxQueued;
    this.#queue = new PQueue({ concurrency: maxConcurrent });
  }

  /** Requests running now. */
  get running(): number {
    return this.#queue.pending;
  }

  /** Requests admitted but waiting for a slot. */
  get waiting(): number {
    return this.#admitted - this.#queue.pending;
  }

  /** Admitted requests that have not settled yet. */
  get inFlight(): number {
    return this.#admitted;
  }

  /** Whether this user has a request admitted and not yet settled. */
  isBusy(userId: string): boolean {
    return this.#users.has(userId);
  }

  /** Decides at once whether a user's request may go ahead. */
  admit(userId: string): GateDecision {
    if (this.#users.has(userId)) return { ok: false, reason: 'busy' };
    // Everyone beyond the running slots waits; the waiting line has a fixed length.
    if (this.#admitted - this.maxConcurrent >= this.maxQueued) return { ok: false, reason: 'queue_full' };
    this.#users.add(userId);
    this.#admitted++;
    let settled = false;
    const settle = (): void => {
      if (settled) return;
      settled = true;
      this.#users.delete(userId);
      this.#admitted--;
    };
    let used = false;
    return {
      ok: true,
      ticket: {
        run: <T>(work: () => Promise<T>): Promise<T> => {
          if (used) throw new Error('RequestGate: a ticket runs once');
          used = true;
          return (this.#queue.add(work) as Promise<T>).finally(settle);
        },
        release: settle,
      },
    };
  }
}
