/**
 * Keys added while the pool runs, kept in step with a list of them (the keys an operator
 * added, as the store holds them): what the list holds and the pool lacks joins, what the
 * pool added and the list no longer holds leaves. Keys of the configuration are never
 * removed here. The list is read every `intervalMs` and on demand; one reading at a time.
 */
import type { Logger } from 'pino';
import type { KeyRing, KeySpec, PoolKey } from './keys.ts';

/** Where the keys added at runtime are listed (each with its secret: never log one). */
export type KeyList = () => Promise<readonly KeySpec[]>;

/** What the watch changes and reports through. */
export interface KeyWatchParts {
  ring: KeyRing;
  log: Logger;
  add(spec: KeySpec): Promise<PoolKey>;
  remove(index: number): void;
  /** One log line for a background task that failed. */
  backgroundFailed(task: string, err: unknown): void;
}

export class KeyWatch {
  #list: KeyList | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** The readings in order: each starts when the one before it ended. */
  #chain: Promise<void> = Promise.resolve();
  #pending = 0;

  constructor(private readonly parts: KeyWatchParts) {}

  /** Follows `list` from now on (replacing any earlier list): read at once, then every `intervalMs`. */
  start(list: KeyList, intervalMs: number): Promise<void> {
    this.stop();
    this.#list = list;
    this.#timer = setInterval(() => {
      // A reading still waiting (a slow store) is enough: the timer never piles them up.
      if (this.#pending === 0) this.sync().catch((err: unknown) => this.parts.backgroundFailed('key list', err));
    }, intervalMs);
    this.#timer.unref();
    return this.sync();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#list = undefined;
  }

  /**
   * Reads the list now and brings the pool in step; it runs after any reading in progress,
   * so it sees what was stored before the call.
   * @throws what the list throws (the pool keeps its keys as they are).
   */
  sync(): Promise<void> {
    this.#pending++;
    const run = this.#chain.then(() => this.#syncOnce()).finally(() => this.#pending--);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #syncOnce(): Promise<void> {
    const list = this.#list;
    if (!list) return;
    const { ring } = this.parts;
    const specs = await list();
    const wanted = new Set<string>();
    for (const spec of specs) {
      const key = spec.key.trim();
      if (!key) continue;
      wanted.add(key);
      if (ring.find(key) === undefined) await this.parts.add(spec);
    }
    // Never the last key in use: a pool needs one (the configuration always gives one).
    for (const k of ring.live) {
      if (k.source === 'added' && !wanted.has(ring.secret(k.index)) && ring.live.length > 1) this.parts.remove(k.index);
    }
  }
}
