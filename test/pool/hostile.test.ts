/**
 * A hostile or broken upstream, through the real SDK against the fake Gemini: malformed error
 * bodies, thrown values no code expects, background tasks that meet them. The pool answers
 * with a result every time and the process never sees an unhandled rejection.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ClientFactory } from '../../src/gemini/adapter.ts';
import { GeminiAPIPool } from '../../src/pool/GeminiAPIPool.ts';
import { pacificDay } from '../../src/pool/time.ts';
import { ERROR_KINDS } from '../../src/pool/types.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { FakeGemini } from '../../fakes/fakeGemini.ts';
import { TestClock, captureLogger, closedPort, noNative } from '../helpers.ts';
import { poolFixture } from './fixture.ts';

const setup = poolFixture(() => new TestClock(), { keys: ['test-key-1', 'test-key-2', 'test-key-3'], poolSize: 3, attemptTimeoutMs: 2_000 });

const MALFORMED_429 = [
  ['details: {}', '{"error":{"code":429,"details":{}}}'],
  ['details: 5', '{"error":{"code":429,"details":5}}'],
  ['details: [null]', '{"error":{"code":429,"details":[null]}}'],
  ['violations: [null]', '{"error":{"code":429,"details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[null]}]}}'],
] as const;

/** Waits until `cond` holds, bounded by a count of short waits. */
async function until(cond: () => boolean, maxWaits = 1_000): Promise<void> {
  for (let i = 0; i < maxWaits && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
}

describe('malformed error bodies', () => {
  it.each(MALFORMED_429)('a 429 with %s: generateContent, the stream and a chat answer from another key', async (_name, body) => {
    const { pool, fake } = await setup();
    fake.inject({ type: 'body', status: 429, body });
    expect(await pool.generateContent({ prompt: 'hi' })).toMatchObject({ ok: true, keyId: 'key#2', attempts: 2 });
    expect(pool.keyState(0, 'gemini-2.5-flash')).toMatchObject({ status: 'cooling', kind: 'rate_limited' });
    fake.inject({ type: 'body', status: 429, body });
    const s = pool.generateContentStream({ prompt: 'streamed' });
    for await (const _ of s) void _;
    expect(await s.result).toMatchObject({ ok: true, attempts: 2 });
    fake.inject({ type: 'body', status: 429, body });
    expect(await pool.createChat().sendMessage('chat')).toMatchObject({ ok: true, attempts: 2 });
  });

  it('every key answering malformed bodies: a failure with a kind, never a rejection', async () => {
    const { pool, fake } = await setup();
    fake.inject({ type: 'body', status: 429, body: '{"error":{"code":429,"details":[null]}}' }, { times: Infinity });
    const r = await pool.generateContent({ prompt: 'hi' });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(ERROR_KINDS).toContain(r.error.kind);
  });

  it('a re-check that meets a malformed body keeps the key disabled and resolves', async () => {
    const { pool, fake } = await setup({ fake: { keys: [{ key: 'test-key-1', status: 'invalid' }] } });
    await pool.generateContent({ prompt: 'hi' });
    expect(pool.keyState(0, 'gemini-2.5-flash').status).toBe('disabled');
    fake.setKey({ key: 'test-key-1' });
    fake.inject({ type: 'body', status: 429, body: '{"error":{"code":429,"details":5}}' }, { key: 'test-key-1', route: 'listModels' });
    await pool.recheckDisabledKeys();
    expect(pool.keyState(0, 'gemini-2.5-flash').status).toBe('disabled');
    expect(fake.requests.filter((r) => r.route === 'listModels')).toHaveLength(1);
  });
});

describe('thrown values no code expects', () => {
  const weird: Array<[string, () => unknown]> = [
    ['null', () => null],
    ['a string', () => 'boom'],
    ['a proxy that throws on every read', () => new Proxy({}, { get: () => { throw new Error('trap'); }, getPrototypeOf: () => { throw new Error('trap'); } })],
    ['an error whose status getter throws', () => Object.defineProperty(new Error('x'), 'status', { get: () => { throw new Error('getter'); } })],
  ];
  it.each(weird)('%s thrown by the client: a result with a kind, another key tried', async (_name, make) => {
    let calls = 0;
    const factory: ClientFactory = () => ({
      generate: async () => {
        if (calls++ === 0) throw make();
        return { text: 'ok', usage: { promptTokens: 1, outputTokens: 1, totalTokens: 2 } };
      },
      // eslint-disable-next-line require-yield
      async *stream() {
        throw make();
      },
      check: async () => {
        throw make();
      },
      native: async () => {
        throw make();
      },
      // eslint-disable-next-line require-yield
      async *nativeStream() {
        throw make();
      },
    });
    const pool = new GeminiAPIPool({ keys: ['test-key-1', 'test-key-2'], clientFactory: factory, timers: false, clock: new TestClock() });
    expect(await pool.generateContent({ prompt: 'x' })).toMatchObject({ ok: true, attempts: 2 });
    const s = pool.generateContentStream({ prompt: 'x' });
    for await (const _ of s) void _;
    const r = await s.result;
    expect(r.ok).toBe(false);
    if (!r.ok) expect(ERROR_KINDS).toContain(r.error.kind);
    expect(await pool.checkKey(0)).toMatchObject({ ok: false, error: { kind: 'transient' } });
    const native = await pool.callNative({ method: 'generateContent', body: { contents: [] } });
    expect(native.ok).toBe(false);
    if (!native.ok) expect(ERROR_KINDS).toContain(native.error.kind);
    const ns = pool.streamNative({ body: { contents: [] } });
    for await (const _ of ns) void _;
    const nr = await ns.result;
    expect(nr.ok).toBe(false);
    if (!nr.ok) expect(ERROR_KINDS).toContain(nr.error.kind);
    await pool.close();
  });

  it('a client factory that throws costs the attempt, not the request', async () => {
    let built = 0;
    const factory: ClientFactory = () => {
      if (built++ === 0) throw new TypeError('bad client options');
      return { generate: async () => ({ text: 'ok', usage: { promptTokens: 1, outputTokens: 1, totalTokens: 2 } }), stream: () => { throw new Error('unused'); }, check: async () => undefined, ...noNative };
    };
    const pool = new GeminiAPIPool({ keys: ['test-key-1', 'test-key-2'], clientFactory: factory, timers: false, clock: new TestClock() });
    expect(await pool.generateContent({ prompt: 'x' })).toMatchObject({ ok: true, keyId: 'key#2', attempts: 2 });
    await pool.close();
  });
});

describe('background tasks never crash the process', () => {
  let fake: FakeGemini | undefined;
  let pool: GeminiAPIPool | undefined;
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);
  afterEach(async () => {
    process.off('unhandledRejection', onRejection);
    await pool?.close();
    await fake?.close();
    pool = undefined;
    fake = undefined;
    rejections.length = 0;
  });

  it('the timer-driven re-check meeting malformed bodies logs a line and runs again', async () => {
    process.on('unhandledRejection', onRejection);
    fake = await FakeGemini.start({ keys: [{ key: 'test-key-1', status: 'invalid' }] });
    const { logger, lines } = captureLogger('info');
    // Real clock and timers: the maintenance timer is what runs the re-check here.
    pool = new GeminiAPIPool({ keys: ['test-key-1', 'test-key-2'], baseUrl: fake.url, recheckIntervalMs: 20, rotationIntervalMs: 1_000_000, logger });
    await pool.generateContent({ prompt: 'hi' });
    expect(pool.keyState(0, 'gemini-2.5-flash').status).toBe('disabled');
    fake.setKey({ key: 'test-key-1' });
    fake.inject({ type: 'body', status: 429, body: '{"error":{"code":429,"details":{}}}' }, { key: 'test-key-1', route: 'listModels', times: Infinity });
    await until(() => fake!.requests.filter((r) => r.route === 'listModels').length >= 3);
    await pool.close();
    expect(rejections).toEqual([]);
    expect(pool.keyState(0, 'gemini-2.5-flash').status).toBe('disabled');
    expect(lines.some((l) => l.includes('re-check inconclusive'))).toBe(true);
  });
});

describe('network failures say what happened', () => {
  it('a refused connection names the address and port, through the real SDK (requests and key checks)', async () => {
    const port = await closedPort();
    const pool = new GeminiAPIPool({ keys: ['test-key-1', 'test-key-2'], baseUrl: `http://127.0.0.1:${port}`, timers: false, clock: new TestClock(), maxAttempts: 2 });
    const r = await pool.generateContent({ prompt: 'hi' });
    expect(r).toMatchObject({ ok: false, attempts: 2, error: { kind: 'transient', message: `connection refused to 127.0.0.1:${port}` } });
    expect(await pool.checkKey(0)).toMatchObject({ ok: false, error: { kind: 'transient', message: `connection refused to 127.0.0.1:${port}` } });
    await pool.close();
  });

  it('a connection the server drops before answering names the server', async () => {
    const { pool, fake } = await setup();
    fake.inject({ type: 'reset' }, { times: Infinity });
    const r = await pool.generateContent({ prompt: 'hi' });
    expect(r).toMatchObject({ ok: false, error: { kind: 'transient', message: `connection closed by ${new URL(fake.url).host} before an answer` } });
  });
});

describe('odd token counts', () => {
  it('usageMetadata that is not an object: the SDK refuses the answer, another key gives one', async () => {
    const { pool, fake } = await setup();
    fake.inject({ type: 'usage', usageMetadata: 'eight' });
    const r = await pool.generateContent({ prompt: 'hi' });
    expect(r).toMatchObject({ ok: true, attempts: 2 });
    if (r.ok) expect(Number.isSafeInteger(r.usage.totalTokens)).toBe(true);
  });

  it.each([
    ['strings of digits are numbers', { promptTokenCount: '3', candidatesTokenCount: '5', totalTokenCount: '8' }, { promptTokens: 3, outputTokens: 5, totalTokens: 8 }],
    ['garbage is unknown: zero, the total from its parts', { promptTokenCount: 'lots', candidatesTokenCount: -1, totalTokenCount: { n: 8 } }, { promptTokens: 0, outputTokens: 0, totalTokens: 0 }],
    ['fractions, huge and non-finite numbers are unknown', { promptTokenCount: 2.5, candidatesTokenCount: 1e300, totalTokenCount: '888888888888888888888' }, { promptTokens: 0, outputTokens: 0, totalTokens: 0 }],
    ['a missing total is the sum of the parts', { promptTokenCount: 4, candidatesTokenCount: '6' }, { promptTokens: 4, outputTokens: 6, totalTokens: 10 }],
  ])('%s (unary and stream), and the counters stay numbers', async (_name, usageMetadata, usage) => {
    const { pool, fake, clock } = await setup();
    const store = new MemoryStore();
    await pool.attachStore(store, { flushIntervalMs: 60_000 });
    for (let i = 0; i < 3; i++) {
      fake.inject({ type: 'usage', usageMetadata });
      expect(await pool.generateContent({ prompt: 'hi' })).toMatchObject({ ok: true, usage });
    }
    fake.inject({ type: 'usage', usageMetadata }, { route: 'streamGenerateContent' });
    const s = pool.generateContentStream({ prompt: 'hi' });
    for await (const _ of s) void _;
    expect(await s.result).toMatchObject({ ok: true, usage });
    const stats = pool.getKeyStats();
    expect(stats.totals.tokensToday).toBe(4 * usage.totalTokens);
    for (const k of stats.keys) expect(typeof k.tokensToday).toBe('number');
    await pool.flush();
    const rows = await store.loadCounters(pool.keys.map((k) => k.hash), pacificDay(clock.t));
    expect(rows.reduce((n, r) => n + r.tokensToday, 0)).toBe(4 * usage.totalTokens);
    for (const r of rows) expect(Number.isSafeInteger(r.tokensToday)).toBe(true);
  });
});
