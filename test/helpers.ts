import net from 'node:net';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import type { GeminiClient } from '../src/gemini/adapter.ts';
import type { Clock } from '../src/pool/time.ts';

/** The native calls of a scripted client whose test never makes them. */
export const noNative: Pick<GeminiClient, 'native' | 'nativeStream'> = {
  native: () => Promise.reject(new Error('unused')),
  nativeStream: () => {
    throw new Error('unused');
  },
};

/** A clock that only moves when told to; `sleep` advances it at once and records the wait. */
export class TestClock implements Clock {
  sleeps: number[] = [];
  constructor(public t = Date.UTC(2026, 10, 22, 18, 0, 0), private rnd = 0.5) {}
  now = (): number => this.t;
  sleep = async (ms: number): Promise<void> => {
    this.sleeps.push(ms);
    this.t += ms;
  };
  random = (): number => this.rnd;
  advance(ms: number): void {
    this.t += ms;
  }
}

/** A pino logger whose lines are kept for assertions. */
export function captureLogger(level = 'debug'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  return { logger: pino({ level }, stream), lines };
}

/**
 * A clock whose sleeps stay pending until the test moves time past them, for tests with
 * several requests waiting at once.
 */
export class ManualClock implements Clock {
  #sleepers: Array<{ at: number; resolve: () => void }> = [];
  constructor(public t = Date.UTC(2026, 10, 22, 18, 0, 0)) {}
  now = (): number => this.t;
  random = (): number => 0.5;
  sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
    new Promise((resolve) => {
      const entry = { at: this.t + ms, resolve };
      this.#sleepers.push(entry);
      signal?.addEventListener('abort', () => {
        this.#sleepers = this.#sleepers.filter((s) => s !== entry);
        resolve();
      }, { once: true });
    });
  /** Pending sleeps. */
  get sleeping(): number {
    return this.#sleepers.length;
  }
  /** Moves time to `t`, waking due sleepers in time order, letting each run before the next. */
  async advanceTo(t: number): Promise<void> {
    for (let guard = 0; guard < 10_000; guard++) {
      const due = this.#sleepers.filter((s) => s.at <= t).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.#sleepers = this.#sleepers.filter((s) => s !== due);
      this.t = Math.max(this.t, due.at);
      due.resolve();
      await settle();
    }
    this.t = Math.max(this.t, t);
  }
  async advance(ms: number): Promise<void> {
    await this.advanceTo(this.t + ms);
  }
}

/** Lets pending promise callbacks and immediate I/O run. */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

/** A local port nothing listens on: bound, then released. */
export async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Waits until `cond` holds, bounded by a count of short waits; fails the test when it never does. */
export async function until(cond: () => boolean, maxWaits = 1_000): Promise<void> {
  for (let i = 0; i < maxWaits && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!cond()) throw new Error(`condition still false after ${maxWaits} waits: ${String(cond)}`);
}

/** Resolves when `signal` aborts, or after `maxMs` at most (a silent upstream that only a cancel ends). */
export function untilAborted(signal: AbortSignal | undefined, maxMs = 5_000): Promise<void> {
  return new Promise<void>((r) => {
    const t = setTimeout(r, maxMs);
    signal?.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
  });
}
