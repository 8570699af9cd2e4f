/**
 * TokenRegistry: tokens made, shown once, stored as a hash; authentication with a cache of
 * at most a second (as two processes on one store see it, Redis too); names, limits,
 * durations.
 */
import { createHash } from 'node:crypto';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { hashToken, parseDuration, TokenRegistry, validateTokenName } from '../../src/gateway/tokens.ts';
import { isStoreRejectedError } from '../../src/store/errors.ts';
import type { GatewayStore } from '../../src/store/gatewayTypes.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { RedisStore } from '../../src/store/redis.ts';
import { TestClock } from '../helpers.ts';
import { useRedisServer } from '../store/redisServer.ts';

/** A store that counts token lookups and can be made to fail them. */
function countingStore(): { store: GatewayStore; lookups: () => number; fail: (on: boolean) => void } {
  const inner = new MemoryStore();
  let lookups = 0;
  let failing = false;
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'tokenByHash') {
        return async (hash: string) => {
          lookups++;
          if (failing) throw new Error('store unreachable');
          return target.tokenByHash(hash);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { store, lookups: () => lookups, fail: (on) => (failing = on) };
}

/** Token-shaped text built at run time, so no file holds something that looks like a credential. */
const fakeToken = (c: string): string => `gp-${c.repeat(43)}`;

describe('TokenRegistry.create', () => {
  it('makes gp- and 32 random bytes in base64url; stores only its SHA-256 and first 7 characters', async () => {
    const store = new MemoryStore();
    const clock = new TestClock();
    const bytes = Buffer.alloc(32, 0xfb);
    const reg = new TokenRegistry(store, { now: clock.now, randomBytes: () => bytes });
    const { token, record } = await reg.create({ name: 'web-app', models: ['gemini-2.5-flash'], limits: { rpm: 10 }, expiresInMs: 60_000 });
    expect(token).toBe(`gp-${bytes.toString('base64url')}`);
    expect(token).toMatch(/^gp-[A-Za-z0-9_-]{43}$/);
    expect(record).toEqual({
      name: 'web-app',
      hash: createHash('sha256').update(token).digest('hex'),
      prefix: token.slice(0, 7),
      models: ['gemini-2.5-flash'],
      limits: { rpm: 10 },
      createdAt: clock.t,
      expiresAt: clock.t + 60_000,
    });
    const stored = JSON.stringify(await store.listTokens());
    expect(stored).not.toContain(token.slice(7));
    expect(await store.tokenByHash(hashToken(token))).toEqual(record);
  });

  it('uses real randomness by default: two tokens differ', async () => {
    const reg = new TokenRegistry(new MemoryStore());
    const a = await reg.create({ name: 'a' });
    const b = await reg.create({ name: 'b' });
    expect(a.token).not.toBe(b.token);
    expect(a.record).not.toHaveProperty('models');
    expect(a.record).not.toHaveProperty('expiresAt');
    expect(a.record.limits).toEqual({});
  });

  it('refuses a second token of a name with the store\'s StoreRejectedError, also after a revoke', async () => {
    const reg = new TokenRegistry(new MemoryStore());
    await reg.create({ name: 'app' });
    expect(isStoreRejectedError(await reg.create({ name: 'app' }).catch((e: unknown) => e))).toBe(true);
    await reg.revoke('app');
    expect(isStoreRejectedError(await reg.create({ name: 'app' }).catch((e: unknown) => e))).toBe(true);
  });

  it('refuses bad names, models, limits and expiry with a TypeError naming the problem', async () => {
    const reg = new TokenRegistry(new MemoryStore());
    const cases: Array<[Parameters<TokenRegistry['create']>[0], RegExp]> = [
      [{ name: '' }, /token name must be 1-64 characters of A-Z a-z 0-9 \. _ - \(got an empty name\)/],
      [{ name: 'a'.repeat(65) }, /1-64 characters .*\(got a 65-character value\)/],
      [{ name: 'my app' }, /\(got "my app"\)/],
      [{ name: 'a/b' }, /\(got "a\/b"\)/],
      [{ name: `AIza${'x1Y'.repeat(12)}` }, /looks like a key or a token/],
      [{ name: fakeToken('Q') }, /looks like a key or a token/],
      [{ name: 'ok', models: [] }, /models must be a non-empty list/],
      [{ name: 'ok', limits: { rpm: 0 } }, /rpm must be a whole number >= 1 \(got 0\)/],
      [{ name: 'ok', limits: { tpd: 1.5 } }, /tpd must be a whole number >= 1/],
      [{ name: 'ok', expiresInMs: -1 }, /expiresInMs must be a number of ms > 0/],
    ];
    for (const [input, message] of cases) {
      const err = await reg.create(input).catch((e: unknown) => e);
      expect(err, input.name).toBeInstanceOf(TypeError);
      expect((err as Error).message).toMatch(message);
    }
    expect(await reg.list()).toEqual([]);
    expect(validateTokenName('Web.App_2-x')).toBe('Web.App_2-x');
  });
});

describe('TokenRegistry.authenticate', () => {
  it('accepts the token; an unknown, malformed, revoked or expired one says which', async () => {
    const clock = new TestClock();
    const reg = new TokenRegistry(new MemoryStore(), { now: clock.now, cacheMs: 0 });
    const { token, record } = await reg.create({ name: 'app', expiresInMs: 10_000 });
    expect(await reg.authenticate(token)).toEqual({ ok: true, token: record });
    expect(await reg.authenticate(fakeToken('A'))).toEqual({ ok: false, reason: 'unknown' });
    expect(await reg.authenticate('')).toEqual({ ok: false, reason: 'unknown' });
    expect(await reg.authenticate(`${token}x`)).toEqual({ ok: false, reason: 'unknown' });
    expect(await reg.authenticate(token.slice(0, -1))).toEqual({ ok: false, reason: 'unknown' });
    clock.advance(9_999);
    expect((await reg.authenticate(token)).ok).toBe(true);
    clock.advance(1);
    expect(await reg.authenticate(token)).toEqual({ ok: false, reason: 'expired' });

    const other = await reg.create({ name: 'other' });
    expect(await reg.revoke('other')).toBe(true);
    expect(await reg.revoke('other')).toBe(false);
    expect(await reg.authenticate(other.token)).toEqual({ ok: false, reason: 'revoked' });
  });

  it('asks the store at most once a second per token, found or not; malformed tokens never', async () => {
    const clock = new TestClock();
    const s = countingStore();
    const reg = new TokenRegistry(s.store, { now: clock.now });
    const { token } = await reg.create({ name: 'app' });
    for (let i = 0; i < 5; i++) expect((await reg.authenticate(token)).ok).toBe(true);
    for (let i = 0; i < 5; i++) await reg.authenticate(fakeToken('B'));
    for (let i = 0; i < 5; i++) await reg.authenticate('not a token');
    expect(s.lookups()).toBe(2);
    clock.advance(999);
    await reg.authenticate(token);
    expect(s.lookups()).toBe(2);
    clock.advance(1);
    await reg.authenticate(token);
    await reg.authenticate(fakeToken('B'));
    expect(s.lookups()).toBe(4);
  });

  it('another process on the same store sees a new or a revoked token within a second', async () => {
    const clock = new TestClock();
    const store = new MemoryStore();
    const here = new TokenRegistry(store, { now: clock.now });
    const there = new TokenRegistry(store, { now: clock.now });
    const presented = fakeToken('C');
    // `there` looked the token up before it existed: the miss is cached, for a second at most.
    expect((await there.authenticate(presented)).ok).toBe(false);
    await store.createToken({ name: 'late', hash: hashToken(presented), prefix: presented.slice(0, 7), limits: {}, createdAt: clock.t });
    expect((await there.authenticate(presented)).ok).toBe(false);
    clock.advance(1_000);
    expect((await there.authenticate(presented)).ok).toBe(true);

    // Revoked here: here at once, there within a second.
    expect(await here.revoke('late')).toBe(true);
    expect(await here.authenticate(presented)).toEqual({ ok: false, reason: 'revoked' });
    expect((await there.authenticate(presented)).ok).toBe(true);
    clock.advance(1_000);
    expect(await there.authenticate(presented)).toEqual({ ok: false, reason: 'revoked' });
  });

  it('keeps the last answer while the store cannot be reached; throws for a token never looked up', async () => {
    const clock = new TestClock();
    const s = countingStore();
    const reg = new TokenRegistry(s.store, { now: clock.now });
    const { token } = await reg.create({ name: 'app' });
    expect((await reg.authenticate(token)).ok).toBe(true);
    s.fail(true);
    clock.advance(5_000);
    expect((await reg.authenticate(token)).ok).toBe(true);
    await expect(reg.authenticate(fakeToken('D'))).rejects.toThrow('store unreachable');
  });

  it('keeps at most maxCached lookups', async () => {
    const clock = new TestClock();
    const s = countingStore();
    const reg = new TokenRegistry(s.store, { now: clock.now, maxCached: 3 });
    for (const c of ['E', 'F', 'G', 'H']) await reg.authenticate(fakeToken(c));
    expect(s.lookups()).toBe(4);
    await reg.authenticate(fakeToken('H'));
    expect(s.lookups()).toBe(4);
    await reg.authenticate(fakeToken('E')); // pushed out by H
    expect(s.lookups()).toBe(5);
  });

  it('says unknown when the stored hash is not the presented token\'s', async () => {
    const inner = new MemoryStore();
    const presented = fakeToken('J');
    await inner.createToken({ name: 'x', hash: hashToken('something else'), prefix: 'gp-JJJJ', limits: {}, createdAt: 1 });
    const lying: GatewayStore = Object.assign(Object.create(inner) as MemoryStore, {
      tokenByHash: () => inner.tokenByName('x'),
    });
    expect(await new TokenRegistry(lying).authenticate(presented)).toEqual({ ok: false, reason: 'unknown' });
  });
});

describe('TokenRegistry: models, list, update', () => {
  it('allows every model without a list, else only the listed ones', async () => {
    const reg = new TokenRegistry(new MemoryStore());
    const all = (await reg.create({ name: 'all' })).record;
    const one = (await reg.create({ name: 'one', models: ['gemini-2.5-flash', 'gemini-2.5-flash'] })).record;
    expect(one.models).toEqual(['gemini-2.5-flash']);
    expect(reg.allows(all, 'gemini-2.5-pro')).toBe(true);
    expect(reg.allows(one, 'gemini-2.5-flash')).toBe(true);
    expect(reg.allows(one, 'gemini-2.5-pro')).toBe(false);
  });

  it('lists every token with status and usage today and in total, never a hash or a token', async () => {
    const clock = new TestClock(Date.UTC(2026, 10, 22, 18, 0, 0)); // 10:00 in Los Angeles, 2026-11-22
    const store = new MemoryStore();
    const reg = new TokenRegistry(store, { now: clock.now });
    const a = await reg.create({ name: 'a', limits: { rpd: 100 } });
    clock.advance(1);
    const b = await reg.create({ name: 'b', expiresInMs: 1 });
    clock.advance(1);
    const c = await reg.create({ name: 'c' });
    await reg.revoke('c');
    await store.addClientUsage('a', '2026-11-21', { requests: 5, tokens: 50, errors: 1 });
    await store.addClientUsage('a', '2026-11-22', { requests: 2, tokens: 20, errors: 0 });
    const list = await reg.list();
    expect(list.map((t) => [t.name, t.status])).toEqual([['a', 'active'], ['b', 'expired'], ['c', 'revoked']]);
    expect(list[0]).toEqual({
      name: 'a', prefix: a.record.prefix, limits: { rpd: 100 }, createdAt: a.record.createdAt, status: 'active',
      today: { requests: 2, tokens: 20, errors: 0 }, total: { requests: 7, tokens: 70, errors: 1 },
    });
    const text = JSON.stringify(list);
    for (const t of [a, b, c]) {
      expect(text).not.toContain(t.record.hash);
      expect(text).not.toContain(t.token.slice(7));
    }
  });

  it('updates: limits merge, null clears, an expiry counts from now; unknown names say false', async () => {
    const clock = new TestClock();
    const reg = new TokenRegistry(new MemoryStore(), { now: clock.now });
    const { token } = await reg.create({ name: 'app', models: ['m1'], limits: { rpm: 5, rpd: 50 } });
    clock.advance(10);
    expect(await reg.update('app', { limits: { rpd: null, tpd: 1_000 }, expiresInMs: 5_000 })).toBe(true);
    expect(await reg.authenticate(token)).toMatchObject({
      ok: true,
      token: { limits: { rpm: 5, tpd: 1_000 }, models: ['m1'], expiresAt: clock.t + 5_000 },
    });
    expect(await reg.update('app', { models: null, expiresInMs: null })).toBe(true);
    const r = await reg.authenticate(token);
    expect(r.ok && r.token).not.toHaveProperty('models');
    expect(r.ok && r.token).not.toHaveProperty('expiresAt');
    expect(await reg.update('nobody', { limits: { rpm: 1 } })).toBe(false);
    await expect(reg.update('app', { limits: { rpm: 0 } })).rejects.toThrow(/rpm must be a whole number >= 1/);
    await expect(reg.update('app', { models: [] })).rejects.toThrow(TypeError);
  });
});

describe('parseDuration', () => {
  it('reads s, m, h, d and w', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('90m')).toBe(5_400_000);
    expect(parseDuration('12h')).toBe(43_200_000);
    expect(parseDuration('30d')).toBe(2_592_000_000);
    expect(parseDuration('2w')).toBe(1_209_600_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
  });

  it('refuses anything else with the forms it takes', () => {
    for (const bad of ['', '30', 'd', '0d', '-1d', '30 days', '1y', 'soon']) {
      expect(() => parseDuration(bad), bad).toThrow(/a duration is a number and a unit s, m, h, d or w, such as 90m, 12h or 30d/);
    }
  });
});

describe('TokenRegistry on Redis: two processes', () => {
  const redis = useRedisServer();

  it('a token created in one process works in the other; revoked there, it stops here within a second', async () => {
    const clock = new TestClock();
    const prefix = `tokens${process.pid}:`;
    const a = await RedisStore.connect(redis.server().url, { prefix, logger: pino({ level: 'silent' }) });
    const b = await RedisStore.connect(redis.server().url, { prefix, logger: pino({ level: 'silent' }) });
    try {
      const here = new TokenRegistry(a, { now: clock.now });
      const there = new TokenRegistry(b, { now: clock.now });
      const { token, record } = await here.create({ name: 'shared', limits: { rpd: 10 } });
      expect(await there.authenticate(token)).toEqual({ ok: true, token: record });
      expect((await here.authenticate(token)).ok).toBe(true);
      expect(await there.revoke('shared')).toBe(true);
      // `here` looked it up a moment ago: that answer stands for at most a second.
      expect(await there.authenticate(token)).toEqual({ ok: false, reason: 'revoked' });
      expect((await here.authenticate(token)).ok).toBe(true);
      clock.advance(1_000);
      expect(await here.authenticate(token)).toEqual({ ok: false, reason: 'revoked' });
      expect(JSON.stringify(await redis.admin().hgetall(`${prefix}gw:token:shared`))).not.toContain(token.slice(7));
    } finally {
      await a.close();
      await b.close();
    }
  });
});
