/**
 * The bot's life: running, then stopping. The one owner of that state: whether the bot is
 * stopping (admission refuses new work from then on, see `admission.ts`), the work in
 * flight (interactions and chat messages, so a stop can wait for it), and the signal that
 * cancels what is still in flight when the grace period is over.
 */
import { setMaxListeners } from 'node:events';

/** What the rest of the bot may know of the lifecycle. */
export interface LifecycleView {
  /** True once a stop has begun. */
  readonly stopping: boolean;
  /** Aborted when what is in flight must end: every Gemini request carries it. */
  readonly signal: AbortSignal;
}

/** Running or stopping, the work in flight, and its cancel signal. */
export class Lifecycle implements LifecycleView {
  readonly #cancel = new AbortController();
  readonly #running = new Set<Promise<void>>();
  readonly #onError: (err: unknown) => void;
  #stopping = false;

  /** `onError` hears what tracked work threw (it is logged, never rethrown). */
  constructor(onError: (err: unknown) => void) {
    this.#onError = onError;
    // Every request in flight listens to the signal: as many listeners as requests is no leak.
    setMaxListeners(0, this.#cancel.signal);
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  get signal(): AbortSignal {
    return this.#cancel.signal;
  }

  /** Work in flight now. */
  get running(): number {
    return this.#running.size;
  }

  /** From now on new work is refused; what runs goes on. */
  beginStop(): void {
    this.#stopping = true;
  }

  /** Cancels what is still in flight (requests carrying {@link signal} end at once). */
  cancelInFlight(): void {
    this.#cancel.abort(new Error('the bot is shutting down'));
  }

  /** Follows `work` until it settles; what it throws goes to `onError`. */
  track(work: Promise<void>): Promise<void> {
    const p = work.catch(this.#onError);
    this.#running.add(p);
    void p.finally(() => this.#running.delete(p));
    return p;
  }

  /** Resolves true once nothing is in flight, or false after `timeoutMs`. */
  async idle(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.#running.size > 0) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...this.#running]), new Promise((resolve) => (timer = setTimeout(resolve, left)))]);
      clearTimeout(timer);
    }
    return true;
  }
}
