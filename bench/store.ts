/**
 * What the state store costs a request: the same requests through a pool with no store and
 * with each store attached (counters batched and written every second, as in production),
 * against a client that sends nothing, so only the pool and the store are measured.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GeminiAPIPool } from '../src/pool/GeminiAPIPool.ts';
import { RedisStore } from '../src/store/redis.ts';
import { SqliteStore } from '../src/store/sqlite.ts';
import type { StateStore } from '../src/store/types.ts';
import { startRedis } from '../test/store/redisServer.ts';
import { median, noNetworkFactory } from './common.ts';

async function usPerRequest(store: StateStore | undefined, requests: number, rounds: number): Promise<number> {
  const keys = Array.from({ length: 20 }, (_, i) => `AIzaBenchStore${String(i).padStart(4, '0')}`);
  const pool = new GeminiAPIPool({ keys, poolSize: 10, clientFactory: noNetworkFactory, timers: false });
  if (store) await pool.attachStore(store, { flushIntervalMs: 1_000 });
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < requests; i++) await pool.generateContent({ prompt: 'x' });
    // The flush a second of traffic would cause, counted in this round's time.
    await pool.flush();
    samples.push(((performance.now() - t0) * 1000) / requests);
  }
  await pool.close();
  return median(samples);
}

/** µs per request added by each store over none; redis is undefined when redis-server is missing. */
export async function measureStoreCost(requests = 5_000, rounds = 7): Promise<{ baseUs: number; sqlite: number; redis: number | undefined }> {
  await usPerRequest(undefined, requests, 2); // warm-up
  const baseUs = await usPerRequest(undefined, requests, rounds);
  const dir = mkdtempSync(join(tmpdir(), 'bench-store-'));
  const sqlite = new SqliteStore(dir);
  const sqliteUs = await usPerRequest(sqlite, requests, rounds);
  await sqlite.close();
  rmSync(dir, { recursive: true, force: true });
  let redisUs: number | undefined;
  const server = await startRedis().catch(() => undefined);
  if (server) {
    const redis = await RedisStore.connect(server.url);
    redisUs = await usPerRequest(redis, requests, rounds);
    await redis.close();
    await server.stop();
  }
  return { baseUs, sqlite: sqliteUs - baseUs, redis: redisUs === undefined ? undefined : redisUs - baseUs };
}
