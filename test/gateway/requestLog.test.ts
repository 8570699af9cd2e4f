/**
 * RequestLog: batching (every second and on close), bodies stripped unless asked for,
 * pruning at start and hourly, a bounded buffer while the store is away, timers that
 * stop on close.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RequestLog, type RequestLogOptions } from '../../src/gateway/requestLog.ts';
import { StoreRejectedError, StoreUnavailableError } from '../../src/store/errors.ts';
import type { GatewayStore, RequestLogRow } from '../../src/store/gatewayTypes.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { captureLogger } from '../helpers.ts';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 22, 18, 0, 0);

const row = (at: number, over: Partial<RequestLogRow> = {}): RequestLogRow => ({
  at, token: 'app', route: '/v1/chat/completions', model: 'gemini-2.5-flash', keyId: 'key#1', status: 200,
  attempts: 1, latencyMs: 5, tokensIn: 1, tokensOut: 2, streamed: false, ...over,
});

/** A memory store whose request-log writes can be made to fail, and are counted. */
function flakyStore() {
  const inner = new MemoryStore();
  const calls = { appends: 0, prunes: 0 };
  let failing: 'no' | 'unavailable' | 'rejected' = 'no';
  const store: GatewayStore = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'appendRequestLog' || prop === 'pruneRequestLog') {
        return async (...args: unknown[]) => {
          if (prop === 'appendRequestLog') calls.appends++;
          else calls.prunes++;
          if (failing === 'unavailable') throw new StoreUnavailableError('Redis at REDIS_URL=redis://127.0.0.1:1 is unavailable');
          if (failing === 'rejected') throw new StoreRejectedError('request log rows refused');
          return (target[prop] as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { inner, store, calls, fail: (how: typeof failing) => (failing = how) };
}

const logs: RequestLog[] = [];
afterEach(async () => {
  await Promise.all(logs.splice(0).map((l) => l.close()));
  vi.useRealTimers();
});
const open = (store: GatewayStore, options: Partial<RequestLogOptions> = {}) => {
  const l = new RequestLog(store, { retentionDays: 7, maxRows: 1_000, bodies: false, now: () => NOW, ...options });
  logs.push(l);
  return l;
};

describe('RequestLog', () => {
  it('writes in batches: nothing before a flush, every row at it, in order', async () => {
    const f = flakyStore();
    const log = open(f.store);
    for (let i = 1; i <= 3; i++) log.append(row(NOW + i));
    expect(log.buffered).toBe(3);
    expect(await f.inner.queryRequestLog({})).toEqual([]);
    await log.flush();
    expect(f.calls.appends).toBe(1);
    expect((await f.inner.queryRequestLog({})).map((r) => r.at)).toEqual([NOW + 3, NOW + 2, NOW + 1]);
    expect(log.buffered).toBe(0);
  });

  it('flushes every flushIntervalMs by itself, prunes at start and every pruneIntervalMs, and stops both on close', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const f = flakyStore();
    const log = open(f.store, { flushIntervalMs: 1_000, pruneIntervalMs: 3_600_000 });
    await log.start();
    expect(f.calls.prunes).toBe(1);
    log.append(row(NOW));
    await vi.advanceTimersByTimeAsync(999);
    expect(f.calls.appends).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(f.calls.appends).toBe(1);
    expect(await f.inner.queryRequestLog({})).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(f.calls.prunes).toBe(2);
    expect(vi.getTimerCount()).toBe(2);
    log.append(row(NOW + 1));
    await log.close();
    expect(vi.getTimerCount()).toBe(0);
    expect(await f.inner.queryRequestLog({})).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(7_200_000);
    expect(f.calls.prunes).toBe(2);
  });

  it('prunes by retentionDays and maxRows, and passes maxRows with every write', async () => {
    const store = new MemoryStore();
    await store.appendRequestLog([row(NOW - 8 * DAY), row(NOW - 7 * DAY - 1), row(NOW - 7 * DAY), row(NOW - DAY), row(NOW - 1)]);
    const log = open(store, { retentionDays: 7, maxRows: 2 });
    await log.start();
    expect((await store.queryRequestLog({})).map((r) => r.at)).toEqual([NOW - 1, NOW - DAY]);
    log.append(row(NOW + 1));
    await log.flush();
    expect((await store.queryRequestLog({})).map((r) => r.at)).toEqual([NOW + 1, NOW - 1]);
  });

  it('keeps no prompt or answer text unless bodies is on; then cuts it at maxBodyChars', async () => {
    const store = new MemoryStore();
    const plain = open(store);
    plain.append(row(1, { requestBody: 'secret prompt', responseBody: 'secret answer' }));
    await plain.flush();
    const [stripped] = await store.queryRequestLog({});
    expect(stripped).not.toHaveProperty('requestBody');
    expect(stripped).not.toHaveProperty('responseBody');

    const other = new MemoryStore();
    const withBodies = open(other, { bodies: true, maxBodyChars: 5 });
    withBodies.append(row(2, { requestBody: 'hello', responseBody: 'hello world' }));
    await withBodies.flush();
    expect(await other.queryRequestLog({})).toEqual([row(2, { requestBody: 'hello', responseBody: 'hello... [6 more characters]' })]);
  });

  it('while the store is away: keeps the newest maxBuffered rows, warns with the count dropped, writes them when it is back', async () => {
    const f = flakyStore();
    const { logger, lines } = captureLogger();
    const log = open(f.store, { maxBuffered: 3, logger });
    f.fail('unavailable');
    for (let i = 1; i <= 2; i++) log.append(row(i));
    await log.flush();
    for (let i = 3; i <= 5; i++) log.append(row(i));
    await log.flush();
    expect(log.buffered).toBe(3);
    expect(log.dropped).toBe(2);
    const parsed = lines.map((l) => JSON.parse(l) as { level: number; msg: string; dropped?: number });
    expect(parsed.filter((l) => l.msg.startsWith('request log: the store cannot take rows'))).toHaveLength(1);
    expect(parsed.filter((l) => l.level === 40 && l.dropped !== undefined).map((l) => l.dropped)).toEqual([2]);
    f.fail('no');
    await log.flush();
    expect((await f.inner.queryRequestLog({})).map((r) => r.at)).toEqual([5, 4, 3]);
    expect(log.buffered).toBe(0);
  });

  it('rows the store refuses are dropped with an error line, never retried', async () => {
    const f = flakyStore();
    const { logger, lines } = captureLogger();
    const log = open(f.store, { logger });
    f.fail('rejected');
    log.append(row(1));
    await log.flush();
    f.fail('no');
    await log.flush();
    expect(f.calls.appends).toBe(1);
    expect(log.dropped).toBe(1);
    expect(lines.filter((l) => l.includes('refused by the store'))).toHaveLength(1);
  });

  it('drops a row not of its shape at once, with an error line, and keeps the others', async () => {
    const store = new MemoryStore();
    const { logger, lines } = captureLogger();
    const log = open(store, { logger });
    log.append(row(1, { status: Number.NaN }));
    log.append(row(2));
    await log.flush();
    expect((await store.queryRequestLog({})).map((r) => r.at)).toEqual([2]);
    expect(log.dropped).toBe(1);
    expect(lines.some((l) => l.includes('not of its shape'))).toBe(true);
  });

  it('a prune that fails is logged and tried again next time; rows after close are dropped and counted', async () => {
    const f = flakyStore();
    const { logger, lines } = captureLogger();
    const log = open(f.store, { logger });
    f.fail('unavailable');
    await log.start();
    expect(lines.some((l) => l.includes('prune failed'))).toBe(true);
    f.fail('no');
    await log.close();
    await log.close();
    log.append(row(1));
    expect(log.dropped).toBe(1);
    await log.start();
    expect(f.calls.prunes).toBe(1);
  });

  it('refuses options that are not counts', () => {
    expect(() => new RequestLog(new MemoryStore(), { retentionDays: 0, maxRows: 10, bodies: false })).toThrow(/`retentionDays` must be an integer >= 1/);
    expect(() => new RequestLog(new MemoryStore(), { retentionDays: 1, maxRows: 10, bodies: false, maxBuffered: 0 })).toThrow(/`maxBuffered`/);
  });
});
