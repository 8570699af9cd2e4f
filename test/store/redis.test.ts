/**
 * RedisStore beyond the contract, against a real redis-server: the key layout, changes
 * shared between processes, Redis down at start, and Redis lost and back while running.
 */
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createStore } from '../../src/store/index.ts';
import { isStoreRejectedError, isStoreUnavailableError } from '../../src/store/errors.ts';
import { RedisStore, redactRedisUrl } from '../../src/store/redis.ts';
import type { KeyStateChange, UsageReport } from '../../src/store/types.ts';
import { waitFor } from './contract.ts';
import { startRedis, type RedisServer } from '../../fakes/redisServer.ts';
import { useRedisServer } from './redisServer.ts';

const silent = pino({ level: 'silent' });

function captureLogger(): { logger: Logger; lines: Array<{ level: number; msg: string; [k: string]: unknown }> } {
  const lines: Array<{ level: number; msg: string }> = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l) as { level: number; msg: string });
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

async function unusedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 1));
    });
  });
}

const toClose: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(toClose.splice(0).map((s) => s.close()));
});

describe('RedisStore on a shared server', () => {
  const redis = useRedisServer();
  let n = 0;
  const open = async (prefix: string, logger: Logger = silent) => {
    const s = await RedisStore.connect(redis.server().url, { prefix, logger });
    toClose.push(s);
    return s;
  };

  it('delivers usage reports to the other processes, not to the sender', async () => {
    const prefix = `usage${++n}:`;
    const a = await open(prefix);
    const b = await open(prefix);
    const seenA: UsageReport[][] = [];
    const seenB: UsageReport[][] = [];
    a.subscribeUsage((r) => seenA.push(r));
    b.subscribeUsage((r) => seenB.push(r));
    const reports: UsageReport[] = [{ group: 'project:p', model: 'gemini-2.5-flash', requests: 3, tokens: 120 }];
    await a.publishUsage(reports);
    expect(await waitFor(() => seenB.length === 1, 1_000)).toBe(true);
    expect(seenB[0]).toEqual(reports);
    // Messages arrive in the order they were published: once B's later report reaches A,
    // A's own would have arrived before it.
    const fromB: UsageReport[] = [{ group: 'project:p', model: 'gemini-2.5-flash', requests: 1, tokens: 5 }];
    await b.publishUsage(fromB);
    expect(await waitFor(() => seenA.length > 0, 1_000)).toBe(true);
    expect(seenA).toEqual([fromB]);
    expect(seenB).toHaveLength(1);
  });

  it('delivers a key-state change made in one process to the others, not to itself', async () => {
    const prefix = `share${++n}:`;
    const a = await open(prefix);
    const b = await open(prefix);
    const other = await open(`elsewhere${n}:`);
    const seenA: KeyStateChange[] = [];
    const seenB: KeyStateChange[] = [];
    const seenOther: KeyStateChange[] = [];
    a.subscribe((c) => seenA.push(c));
    const offB = b.subscribe((c) => seenB.push(c));
    other.subscribe((c) => seenOther.push(c));

    const state = { status: 'cooling' as const, until: Date.now() + 60_000, reason: 'PerMinute', kind: 'rate_limited' as const };
    await a.setKeyState('hashA', 'gemini-2.5-flash', state);
    expect(await waitFor(() => seenB.length === 1, 1_000)).toBe(true);
    expect(seenB[0]).toEqual({ keyHash: 'hashA', model: 'gemini-2.5-flash', state });

    await a.setKeyState('hashA', 'gemini-2.5-flash', null);
    expect(await waitFor(() => seenB.length === 2, 1_000)).toBe(true);
    expect(seenB[1]).toEqual({ keyHash: 'hashA', model: 'gemini-2.5-flash', state: null });

    // B sees the state itself too, not only the message.
    await a.setKeyState('hashA', '*', { status: 'disabled', since: 1, reason: 'API_KEY_INVALID', kind: 'auth' });
    expect((await b.loadKeyStates(['hashA'], Date.now())).get('hashA')?.get('*')?.status).toBe('disabled');

    offB();
    await b.setKeyState('hashB', '*', null);
    expect(await waitFor(() => seenA.length === 1, 1_000)).toBe(true);
    expect(seenA[0]).toEqual({ keyHash: 'hashB', model: '*', state: null });
    // Barriers instead of waiting a while: a change published after the ones above, on each
    // channel, arrives after them; by then anything wrongly delivered would be here too.
    const seenB2: KeyStateChange[] = [];
    b.subscribe((c) => seenB2.push(c));
    await a.setKeyState('marker', '*', null);
    expect(await waitFor(() => seenB2.length === 1, 1_000)).toBe(true);
    expect(seenB).toHaveLength(3);
    const marker = { from: 'test', keyHash: 'marker', model: '*', state: null };
    await redis.admin().publish(`elsewhere${n}:keystate`, JSON.stringify(marker));
    expect(await waitFor(() => seenOther.length === 1, 1_000)).toBe(true);
    expect(seenOther).toEqual([{ keyHash: 'marker', model: '*', state: null }]);
  });

  it('uses the documented layout: TTL on cooldowns, none on disabled states, expiring day hashes', async () => {
    const prefix = `layout${++n}:`;
    const s = await open(prefix);
    const t0 = Date.now();
    await s.setKeyState('h', 'm', { status: 'cooling', until: t0 + 30_000, reason: 'r', kind: 'rate_limited' });
    await s.setKeyState('h', '*', { status: 'disabled', since: 1, reason: 'r', kind: 'auth' });
    await s.addCounters([{ keyHash: 'h', model: 'm', day: '2026-11-22', requests: 1, tokens: 2, usage: 3, errors: 0, latencyMs: 4 }]);
    await s.saveConversation('c', { model: 'm', history: [], updatedAt: 1 });
    await s.setMeta('x', 'y');

    const pttl = await redis.admin().pttl(`${prefix}state:h:m`);
    // The TTL ends at `until`, whatever time passed between writing and reading it.
    const elapsedMs = Date.now() - t0;
    expect(pttl).toBeGreaterThanOrEqual(30_000 - elapsedMs - 1);
    expect(pttl).toBeLessThanOrEqual(30_000);
    expect(await redis.admin().pttl(`${prefix}state:h:*`)).toBe(-1);
    expect((await redis.admin().smembers(`${prefix}states:h`)).sort()).toEqual(['*', 'm']);
    expect(await redis.admin().hgetall(`${prefix}ctr:h`)).toEqual({ 'usage:m': '3', 'errors:m': '0', 'latencyMs:m': '4' });
    expect(await redis.admin().hgetall(`${prefix}day:2026-11-22:h`)).toEqual({ 'requests:m': '1', 'tokens:m': '2' });
    const dayTtl = await redis.admin().ttl(`${prefix}day:2026-11-22:h`);
    expect(dayTtl).toBeGreaterThanOrEqual(172_800 - Math.ceil((Date.now() - t0) / 1000) - 1);
    expect(dayTtl).toBeLessThanOrEqual(172_800);
    expect(JSON.parse((await redis.admin().get(`${prefix}conv:c`))!)).toEqual({ model: 'm', history: [], updatedAt: 1 });
    expect(await redis.admin().get(`${prefix}meta:x`)).toBe('y');
    expect((await redis.admin().keys(`${prefix}*`)).every((k) => k.startsWith(prefix))).toBe(true);

    // A cooldown already over is simply not stored.
    await s.setKeyState('h', 'old', { status: 'cooling', until: Date.now() - 1, reason: 'r', kind: 'rate_limited' });
    expect(await redis.admin().exists(`${prefix}state:h:old`)).toBe(0);
  });

  it('drops the index entry of a cooldown that ran out in Redis', async () => {
    const prefix = `ttl${++n}:`;
    const s = await open(prefix);
    await s.setKeyState('h', 'm', { status: 'cooling', until: Date.now() + 60, reason: 'r', kind: 'rate_limited' });
    expect(await waitFor(async () => (await redis.admin().exists(`${prefix}state:h:m`)) === 0, 2_000)).toBe(true);
    expect((await s.loadKeyStates(['h'], 0)).size).toBe(0);
    expect(await redis.admin().smembers(`${prefix}states:h`)).toEqual([]);
  });

  it('refuses counters that are not counts before writing anything, and stays up', async () => {
    const prefix = `bad${++n}:`;
    const { logger, lines } = captureLogger();
    const s = await open(prefix, logger);
    const err = await s
      .addCounters([
        { keyHash: 'h', model: 'm', day: '2026-11-22', requests: 1, tokens: 1, usage: 1, errors: 0, latencyMs: 1 },
        // A token count that arrived from upstream as a string.
        { keyHash: 'h', model: 'm', day: '2026-11-22', requests: 1, tokens: '8' as unknown as number, usage: 1, errors: 0, latencyMs: 1 },
      ])
      .then(() => undefined, (e: unknown) => e);
    expect(isStoreRejectedError(err)).toBe(true);
    expect(isStoreUnavailableError(err)).toBe(false);
    expect((err as Error).message).toMatch(/tokens must be a non-negative integer \(got string "8"\)/);
    expect(await redis.admin().keys(`${prefix}*`)).toEqual([]);
    // Refusing is not being down: no outage line, and the next good batch is written.
    await s.addCounters([{ keyHash: 'h', model: 'm', day: '2026-11-22', requests: 1, tokens: 8, usage: 1, errors: 0, latencyMs: 1 }]);
    expect(await redis.admin().hgetall(`${prefix}day:2026-11-22:h`)).toEqual({ 'requests:m': '1', 'tokens:m': '8' });
    expect(lines.filter((l) => l.level >= 40)).toEqual([]);
  });

  it('is what createStore opens for STORE=redis, and needs REDIS_URL', async () => {
    const base = { dataDir: '/nonexistent', flushIntervalMs: 1000, shardCount: 'auto' as const, shardIds: undefined };
    const s = await createStore({ ...base, kind: 'redis', redisUrl: redis.server().url }, silent);
    toClose.push(s);
    expect(s.kind).toBe('redis');
    await s.setMeta('opened', 'yes');
    expect(await s.getMeta('opened')).toBe('yes');
    await expect(createStore({ ...base, kind: 'redis', redisUrl: undefined })).rejects.toThrow(/REDIS_URL/);
  });
});

describe('RedisStore when Redis is unreachable at start', () => {
  it('rejects within ~3 s naming REDIS_URL, without the password', async () => {
    const port = await unusedPort();
    const err = await RedisStore.connect(`redis://:hunter2secret@127.0.0.1:${port}`, { logger: silent }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toMatch(new RegExp(`^cannot reach Redis at REDIS_URL=redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
    expect(err!.message).not.toContain('hunter2secret');
  });

  it('gives up after the connect timeout on a server that never answers', async () => {
    // A TCP server that accepts and stays silent: the connection opens, Redis never replies.
    const sockets: Array<import('node:net').Socket> = [];
    const mute = createServer((sock) => sockets.push(sock));
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
    const addr = mute.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    const err = await RedisStore.connect(`redis://127.0.0.1:${port}`, { logger: silent, connectTimeoutMs: 500 }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/^cannot reach Redis at REDIS_URL=redis:\/\/127\.0\.0\.1:\d+/);
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => mute.close(() => r()));
  });

  it('redacts passwords in URLs', () => {
    expect(redactRedisUrl('redis://user:pa55@host:6379/2')).toBe('redis://user:***@host:6379/2');
    expect(redactRedisUrl('rediss://host:6380')).toBe('rediss://host:6380');
    expect(redactRedisUrl('not a url//u:p@x')).not.toContain(':p@');
  });
});

describe('RedisStore when Redis is lost while running', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('fails fast, logs once, reconnects, and tells onReconnect listeners', async () => {
    const { logger, lines } = captureLogger();
    const a = await RedisStore.connect(server.url, { prefix: 'outage:', logger });
    const b = await RedisStore.connect(server.url, { prefix: 'outage:', logger: silent });
    toClose.push(a, b);
    let reconnects = 0;
    let bReconnects = 0;
    a.onReconnect(() => reconnects++);
    b.onReconnect(() => bReconnects++);
    await a.setMeta('before', '1');

    server.kill();
    // Until both connections have seen the server go, a command may still be sent and fail
    // as a lost connection; after that, every command is refused at once.
    const refused = async () => isStoreUnavailableError(await a.getMeta('before').then(() => undefined, (e: unknown) => e));
    expect(await waitFor(refused, 5_000)).toBe(true);
    expect(lines.filter((l) => /Redis is unreachable/.test(l.msg))).toHaveLength(1);

    // Every operation rejects at once instead of queueing.
    const ops: Array<() => Promise<unknown>> = [
      () => a.getMeta('before'),
      () => a.setKeyState('h', '*', null),
      () => a.addCounters([{ keyHash: 'h', model: 'm', day: '2026-11-22', requests: 1, tokens: 1, usage: 1, errors: 0, latencyMs: 1 }]),
      () => a.loadKeyStates(['h'], Date.now()),
      () => a.loadCounters(['h'], '2026-11-22'),
      () => a.saveConversation('c', { model: 'm', history: [], updatedAt: 1 }),
    ];
    for (const op of ops) {
      const err = await op().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isStoreUnavailableError(err)).toBe(true);
      expect((err as Error).message).toMatch(/REDIS_URL=redis:\/\/127\.0\.0\.1:\d+/);
    }

    // Several reconnect attempts fail meanwhile, against a port that accepts and hangs up;
    // still one line.
    let attempts = 0;
    const hangUp = createServer((sock) => {
      attempts++;
      sock.destroy();
    });
    await new Promise<void>((r) => hangUp.listen(server.port, '127.0.0.1', r));
    const enough = await waitFor(() => attempts >= 3, 10_000);
    await new Promise<void>((r) => hangUp.close(() => r()));
    expect(enough).toBe(true);
    expect(isStoreUnavailableError(await a.getMeta('before').catch((e: unknown) => e))).toBe(true);
    const warn = lines.filter((l) => l.level === 40);
    expect(warn).toHaveLength(1);
    expect(warn[0]!.msg).toMatch(/Redis is unreachable/);

    await server.restart();
    expect(await waitFor(() => reconnects === 1, 5_000)).toBe(true);
    expect(lines.filter((l) => l.level === 30 && /Redis is back/.test(l.msg))).toHaveLength(1);
    expect(lines.filter((l) => l.level === 40)).toHaveLength(1);

    // Work again, including the channel between the two processes.
    await a.setMeta('after', '2');
    expect(await a.getMeta('after')).toBe('2');
    expect(await waitFor(() => bReconnects === 1, 5_000)).toBe(true);
    const seen: KeyStateChange[] = [];
    b.subscribe((c) => seen.push(c));
    await a.setKeyState('h', '*', { status: 'disabled', since: 1, reason: 'r', kind: 'auth' });
    expect(await waitFor(() => seen.length === 1, 1_000)).toBe(true);
  });
});
