/**
 * Cost of one choice of instance: `pool.nextKey()` runs exactly the pick path a request
 * takes (cooldowns, quota check, health score, round-robin cursor) and sends nothing.
 */
import { GeminiAPIPool } from '../src/pool/GeminiAPIPool.ts';
import { median, noNetworkFactory } from './common.ts';

export interface SelectOptions {
  poolSize: number;
  /** Configured quota (e.g. GEMINI_RPM): the pick then also consults the limiter's window. */
  rpm?: number;
  picksPerSample: number;
  samples: number;
  warmupPicks: number;
}

/** Median over samples of the average ns per pick within a sample. */
export function measureSelect(keyCount: number, o: SelectOptions): number {
  const keys = Array.from({ length: keyCount }, (_, i) => `AIzaBenchSelect${String(i).padStart(6, '0')}`);
  const pool = new GeminiAPIPool({
    keys,
    poolSize: o.poolSize,
    clientFactory: noNetworkFactory,
    timers: false,
    ...(o.rpm !== undefined ? { limits: { defaults: { rpm: o.rpm } } } : {}),
  });
  let sink = 0;
  for (let i = 0; i < o.warmupPicks; i++) sink += pool.nextKey()?.instance ?? -1;
  const perPick: number[] = [];
  for (let s = 0; s < o.samples; s++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < o.picksPerSample; i++) sink += pool.nextKey()?.instance ?? -1;
    perPick.push(Number(process.hrtime.bigint() - t0) / o.picksPerSample);
  }
  // Every pick must have found an instance: a -1 would mean we timed the "none" path.
  if (sink < 0) throw new Error('nextKey() found no instance');
  void pool.close();
  return median(perPick);
}
