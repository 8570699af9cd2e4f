/** A fake Gemini and a pool on an injected clock, cleaned up after each test. */
import { afterEach } from 'vitest';
import { GeminiAPIPool, type GeminiAPIPoolOptions } from '../../src/pool/GeminiAPIPool.ts';
import type { Clock } from '../../src/pool/time.ts';
import type { PoolEvents } from '../../src/pool/types.ts';
import { FakeGemini, type FakeGeminiOptions } from '../../fakes/fakeGemini.ts';
import { captureLogger } from '../helpers.ts';

export interface SetupOptions {
  keys?: string[];
  fake?: FakeGeminiOptions;
  pool?: Partial<GeminiAPIPoolOptions>;
  /** @default 'info' */
  logLevel?: string;
}

/**
 * Registers the cleanup and returns `setup`, which starts a fake Gemini on the clock and a
 * pool against it (with `defaults` under the test's own options), recording its events
 * and log lines.
 */
export function poolFixture<C extends Clock>(makeClock: () => C, defaults: Partial<GeminiAPIPoolOptions> & { keys: string[] }) {
  let fake: FakeGemini | undefined;
  let pool: GeminiAPIPool | undefined;
  afterEach(async () => {
    await pool?.close();
    await fake?.close();
    pool = undefined;
    fake = undefined;
  });
  return async (opts: SetupOptions = {}) => {
    const clock = makeClock();
    fake = await FakeGemini.start({ now: clock.now, ...opts.fake });
    const { logger, lines } = captureLogger(opts.logLevel ?? 'info');
    pool = new GeminiAPIPool({ baseUrl: fake.url, clock, timers: false, logger, ...defaults, ...(opts.keys ? { keys: opts.keys } : {}), ...opts.pool });
    const events: Array<[keyof PoolEvents, unknown]> = [];
    for (const e of ['keyCooldown', 'keyDisabled', 'keyRecovered', 'allKeysUnavailable', 'serviceRecovered'] as const) {
      pool.on(e, (p) => events.push([e, p]));
    }
    return { clock, fake, pool, events, lines };
  };
}
