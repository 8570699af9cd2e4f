/**
 * The StateStore contract against all three stores; Redis is a real redis-server.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe } from 'vitest';
import { MemoryStore } from '../../src/store/memory.ts';
import { RedisStore } from '../../src/store/redis.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { describeStoreContract } from './contract.ts';
import { startRedis, type RedisServer } from './redisServer.ts';
import pino from 'pino';

describeStoreContract('memory', async () => ({ store: new MemoryStore() }));

describeStoreContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpool-store-'));
  const store = new SqliteStore(join(dir, 'nested', 'data'));
  return {
    store,
    async rawDump() {
      store.db.pragma('wal_checkpoint(TRUNCATE)');
      return readFileSync(store.file).toString('latin1');
    },
    async cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

// Scoped, so a missing redis-server fails the Redis tests only (with startRedis's message).
describe('redis (real redis-server)', () => {
  let server: RedisServer | undefined;
  let admin: Redis | undefined;
  let n = 0;

  beforeAll(async () => {
    server = await startRedis();
    admin = new Redis(server.url, { lazyConnect: true });
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.quit();
    await server?.stop();
  });

  describeStoreContract('redis', async () => {
    if (!server || !admin) throw new Error('redis-server did not start (see the beforeAll error)');
    const prefix = `t${process.pid}-${++n}:`;
    const store = await RedisStore.connect(server.url, { prefix, logger: pino({ level: 'silent' }) });
    const a = admin;
    return {
      store,
      async rawDump() {
        const keys = await a.keys('*');
        const parts: string[] = [];
        for (const k of keys) {
          parts.push(k);
          const type = await a.type(k);
          if (type === 'string') parts.push((await a.get(k)) ?? '');
          else if (type === 'hash') parts.push(JSON.stringify(await a.hgetall(k)));
          else if (type === 'set') parts.push(...(await a.smembers(k)));
        }
        return parts.join('\n');
      },
    };
  });
});
