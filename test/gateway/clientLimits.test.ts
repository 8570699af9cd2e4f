/**
 * Per-client limits: the pure decision with an injected time, ClientLimits over a store
 * (reservations, day counts from the store, a new day, the store away), and two processes
 * on one SQLite file sharing the day's counts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ClientLimits, decideAdmission } from '../../src/gateway/clientLimits.ts';
import { pacificDay } from '../../src/pool/time.ts';
import { StoreRejectedError, StoreUnavailableError } from '../../src/store/errors.ts';
import type { GatewayStore } from '../../src/store/gatewayTypes.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { captureLogger } from '../helpers.ts';

/** 10:00 in Los Angeles on 2026-11-22 (PST, UTC-8): 14 h to the next Pacific midnight. */
const T = Date.UTC(2026, 10, 22, 18, 0, 0);
const H = 3_600_000;

describe('decideAdmission', () => {
  const none = { minute: [], dayRequests: 0, dayTokens: 0 };

  it('admits under every limit, and without limits', () => {
    expect(decideAdmission(none, {}, T)).toEqual({ ok: true });
    expect(decideAdmission({ minute: [T - 1], dayRequests: 9, dayTokens: 99 }, { rpm: 2, rpd: 10, tpd: 100 }, T)).toEqual({ ok: true });
    expect(decideAdmission({ minute: [T - 1], dayRequests: 1_000, dayTokens: 1_000 }, {}, T)).toEqual({ ok: true });
  });

  it('rpm: waits until the request that must leave the sliding minute has left it', () => {
    expect(decideAdmission({ ...none, minute: [T - 59_000, T - 1_000] }, { rpm: 2 }, T)).toEqual({ ok: false, limit: 'rpm', retryAfterMs: 1_000 });
    // Five in the window, three allowed: the third oldest must go.
    const five = [T - 50_000, T - 40_000, T - 30_000, T - 20_000, T - 10_000];
    expect(decideAdmission({ ...none, minute: five }, { rpm: 3 }, T)).toEqual({ ok: false, limit: 'rpm', retryAfterMs: 30_000 });
    // Requests older than a minute do not count.
    expect(decideAdmission({ ...none, minute: [T - 60_000, T - 70_000] }, { rpm: 1 }, T)).toEqual({ ok: true });
    expect(decideAdmission({ ...none, minute: [T - 59_999] }, { rpm: 1 }, T)).toEqual({ ok: false, limit: 'rpm', retryAfterMs: 1 });
  });

  it('rpd and tpd: wait until the next midnight in Los Angeles', () => {
    expect(decideAdmission({ ...none, dayRequests: 10 }, { rpd: 10 }, T)).toEqual({ ok: false, limit: 'rpd', retryAfterMs: 14 * H });
    expect(decideAdmission({ ...none, dayTokens: 5_000 }, { tpd: 1_000 }, T)).toEqual({ ok: false, limit: 'tpd', retryAfterMs: 14 * H });
    // 2026-11-01 is 25 hours long in Los Angeles (daylight saving ends): from 00:30 PDT, 24.5 h.
    const dstEnd = Date.UTC(2026, 10, 1, 7, 30, 0);
    expect(decideAdmission({ ...none, dayRequests: 1 }, { rpd: 1 }, dstEnd)).toEqual({ ok: false, limit: 'rpd', retryAfterMs: 24.5 * H });
  });

  it('names the limit that frees last when several are reached', () => {
    const both = { minute: [T - 1_000], dayRequests: 5, dayTokens: 0 };
    expect(decideAdmission(both, { rpm: 1, rpd: 5 }, T)).toEqual({ ok: false, limit: 'rpd', retryAfterMs: 14 * H });
    expect(decideAdmission(both, { rpm: 1, rpd: 6 }, T)).toEqual({ ok: false, limit: 'rpm', retryAfterMs: 59_000 });
  });
});

/** A memory store whose client-usage calls can be made to fail, and are counted. */
function flakyStore() {
  const inner = new MemoryStore();
  const calls = { reads: 0, writes: 0 };
  let failing: 'no' | 'unavailable' | 'rejected' = 'no';
  const store: GatewayStore = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'clientUsage' || prop === 'addClientUsage') {
        return async (...args: unknown[]) => {
          if (prop === 'clientUsage') calls.reads++;
          else calls.writes++;
          if (failing === 'unavailable') throw new StoreUnavailableError('Redis at REDIS_URL=redis://127.0.0.1:1 is unavailable');
          if (failing === 'rejected' && prop === 'addClientUsage') throw new StoreRejectedError('usage refused');
          return (target[prop] as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { inner, store, calls, fail: (how: typeof failing) => (failing = how) };
}

const opened: ClientLimits[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((l) => l.close()));
});
const limitsOver = (store: GatewayStore, options: ConstructorParameters<typeof ClientLimits>[1] = {}) => {
  const l = new ClientLimits(store, { flushIntervalMs: 0, ...options });
  opened.push(l);
  return l;
};

describe('ClientLimits', () => {
  it('rpm: a sliding minute per client', async () => {
    const limits = limitsOver(new MemoryStore());
    for (const dt of [0, 10, 20]) expect(await limits.admit('a', { rpm: 3 }, T + dt)).toEqual({ ok: true });
    expect(await limits.admit('a', { rpm: 3 }, T + 30)).toEqual({ ok: false, limit: 'rpm', retryAfterMs: 59_970 });
    expect((await limits.admit('b', { rpm: 3 }, T + 30)).ok).toBe(true);
    expect((await limits.admit('a', { rpm: 3 }, T + 59_999)).ok).toBe(false);
    expect((await limits.admit('a', { rpm: 3 }, T + 60_000)).ok).toBe(true);
  });

  it('a burst of requests at once: exactly as many pass as the limit allows', async () => {
    const limits = limitsOver(new MemoryStore());
    const results = await Promise.all(Array.from({ length: 8 }, () => limits.admit('a', { rpd: 3 }, T)));
    expect(results.filter((r) => r.ok)).toHaveLength(3);
    expect(results.filter((r) => !r.ok)[0]).toEqual({ ok: false, limit: 'rpd', retryAfterMs: 14 * H });
  });

  it('day counts come from the store, read at most once per refreshMs, plus what this process added since', async () => {
    const f = flakyStore();
    await f.inner.addClientUsage('a', '2026-11-22', { requests: 8, tokens: 0, errors: 0 });
    const limits = limitsOver(f.store);
    expect((await limits.admit('a', { rpd: 10 }, T)).ok).toBe(true);
    limits.record('a', { requests: 1, tokens: 5, errors: 0 }, T);
    expect((await limits.admit('a', { rpd: 10 }, T + 10)).ok).toBe(true);
    expect(await limits.admit('a', { rpd: 10 }, T + 20)).toEqual({ ok: false, limit: 'rpd', retryAfterMs: 14 * H - 20 });
    expect(f.calls.reads).toBe(1);
    // After a flush and a new read, the store holds this process's request: counted once.
    await limits.flush();
    expect((await f.inner.clientUsage('a', '2026-11-22')).day).toEqual({ requests: 9, tokens: 5, errors: 0 });
    expect((await limits.admit('a', { rpd: 10 }, T + 1_000)).ok).toBe(false);
    expect(f.calls.reads).toBe(2);
    expect((await limits.admit('a', { rpd: 11 }, T + 1_001)).ok).toBe(true);
  });

  it('tpd: tokens recorded count at once and reach the store, per day and in total', async () => {
    const store = new MemoryStore();
    const limits = limitsOver(store);
    expect((await limits.admit('a', { tpd: 100 }, T)).ok).toBe(true);
    limits.record('a', { requests: 1, tokens: 100, errors: 1 }, T);
    expect(await limits.admit('a', { tpd: 100 }, T + 1)).toEqual({ ok: false, limit: 'tpd', retryAfterMs: 14 * H - 1 });
    await limits.close();
    expect(await store.clientUsage('a', '2026-11-22')).toEqual({ day: { requests: 1, tokens: 100, errors: 1 }, total: { requests: 1, tokens: 100, errors: 1 } });
  });

  it('a new Pacific day starts from zero', async () => {
    const store = new MemoryStore();
    const limits = limitsOver(store);
    expect((await limits.admit('a', { rpd: 1 }, T)).ok).toBe(true);
    limits.record('a', { requests: 1, tokens: 1, errors: 0 }, T);
    const wait = await limits.admit('a', { rpd: 1 }, T + 1);
    expect(wait.ok).toBe(false);
    const midnight = T + 1 + (wait.ok ? 0 : wait.retryAfterMs);
    expect((await limits.admit('a', { rpd: 1 }, midnight - 1)).ok).toBe(false);
    expect((await limits.admit('a', { rpd: 1 }, midnight)).ok).toBe(true);
    limits.record('a', { requests: 1, tokens: 1, errors: 0 }, midnight);
    await limits.flush();
    expect((await store.clientUsage('a', '2026-11-23')).day.requests).toBe(1);
    expect((await store.clientUsage('a', '2026-11-22')).total.requests).toBe(2);
  });

  it('a reservation never recorded stops counting after reservationMs', async () => {
    const limits = limitsOver(new MemoryStore(), { reservationMs: 5_000 });
    expect((await limits.admit('a', { rpd: 1 }, T)).ok).toBe(true);
    expect((await limits.admit('a', { rpd: 1 }, T + 4_999)).ok).toBe(false);
    expect((await limits.admit('a', { rpd: 1 }, T + 5_000)).ok).toBe(true);
  });

  it('while the store is away: counts in this process, keeps the usage, writes it when it is back; logs once', async () => {
    const f = flakyStore();
    const { logger, lines } = captureLogger();
    const limits = limitsOver(f.store, { logger });
    f.fail('unavailable');
    expect((await limits.admit('a', { rpd: 2 }, T)).ok).toBe(true);
    limits.record('a', { requests: 1, tokens: 3, errors: 0 }, T);
    await limits.flush();
    expect((await limits.admit('a', { rpd: 2 }, T + 2_000)).ok).toBe(true);
    limits.record('a', { requests: 1, tokens: 3, errors: 0 }, T + 2_000);
    await limits.flush();
    expect((await limits.admit('a', { rpd: 2 }, T + 4_000)).ok).toBe(false);
    const warnings = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level === 40);
    expect(warnings.map((w) => w.msg)).toEqual(['client usage: the store cannot be reached; counting in this process']);
    f.fail('no');
    await limits.flush();
    expect((await f.inner.clientUsage('a', '2026-11-22')).day).toEqual({ requests: 2, tokens: 6, errors: 0 });
    // Counted once: the store's 2 and nothing of this process's on top.
    expect((await limits.admit('a', { rpd: 3 }, T + 6_000)).ok).toBe(true);
    expect((await limits.admit('a', { rpd: 3 }, T + 6_001)).ok).toBe(false);
  });

  it('usage the store refuses is dropped with one error line, not retried', async () => {
    const f = flakyStore();
    const { logger, lines } = captureLogger();
    const limits = limitsOver(f.store, { logger });
    f.fail('rejected');
    limits.record('a', { requests: 1, tokens: 1, errors: 0 }, T);
    await limits.flush();
    f.fail('no');
    await limits.flush();
    expect(f.calls.writes).toBe(1);
    expect(lines.filter((l) => l.includes('refused by the store'))).toHaveLength(1);
  });

  it('refuses usage that is not made of counts', () => {
    const limits = limitsOver(new MemoryStore());
    expect(() => limits.record('a', { requests: 1, tokens: -1, errors: 0 })).toThrow(/tokens must be a whole number >= 0/);
    expect(() => limits.record('a', { requests: 1, tokens: Number.NaN, errors: 0 })).toThrow(TypeError);
  });

  it('writes by itself every flushIntervalMs (timer), and on close', async () => {
    const store = new MemoryStore();
    const limits = limitsOver(store, { flushIntervalMs: 20 });
    limits.record('a', { requests: 1, tokens: 1, errors: 0 });
    const written = async () => (await store.clientUsage('a', pacificDay(Date.now()))).total.requests === 1;
    for (let i = 0; i < 250 && !(await written()); i++) await new Promise((r) => setTimeout(r, 20));
    expect(await written()).toBe(true);
    limits.record('a', { requests: 1, tokens: 1, errors: 0 });
    await limits.close();
    expect((await store.clientUsage('a', pacificDay(Date.now()))).total.requests).toBe(2);
  });
});

describe('ClientLimits: two processes on one SQLite file', () => {
  it('share the day counts: what one admitted and recorded, the other counts within a second', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpool-limits-'));
    const fileA = new SqliteStore(dir);
    const fileB = new SqliteStore(dir);
    try {
      const a = limitsOver(fileA);
      const b = limitsOver(fileB);
      const limits = { rpd: 5 };
      for (let i = 0; i < 3; i++) {
        expect((await a.admit('app', limits, T + i)).ok).toBe(true);
        a.record('app', { requests: 1, tokens: 10, errors: 0 }, T + i);
      }
      await a.flush();
      expect((await b.admit('app', limits, T + 10)).ok).toBe(true);
      expect((await b.admit('app', limits, T + 11)).ok).toBe(true);
      expect(await b.admit('app', limits, T + 12)).toEqual({ ok: false, limit: 'rpd', retryAfterMs: 14 * H - 12 });
      b.record('app', { requests: 2, tokens: 20, errors: 0 }, T + 13);
      await b.flush();
      // A read the store at T; a second later it reads again and counts B's requests too.
      expect((await a.admit('app', limits, T + 1_000)).ok).toBe(false);
      expect(await fileA.clientUsage('app', '2026-11-22')).toEqual({ day: { requests: 5, tokens: 50, errors: 0 }, total: { requests: 5, tokens: 50, errors: 0 } });
    } finally {
      await Promise.all(opened.splice(0).map((l) => l.close()));
      await fileA.close();
      await fileB.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
