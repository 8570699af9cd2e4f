/**
 * The three store contracts against all three stores; Redis is a real redis-server. Each
 * store class is one object (one connection, one file) serving all three interfaces.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe } from 'vitest';
import { MemoryStore } from '../../src/store/memory.ts';
import { RedisStore } from '../../src/store/redis.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import type { StateStore } from '../../src/store/types.ts';
import { describeConversationStoreContract } from './conversationContract.ts';
import { describeDashboardStoreContract } from './dashboardContract.ts';
import type { StoreHarness } from './contract.ts';
import { describeGatewayStoreContract } from './gatewayContract.ts';
import { describePoolStateStoreContract } from './poolStateContract.ts';
import { useRedisServer } from './redisServer.ts';

/** A whole store, as `createStore` hands it out, and what the harness opened besides. */
type Opened = Omit<StoreHarness<StateStore>, 'close'> & { cleanup?(): Promise<void> };

/** The three contracts for one kind of store. */
function describeStore(name: string, open: () => Promise<Opened>, options: { sameData: boolean }): void {
  const make = async (): Promise<StoreHarness<StateStore>> => {
    const o = await open();
    return {
      ...o,
      async close() {
        await o.store.close();
        await o.cleanup?.();
      },
    };
  };
  describePoolStateStoreContract(name, make);
  describeConversationStoreContract(name, make);
  describeGatewayStoreContract(name, make, options);
  describeDashboardStoreContract(name, make, options);
}

describeStore('memory', async () => ({ store: new MemoryStore() }), { sameData: false });

describeStore('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpool-store-'));
  const store = new SqliteStore(join(dir, 'nested', 'data'));
  const sameData = new SqliteStore(join(dir, 'nested', 'data'));
  return {
    store,
    sameData,
    async rawDump() {
      store.db.pragma('wal_checkpoint(TRUNCATE)');
      return readFileSync(store.file).toString('latin1');
    },
    async cleanup() {
      await sameData.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}, { sameData: true });

// Scoped, so a missing redis-server fails the Redis tests only (with startRedis's message).
describe('redis (real redis-server)', () => {
  const redis = useRedisServer();
  let n = 0;

  describeStore('redis', async () => {
    const server = redis.server();
    const admin = redis.admin();
    const prefix = `t${process.pid}-${++n}:`;
    const store = await RedisStore.connect(server.url, { prefix, logger: pino({ level: 'silent' }) });
    const peer = await RedisStore.connect(server.url, { prefix, logger: pino({ level: 'silent' }) });
    return {
      store,
      peer,
      sameData: peer,
      async cleanup() {
        await peer.close();
      },
      async rawDump() {
        const keys = await admin.keys('*');
        const parts: string[] = [];
        for (const k of keys) {
          parts.push(k);
          const type = await admin.type(k);
          if (type === 'string') parts.push((await admin.get(k)) ?? '');
          else if (type === 'hash') parts.push(JSON.stringify(await admin.hgetall(k)));
          else if (type === 'set') parts.push(...(await admin.smembers(k)));
        }
        return parts.join('\n');
      },
    };
  }, { sameData: true });
});
