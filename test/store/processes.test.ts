/**
 * Several processes and a crash: a cooldown set in one process is honoured by another
 * through Redis, and kill -9 loses at most the last flush interval of counters.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { isDeepStrictEqual } from 'node:util';
import { Redis } from 'ioredis';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { pacificDay } from '../../src/pool/time.ts';
import { hashKey } from '../../src/pool/keys.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { FakeGemini } from '../../fakes/fakeGemini.ts';
import { GeminiAPIPool } from '../../src/pool/GeminiAPIPool.ts';
import { RedisStore } from '../../src/store/redis.ts';
import type { StateStore } from '../../src/store/types.ts';
import { captureLogger } from '../helpers.ts';
import { startRedis, type RedisServer } from '../../fakes/redisServer.ts';
import { waitFor } from './contract.ts';

type View = Record<string, { usage: number; errors: number; requestsToday: number; tokensToday: number }>;

/** Per key and model (and in total), what the pool counts: cumulative usage and errors, today's requests and tokens. */
function poolView(pool: GeminiAPIPool): View {
  const view: View = { total: { usage: 0, errors: 0, requestsToday: 0, tokensToday: 0 } };
  for (const k of pool.getKeyStats().keys) {
    for (const [model, m] of Object.entries(k.models)) {
      view[`${k.id} ${model}`] = { usage: m.usage, errors: m.errors, requestsToday: m.requestsToday, tokensToday: m.tokensToday };
      for (const f of ['usage', 'errors', 'requestsToday', 'tokensToday'] as const) view.total![f] += m[f];
    }
  }
  return view;
}

/** The same view of what the store holds for the pool's keys today. */
async function storeView(pool: GeminiAPIPool, store: StateStore): Promise<View> {
  const view: View = { total: { usage: 0, errors: 0, requestsToday: 0, tokensToday: 0 } };
  for (const k of pool.keys) for (const model of pool.models) view[`${k.id} ${model}`] = { usage: 0, errors: 0, requestsToday: 0, tokensToday: 0 };
  const rows = await store.loadCounters(pool.keys.map((k) => k.hash), pacificDay(Date.now()));
  for (const r of rows) {
    const k = pool.keys.find((key) => key.hash === r.keyHash)!;
    const v = view[`${k.id} ${r.model}`]!;
    for (const [f, n] of [['usage', r.usage], ['errors', r.errors], ['requestsToday', r.requestsToday], ['tokensToday', r.tokensToday]] as const) {
      v[f] += n;
      view.total![f] += n;
    }
  }
  return view;
}

/** Passes every call through to `store`, and hands out each `raiseCounters` call as it starts. */
function watchRaises(store: StateStore): { store: StateStore; raised: Array<Promise<void>> } {
  const raised: Array<Promise<void>> = [];
  const watched = new Proxy(store, {
    get(target, prop) {
      if (prop === 'raiseCounters') {
        return (rows: Parameters<StateStore['raiseCounters']>[0]) => {
          const p = target.raiseCounters(rows);
          raised.push(p.catch(() => undefined));
          return p;
        };
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { store: watched, raised };
}

interface Worker {
  proc: ChildProcessWithoutNullStreams;
  lines: string[];
  waitLines(n: number, timeoutMs?: number): Promise<string[]>;
  send(cmd: string): void;
  /** Sends a query command and returns its one-line JSON answer. */
  query<T>(cmd: string): Promise<T>;
}

const workers: Worker[] = [];
let fake: FakeGemini | undefined;
let redis: RedisServer | undefined;
afterEach(async () => {
  for (const w of workers.splice(0)) w.proc.kill('SIGKILL');
  await fake?.close();
  await redis?.stop();
  fake = undefined;
  redis = undefined;
});

async function startWorker(env: Record<string, string>): Promise<Worker> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'test/store/poolWorker.ts'], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
  });
  const lines: string[] = [];
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += String(d)));
  createInterface({ input: proc.stdout }).on('line', (l) => lines.push(l));
  const w: Worker = {
    proc,
    lines,
    send: (cmd) => proc.stdin.write(`${cmd}\n`),
    async waitLines(n, timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      while (lines.length < n) {
        if (Date.now() > until || proc.exitCode !== null) throw new Error(`worker gave ${lines.length}/${n} lines; stderr: ${stderr.slice(-500)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return lines;
    },
    async query(cmd) {
      const n = lines.length;
      w.send(cmd);
      await w.waitLines(n + 1);
      return JSON.parse(lines[n]!);
    },
  };
  workers.push(w);
  await w.waitLines(1, 15_000);
  expect(lines[0]).toBe('ready');
  return w;
}

describe('processes', () => {
  it('two processes on one Redis: a per-day 429 seen by A stops B from using that key', async () => {
    redis = await startRedis();
    fake = await FakeGemini.start();
    const env = { GEMINI_API_KEYS: 'test-key-1,test-key-2', GEMINI_BASE_URL: fake.url, STORE: 'redis', REDIS_URL: redis.url, LOG_LEVEL: 'warn' };
    const a = await startWorker(env);
    const b = await startWorker(env);
    fake.inject({ type: 'rateLimit', per: 'day' }, { key: 'test-key-1' });
    a.send('ask 1');
    await a.waitLines(2);
    expect(JSON.parse(a.lines[1]!)).toEqual({ ok: true, keyId: 'key#2' });
    // B hears of it through Redis; then count what B sends.
    expect(await waitFor(async () => (await b.query<{ state: string }>('state 0')).state === 'cooling', 5_000)).toBe(true);
    const mark = fake.requests.length;
    const first = b.lines.length;
    b.send('ask 4');
    await b.waitLines(first + 4);
    expect(b.lines.slice(first).map((l) => JSON.parse(l))).toEqual(Array(4).fill({ ok: true, keyId: 'key#2' }));
    expect(fake.requests.slice(mark).filter((r) => r.key === 'test-key-1')).toHaveLength(0);
  });

  it('two processes on one Redis share a known per-minute quota: together they stay under it', async () => {
    redis = await startRedis();
    fake = await FakeGemini.start({ keys: [{ key: 'test-key-1', project: 'proj' }, { key: 'test-key-2', project: 'proj' }], quotas: { rpm: 4 } });
    const env = {
      GEMINI_API_KEYS: 'proj:test-key-1,proj:test-key-2',
      GEMINI_BASE_URL: fake.url,
      GEMINI_RPM: '4',
      GEMINI_DEADLINE_MS: '3000',
      STORE: 'redis',
      REDIS_URL: redis.url,
      STORE_FLUSH_INTERVAL_MS: '100',
    };
    const a = await startWorker(env);
    const b = await startWorker(env);
    a.send('ask 3');
    await a.waitLines(4);
    // A reports its usage at its next flush; B has counted it once it has heard of it.
    expect(await waitFor(async () => (await b.query<{ heard: number }>('heard')).heard === 3, 5_000)).toBe(true);
    const mark = fake.requests.length;
    const first = b.lines.length;
    b.send('ask 3');
    await b.waitLines(first + 3);
    const results = b.lines.slice(first).map((l) => JSON.parse(l) as { ok: boolean; kind?: string });
    // One slot was left in the project's minute: B takes it and refuses the rest itself.
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok).every((r) => r.kind === 'rate_limited')).toBe(true);
    expect(fake.requests.slice(mark)).toHaveLength(1);
    expect(fake.requests.filter((r) => r.status === 429)).toHaveLength(0);
  });

  it('kill -9 during load: the database opens intact and holds every batch committed before the kill', async () => {
    fake = await FakeGemini.start();
    const dataDir = mkdtempSync(join(tmpdir(), 'kill9-'));
    const w = await startWorker({ GEMINI_API_KEYS: 'test-key-1,test-key-2', GEMINI_BASE_URL: fake.url, STORE: 'sqlite', DATA_DIR: dataDir, STORE_FLUSH_INTERVAL_MS: '200' });
    w.send('loop');
    type Report = { done?: number; flushed?: number };
    const reports = () => w.lines.slice(1).map((l) => JSON.parse(l) as Report);
    // Crash it in full swing: after a few flushes, with requests done since the last one.
    const flushes = () => reports().filter((r) => r.flushed !== undefined);
    expect(await waitFor(() => flushes().length >= 3 && reports().at(-1)?.done !== undefined, 15_000)).toBe(true);
    w.proc.kill('SIGKILL');
    await new Promise((r) => w.proc.once('exit', r));
    const all = reports();
    const total = all.filter((r) => r.done !== undefined).at(-1)!.done!;
    const committed = all.filter((r) => r.flushed !== undefined).at(-1)!.flushed!;
    expect(committed).toBeGreaterThan(0);

    const db = new Database(join(dataDir, 'state.db'), { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
    const store = new SqliteStore(dataDir);
    const rows = await store.loadCounters([hashKey('test-key-1'), hashKey('test-key-2')], pacificDay(Date.now()));
    await store.close();
    const stored = rows.reduce((n, r) => n + r.requestsToday, 0);
    // Everything a flush reported committed is there; at most what was done since is lost.
    expect(stored).toBeGreaterThanOrEqual(committed);
    expect(stored).toBeLessThanOrEqual(total);
  });

  it('Redis restarted empty while running: requests keep being served, one log line, and everything this process knows is written back', async () => {
    redis = await startRedis();
    fake = await FakeGemini.start();
    const { logger, lines } = captureLogger('info');
    const store = await RedisStore.connect(redis.url, { logger, prefix: `t${Date.now()}:` });
    const pool = new GeminiAPIPool({ keys: ['test-key-1', 'test-key-2'], baseUrl: fake.url, logger, timers: false });
    await pool.attachStore(store, { flushIntervalMs: 100 });
    try {
      for (let i = 0; i < 30; i++) expect((await pool.generateContent({ prompt: `a${i}` })).ok).toBe(true);
      await pool.flush();
      expect(await storeView(pool, store)).toEqual(poolView(pool));
      expect(poolView(pool).total!.requestsToday).toBe(30);

      redis.kill();
      fake.inject({ type: 'status', status: 401 }, { key: 'test-key-1' });
      for (let i = 0; i < 5; i++) {
        expect((await pool.generateContent({ prompt: `b${i}` })).ok).toBe(true);
        await pool.flush();
      }
      expect(lines.filter((l) => l.includes('state store unavailable'))).toHaveLength(1);

      // No persistence: the server comes back with nothing in it.
      await redis.restart();
      expect(await waitFor(() => lines.some((l) => l.includes('Redis is back')), 10_000)).toBe(true);
      // Everything: the 30 counted before the outage too, not only what changed meanwhile.
      const expected = poolView(pool);
      expect(expected.total!.requestsToday).toBeGreaterThanOrEqual(35);
      await waitFor(async () => isDeepStrictEqual(await storeView(pool, store).catch(() => undefined), expected), 10_000);
      expect(await storeView(pool, store)).toEqual(expected);
      // The key disabled during the outage is written back for the other processes.
      const hashes = pool.keys.map((k) => k.hash);
      const states = await store.loadKeyStates(hashes, Date.now());
      expect(states.get(hashes[0]!)?.get('*')).toMatchObject({ status: 'disabled', kind: 'auth' });
      expect(lines.filter((l) => l.includes('state store back'))).toHaveLength(1);
    } finally {
      await pool.close();
      await store.close();
    }
  });

  it('a connection to Redis dropped while Redis kept its data: the write-back counts nothing twice', async () => {
    redis = await startRedis();
    fake = await FakeGemini.start();
    const { logger, lines } = captureLogger('info');
    const real = await RedisStore.connect(redis.url, { logger, prefix: `t${Date.now()}:` });
    const { store, raised } = watchRaises(real);
    const pool = new GeminiAPIPool({ keys: ['test-key-1', 'test-key-2'], baseUrl: fake.url, logger, timers: false });
    await pool.attachStore(store, { flushIntervalMs: 100 });
    const admin = new Redis(redis.url, { lazyConnect: true });
    await admin.connect();
    try {
      for (let i = 0; i < 12; i++) expect((await pool.generateContent({ prompt: `a${i}` })).ok).toBe(true);
      await pool.flush();
      const expected = poolView(pool);
      expect(await storeView(pool, real)).toEqual(expected);
      // Drops the store's command connection (not this one); the data stays.
      expect(await admin.client('KILL', 'TYPE', 'normal')).toBeGreaterThanOrEqual(1);
      expect(await waitFor(() => raised.length === 1, 10_000)).toBe(true);
      await raised[0];
      await pool.flush();
      expect(await storeView(pool, real)).toEqual(expected);
      expect(lines.filter((l) => l.includes('Redis is back'))).toHaveLength(1);
    } finally {
      await admin.quit();
      await pool.close();
      await real.close();
    }
  });
});
