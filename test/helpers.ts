import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import type { Clock } from '../src/pool/time.ts';

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
