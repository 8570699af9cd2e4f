/**
 * The StateStore contract against all three stores; Redis is a real redis-server.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'vitest';
import { MemoryStore } from '../../src/store/memory.ts';
import { RedisStore } from '../../src/store/redis.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { describeStoreContract } from './contract.ts';
import { useRedisServer } from './redisServer.ts';
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
  const redis = useRedisServer();
  let n = 0;

  describeStoreContract('redis', async () => {
    const server = redis.server();
    const admin = redis.admin();
    const prefix = `t${process.pid}-${++n}:`;
    const store = await RedisStore.connect(server.url, { prefix, logger: pino({ level: 'silent' }) });
    const peer = await RedisStore.connect(server.url, { prefix, logger: pino({ level: 'silent' }) });
    const a = admin;
    return {
      store,
      peer,
      async cleanup() {
        await peer.close();
      },
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
