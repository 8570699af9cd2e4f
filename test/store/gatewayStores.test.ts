/**
 * The gateway's side of SQLite and Redis beyond the contract: the migration that adds it
 * to an existing database, Redis's key layout, a bounded prune of a big log, and Redis
 * away.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { isStoreUnavailableError } from '../../src/store/errors.ts';
import type { RequestLogRow } from '../../src/store/gatewayTypes.ts';
import { RedisStore } from '../../src/store/redis.ts';
import { MIGRATIONS, SCHEMA_VERSION, SqliteStore } from '../../src/store/sqlite.ts';
import { waitFor } from './contract.ts';
import { useRedisServer } from './redisServer.ts';
import { startRedis } from '../../fakes/redisServer.ts';

const silent = pino({ level: 'silent' });
const hash = createHash('sha256').update('x').digest('hex');
const row = (at: number): RequestLogRow => ({
  at, token: 'app', route: '/v1/models', model: 'm', status: 200, attempts: 1, latencyMs: 1, tokensIn: 0, tokensOut: 0, streamed: false,
});

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('SqliteStore: the gateway tables', () => {
  it('migration 2 adds them to a version-1 database and keeps what it held', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpool-gw-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const old = new SqliteStore(dir, { migrations: MIGRATIONS.slice(0, 1) });
    await old.setMeta('kept', 'yes');
    // A version-1 file has no gateway tables: the store still opens (statements wait for first use).
    expect(old.db.prepare("SELECT name FROM sqlite_master WHERE name = 'gateway_tokens'").get()).toBeUndefined();
    await old.close();

    const store = new SqliteStore(dir);
    expect(SCHEMA_VERSION).toBeGreaterThanOrEqual(2);
    expect(store.schemaVersion()).toBe(SCHEMA_VERSION);
    expect(await store.getMeta('kept')).toBe('yes');
    await store.createToken({ name: 'app', hash, prefix: 'gp-AbCd', limits: { rpm: 1 }, createdAt: 1 });
    await store.appendRequestLog([row(5)]);
    await store.close();
    const again = new SqliteStore(dir);
    expect((await again.tokenByHash(hash))?.name).toBe('app');
    expect(await again.queryRequestLog({})).toEqual([row(5)]);
    // Only the hash is in the file: the table has no column for a token.
    const cols = again.db.prepare("SELECT name FROM pragma_table_info('gateway_tokens')").pluck().all();
    expect(cols).toEqual(['name', 'hash', 'prefix', 'models', 'limits', 'created_at', 'expires_at', 'revoked_at']);
    await again.close();
  });
});

describe('RedisStore: the gateway keys', () => {
  const redis = useRedisServer();
  let n = 0;
  const open = async (prefix: string) => {
    const s = await RedisStore.connect(redis.server().url, { prefix, logger: silent });
    cleanups.push(() => s.close());
    return s;
  };

  it('uses the documented layout, with expiring day usage, all under the prefix', async () => {
    const prefix = `gwlayout${++n}:`;
    const s = await open(prefix);
    const admin = redis.admin();
    await s.createToken({ name: 'app', hash, prefix: 'gp-AbCd', models: ['m'], limits: { rpd: 5 }, createdAt: 7 });
    await s.addClientUsage('app', '2026-11-22', { requests: 1, tokens: 2, errors: 0 });
    await s.appendRequestLog([row(1), row(1)]);
    expect(await admin.hgetall(`${prefix}gw:token:app`)).toEqual({
      name: 'app', hash, prefix: 'gp-AbCd', models: '["m"]', limits: '{"rpd":5}', createdAt: '7',
    });
    expect(await admin.zrange(`${prefix}gw:tokens`, 0, -1, 'WITHSCORES')).toEqual(['app', '7']);
    expect(await admin.hgetall(`${prefix}gw:tokenhash`)).toEqual({ [hash]: 'app' });
    expect(await admin.hgetall(`${prefix}gw:total:app`)).toEqual({ requests: '1', tokens: '2', errors: '0' });
    expect(await admin.hgetall(`${prefix}gw:day:2026-11-22:app`)).toEqual({ requests: '1', tokens: '2', errors: '0' });
    const ttl = await admin.ttl(`${prefix}gw:day:2026-11-22:app`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(172_800);
    expect(await admin.zrange(`${prefix}gw:log`, 0, -1)).toEqual(['0000000000000001', '0000000000000002']);
    expect(await admin.hlen(`${prefix}gw:logrows`)).toBe(2);
    expect((await admin.keys(`*gw:*`)).filter((k) => !k.startsWith(prefix) && k.startsWith('gwlayout'))).toEqual([]);
  });

  it('prunes a log bigger than one step in several bounded steps, leaving no orphan row', async () => {
    const prefix = `gwbig${++n}:`;
    const s = await open(prefix);
    const rows = Array.from({ length: 12_000 }, (_, i) => row(i));
    for (let i = 0; i < rows.length; i += 3_000) await s.appendRequestLog(rows.slice(i, i + 3_000));
    expect(await s.pruneRequestLog(0, 100)).toBe(11_900);
    expect(await redis.admin().zcard(`${prefix}gw:log`)).toBe(100);
    expect(await redis.admin().hlen(`${prefix}gw:logrows`)).toBe(100);
    expect((await s.queryRequestLog({ limit: 1_000 })).map((r) => r.at)).toEqual(Array.from({ length: 100 }, (_, i) => 11_999 - i));
  });

  it('a query that filters pages through the whole log', async () => {
    const s = await open(`gwpage${++n}:`);
    const rows = Array.from({ length: 2_500 }, (_, i) => ({ ...row(i), status: i % 1_000 === 0 ? 429 : 200 }));
    await s.appendRequestLog(rows);
    expect((await s.queryRequestLog({ status: 429 })).map((r) => r.at)).toEqual([2_000, 1_000, 0]);
  });

  it('rejects at once with StoreUnavailableError while Redis is away, and works again when it is back', async () => {
    // A server of its own: the shared one's admin connection must not see it go.
    const server = await startRedis();
    cleanups.push(() => server.stop());
    const s = await RedisStore.connect(server.url, { logger: silent });
    cleanups.push(() => s.close());
    server.kill();
    try {
      expect(await waitFor(async () => isStoreUnavailableError(await s.tokenByHash(hash).then(() => undefined, (e: unknown) => e)), 5_000)).toBe(true);
      expect(isStoreUnavailableError(await s.appendRequestLog([row(1)]).then(() => undefined, (e: unknown) => e))).toBe(true);
    } finally {
      await server.restart();
    }
    expect(await waitFor(async () => (await s.tokenByHash(hash).then(() => 'ok', () => 'down')) === 'ok', 10_000)).toBe(true);
    await s.appendRequestLog([row(1)]);
    expect(await s.queryRequestLog({})).toEqual([row(1)]);
  });
});
