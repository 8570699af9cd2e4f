/**
 * The vitest hooks around a real redis-server (fakes/redisServer.ts): one server per
 * describe block, with an admin connection to inspect it.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { startRedis, type RedisServer } from '../../fakes/redisServer.ts';

/**
 * For a describe block: a redis-server and an admin connection to inspect it, started
 * before its tests and stopped after them. Read them through the getters inside tests.
 */
export function useRedisServer(): { server(): RedisServer; admin(): Redis } {
  let server: RedisServer | undefined;
  let admin: Redis | undefined;
  beforeAll(async () => {
    server = await startRedis();
    admin = new Redis(server.url, { lazyConnect: true });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.quit();
    await server?.stop();
  });
  const started = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('redis-server did not start (see the beforeAll error)');
    return v;
  };
  return { server: () => started(server), admin: () => started(admin) };
}
