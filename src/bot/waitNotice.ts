/**
 * The wait notice: what a deferred reply says while its request waits for quota. Shown by
 * `streamAnswer` (stream.ts) until the answer begins, and by `/art` until its embed.
 */
import { waitingForSlotText } from './userText.ts';

/**
 * The deferred reply while a request waits for quota: "waiting for a free slot, about N s",
 * written when the pool says the request waits (its `onWait`), then counted down at most
 * every `refreshMs`. {@link WaitNotice.stop} ends it before the answer is shown: no notice
 * is written after that.
 */
export class WaitNotice {
  #expectedAt: number | undefined;
  #shown: string | undefined;
  #writing: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  /** When the notice was last written (-Infinity: never). */
  lastWriteAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly write: (text: string) => Promise<void>,
    private readonly options: { refreshMs: number; now?: () => number; onError?: (err: unknown) => void },
  ) {}

  #now(): number {
    return this.options.now?.() ?? Date.now();
  }

  /** The pool's `onWait`: the request waits, about this long from now. */
  readonly waiting = (expectedWaitMs: number): void => {
    if (this.#stopped) return;
    this.#expectedAt = this.#now() + expectedWaitMs;
    // A write is due at once, or the timer already set writes the latest expectation.
    if (this.#timer === undefined) this.#due();
  };

  #due(): void {
    const inMs = this.lastWriteAt + this.options.refreshMs - this.#now();
    if (inMs > 0) this.#timer = setTimeout(() => this.#show(), inMs);
    else this.#show();
  }

  #show(): void {
    this.#timer = undefined;
    if (this.#stopped || this.#expectedAt === undefined) return;
    const now = this.#now();
    const leftMs = this.#expectedAt - now;
    const text = waitingForSlotText(Math.max(0, leftMs));
    if (text !== this.#shown) {
      this.#shown = text;
      this.lastWriteAt = now;
      this.#writing = this.#writing.then(() => (this.#stopped ? undefined : this.write(text))).catch((err: unknown) => this.options.onError?.(err));
    }
    // The count goes down while the request waits.
    if (leftMs > 1_000) this.#timer = setTimeout(() => this.#show(), this.options.refreshMs);
  }

  /** How long the request is still expected to wait for quota (0 when it is not waiting, or the notice ended). */
  msLeft(): number {
    return this.#stopped || this.#expectedAt === undefined ? 0 : Math.max(0, this.#expectedAt - this.#now());
  }

  /** Ends the notice for good; resolves once a write in flight is done. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#writing;
  }
}
