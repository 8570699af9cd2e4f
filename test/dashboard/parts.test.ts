/**
 * The dashboard's pure-ish parts on a memory store and an injected clock: paging through
 * rows of the same millisecond, the live tail (nothing twice, nothing lost), the CSV export,
 * the traffic of the overview, and the settings rows.
 */
import { describe, expect, it } from 'vitest';
import { LogTail, parseFilters, readPage, toCsv, LOG_PAGE_ROWS } from '../../src/gateway/dashboard/logsPage.ts';
import { settingRows } from '../../src/gateway/dashboard/settingsPage.ts';
import { Traffic } from '../../src/gateway/dashboard/traffic.ts';
import type { RequestLogRow } from '../../src/store/gatewayTypes.ts';
import { MemoryStore } from '../../src/store/memory.ts';

const T = Date.UTC(2026, 10, 22, 12, 0, 0);
const row = (at: number, over: Partial<RequestLogRow> = {}): RequestLogRow => ({
  at, token: 'app', route: '/v1/chat/completions', model: 'gemini-2.5-flash', keyId: 'key#1', status: 200, attempts: 1, latencyMs: 5, tokensIn: 1, tokensOut: 2, streamed: false, ...over,
});

describe('request log pages', () => {
  it('pages through every row exactly once, rows of one millisecond included', async () => {
    const store = new MemoryStore();
    // 130 rows, many sharing a millisecond across page boundaries.
    const rows = Array.from({ length: 130 }, (_, i) => row(T + Math.floor(i / 40), { tokensIn: i }));
    await store.appendRequestLog(rows);
    const f = parseFilters(() => undefined);
    const seen: number[] = [];
    let cursor;
    for (let pages = 0; pages < 10; pages++) {
      const p = await readPage(store, f, cursor, T + 1_000);
      expect(p.rows.length).toBeLessThanOrEqual(LOG_PAGE_ROWS);
      seen.push(...p.rows.map((r) => r.tokensIn));
      cursor = p.next;
      if (!cursor) break;
    }
    expect(seen.sort((a, b) => a - b)).toEqual(rows.map((r) => r.tokensIn));
  });

  it('reads filters from a query, leaving out what is malformed', () => {
    const q: Record<string, string> = { token: 'web-app', key: 'key#3', status: '429', kind: 'rate_limited', range: '1h', model: '../etc' };
    expect(parseFilters((n) => q[n])).toEqual({ token: 'web-app', key: 'key#3', status: 429, kind: 'rate_limited', range: '1h' });
    expect(parseFilters((n) => ({ status: '99', range: 'forever' })[n])).toEqual({ range: '24h' });
  });

  it('a live tail sends each new row once, late rows of another process too, and not what the page showed', async () => {
    const store = new MemoryStore();
    await store.appendRequestLog([row(T), row(T)]);
    const tail = new LogTail(store, parseFilters(() => undefined));
    await tail.prime(T);
    expect(await tail.next(T + 1_000)).toEqual([]);
    await store.appendRequestLog([row(T + 1_000), row(T)]);
    expect((await tail.next(T + 1_500)).map((r) => r.at)).toEqual([T + 1_000, T]);
    expect(await tail.next(T + 2_000)).toEqual([]);
    // Written late (a flush of another process): still within the look-back, so sent.
    await store.appendRequestLog([row(T + 500, { status: 429, kind: 'rate_limited' })]);
    expect((await tail.next(T + 2_500)).map((r) => r.status)).toEqual([429]);
  });

  it('CSV: a header and a line a row, quoted where needed, and no cell a spreadsheet would run', () => {
    const csv = toCsv([row(T, { token: '=HYPERLINK("x")', route: '/v1/a,b', kind: '+cmd' })]);
    const [head, line] = csv.trim().split('\r\n');
    expect(head).toBe('time,token,route,model,key,status,kind,attempts,latency_ms,tokens_in,tokens_out,streamed');
    expect(line).toBe(`2026-11-22T12:00:00.000Z,"'=HYPERLINK(""x"")","/v1/a,b",gemini-2.5-flash,key#1,200,"'+cmd",1,5,1,2,false`);
  });
});

describe('the overview traffic', () => {
  it('counts gateway requests a minute and answers by kind over the hour, reading the log again only every refresh', async () => {
    const store = new MemoryStore();
    const c = { t: T + 30_000 };
    let reads = 0;
    const counting = { queryRequestLog: (q: Parameters<MemoryStore['queryRequestLog']>[0]) => (reads++, store.queryRequestLog(q)) };
    let poolTotal = 0;
    const traffic = new Traffic(counting, () => poolTotal, () => c.t, 2_000);
    await store.appendRequestLog([row(T - 90 * 60_000), row(T - 5 * 60_000), row(T - 5 * 60_000, { status: 429, kind: 'rate_limited' }), row(T + 1_000)]);
    const a = await traffic.snapshot();
    expect(a.t).toHaveLength(60);
    expect(a.t.at(-1)).toBe(T / 1000);
    expect(a.gateway.at(-1)).toBe(1);
    expect(a.gateway.at(-6)).toBe(2);
    expect(a.lastHour).toBe(3);
    expect(a.kinds).toEqual([['ok', 2], ['rate_limited', 1]]);
    await traffic.snapshot();
    expect(reads).toBe(1);
    // A row arriving in this minute is seen at the next refresh.
    await store.appendRequestLog([row(T + 20_000)]);
    c.t += 2_000;
    poolTotal = 7;
    const b = await traffic.snapshot();
    expect(reads).toBe(2);
    expect(b.thisMinute).toBe(2);
    expect(b.pool.at(-1)).toBe(7);
    // An hour later, the old rows have left the window.
    c.t += 3_600_000;
    expect((await traffic.snapshot()).lastHour).toBe(0);
  });
});

describe('the settings rows', () => {
  it('say where each value came from and hide every secret', () => {
    // Shaped like a Gemini key, put together at run time so no file holds one.
    const keyShaped = ['AIza', 'FakeTestKey_doNotUse_00000000000'].join('');
    const env = {
      GEMINI_API_KEYS: 'test-key-1,test-key-2',
      GEMINI_API_KEY_2: 'test-key-9',
      DISCORD_TOKEN: 'fake-bot-token',
      REDIS_URL: 'redis://user:hunter2hunter2@redis.local:6379',
      SYSTEM_PROMPT: keyShaped,
      GEMINI_POOL_SIZE: '7',
    };
    const rows = settingRows(env, { GEMINI_API_KEYS: 'file', GEMINI_POOL_SIZE: 'environment' });
    const by = Object.fromEntries(rows.map((r) => [r.name, r]));
    expect(by.GEMINI_API_KEYS).toEqual({ name: 'GEMINI_API_KEYS', value: '2 keys (hidden)', source: '.env file' });
    expect(by.GEMINI_API_KEY_2!.value).toBe('1 key (hidden)');
    expect(by.GEMINI_POOL_SIZE).toEqual({ name: 'GEMINI_POOL_SIZE', value: '7', source: 'environment' });
    expect(by.GEMINI_STRATEGY).toEqual({ name: 'GEMINI_STRATEGY', value: 'health', source: 'default' });
    expect(by.DISCORD_TOKEN!.value).toBe('set (hidden)');
    expect(by.REDIS_URL!.value).toBe('redis://user:***@redis.local:6379');
    expect(by.SYSTEM_PROMPT!.value).toBe('hidden (it looks like a key or token)');
    const all = JSON.stringify(rows);
    for (const secret of ['test-key-1', 'test-key-9', 'fake-bot-token', 'hunter2', keyShaped]) expect(all).not.toContain(secret);
  });
});
