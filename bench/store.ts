/**
 * What the state store costs a request: the same requests through a pool with no store and
 * with each store attached (counters batched, one flush per round), against a client that
 * sends nothing, so only the pool and the store are measured. The variants run in
 * interleaved rounds after a warm-up, so drift and noise hit them alike.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GeminiAPIPool } from '../src/pool/GeminiAPIPool.ts';
import { RedisStore } from '../src/store/redis.ts';
import { SqliteStore } from '../src/store/sqlite.ts';
import type { StateStore } from '../src/store/types.ts';
import { startRedis } from '../fakes/redisServer.ts';
import { median, noNetworkFactory } from './common.ts';

async function makePool(store: StateStore | undefined): Promise<GeminiAPIPool> {
  const keys = Array.from({ length: 20 }, (_, i) => `AIzaBenchStore${String(i).padStart(4, '0')}`);
  const pool = new GeminiAPIPool({ keys, poolSize: 10, clientFactory: noNetworkFactory, timers: false });
  // A long interval: the round flushes by itself, once, like a second of traffic would.
  if (store) await pool.attachStore(store, { flushIntervalMs: 3_600_000 });
  return pool;
}

async function round(pool: GeminiAPIPool, requests: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < requests; i++) await pool.generateContent({ prompt: 'x' });
  await pool.flush();
  return ((performance.now() - t0) * 1000) / requests;
}

/** µs per request of the pool alone, and what each store adds; redis is undefined without redis-server. */
export async function measureStoreCost(requests = 5_000, rounds = 9): Promise<{ baseUs: number; sqlite: number; redis: number | undefined }> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-store-'));
  const sqlite = new SqliteStore(dir);
  const server = await startRedis().catch(() => undefined);
  const redis = server ? await RedisStore.connect(server.url) : undefined;
  const variants: Array<[string, GeminiAPIPool]> = [
    ['none', await makePool(undefined)],
    ['sqlite', await makePool(sqlite)],
    ...(redis ? [['redis', await makePool(redis)] as [string, GeminiAPIPool]] : []),
  ];
  const samples = new Map<string, number[]>(variants.map(([name]) => [name, []]));
  for (let r = -2; r < rounds; r++) {
    for (const [name, pool] of variants) {
      const us = await round(pool, requests);
      if (r >= 0) samples.get(name)!.push(us); // the first two rounds warm up
    }
  }
  for (const [, pool] of variants) await pool.close();
  await sqlite.close();
  await redis?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
  const base = median(samples.get('none')!);
  return {
    baseUs: base,
    sqlite: median(samples.get('sqlite')!) - base,
    redis: redis ? median(samples.get('redis')!) - base : undefined,
  };
}
