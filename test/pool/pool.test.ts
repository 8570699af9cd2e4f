/**
 * The pool's public surface beyond the policy table: key-choice order, streaming and chat
 * failover, batches, rotation, stats, and that no key ever leaks.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AdapterAnswer, ClientFactory } from '../../src/gemini/adapter.ts';
import { GeminiAPIPool, type GeminiAPIPoolOptions } from '../../src/pool/GeminiAPIPool.ts';
import { poolFixture } from './fixture.ts';
import type { FakeGemini, Fault } from '../../fakes/fakeGemini.ts';
import { TestClock, untilAborted, noNative } from '../helpers.ts';

const setup = poolFixture(() => new TestClock(), { keys: ['test-key-1', 'test-key-2', 'test-key-3'], poolSize: 3, attemptTimeoutMs: 2_000 });

const sent = (f: FakeGemini) =>
  f.requests.filter((r) => r.route === 'generateContent' || r.route === 'streamGenerateContent').map((r) => Number(r.key.replace('test-key-', '')));

describe('key choice order under scripted failures (table)', () => {
  const cases: Array<{ name: string; strategy?: GeminiAPIPoolOptions['strategy']; faults: Array<[Fault, number]>; requests: number; expected: number[] }> = [
    { name: 'no failures: even spread 1,2,3,1,2,3', faults: [], requests: 6, expected: [1, 2, 3, 1, 2, 3] },
    { name: 'key 1 rate-limited: skipped until it recovers', faults: [[{ type: 'rateLimit', per: 'minute', retryDelay: '600s' }, 1]], requests: 4, expected: [1, 2, 3, 2, 3] },
    { name: 'key 2 invalid: disabled after one try', faults: [[{ type: 'status', status: 401 }, 2]], requests: 4, expected: [1, 2, 3, 1, 3] },
    { name: 'key 1 server error: retried elsewhere, then scored lower', faults: [[{ type: 'status', status: 500 }, 1]], requests: 4, expected: [1, 2, 3, 2, 3] },
    { name: 'round-robin ignores health', strategy: 'round-robin', faults: [[{ type: 'status', status: 500 }, 1]], requests: 4, expected: [1, 2, 3, 1, 2] },
  ];
  it.each(cases)('$name', async ({ strategy, faults, requests, expected }) => {
    const { pool, fake } = await setup({ pool: strategy ? { strategy } : {} });
    for (const [fault, key] of faults) fake.inject(fault, { key: `test-key-${key}` });
    for (let i = 0; i < requests; i++) expect((await pool.generateContent({ prompt: `p${i}` })).ok).toBe(true);
    expect(sent(fake)).toEqual(expected);
  });
});

describe('invariants (fast-check, scripted client)', () => {
  type Outcome = 'ok' | 'minute' | 'day' | 'auth' | 'server' | 'overloaded';
  const statusError = (status: number, body: object) => Object.assign(new Error(JSON.stringify({ error: body })), { status });
  const errorFor: Record<Exclude<Outcome, 'ok'>, () => Error> = {
    minute: () => statusError(429, { code: 429, details: [{ '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier' }] }, { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '20s' }] }),
    day: () => statusError(429, { code: 429, details: [{ '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaId: 'GenerateRequestsPerDayPerProjectPerModel-FreeTier' }] }] }),
    auth: () => statusError(400, { code: 400, details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID' }] }),
    server: () => statusError(500, { code: 500 }),
    overloaded: () => statusError(503, { code: 503 }),
  };

  it('never sends to a cooling or disabled key', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.constantFrom<Outcome>('ok', 'ok', 'ok', 'minute', 'day', 'auth', 'server', 'overloaded'), { minLength: 1, maxLength: 60 }),
        fc.constantFrom('health', 'round-robin', 'random', 'least-busy' as const),
        async (nKeys, script, strategy) => {
          const clock = new TestClock(Date.UTC(2026, 10, 22, 18), 0.3);
          let step = 0;
          let p: GeminiAPIPool | undefined;
          const violations: string[] = [];
          const factory: ClientFactory = (key) => {
            const index = Number(key.replace('test-key-', '')) - 1;
            const generate = async (): Promise<AdapterAnswer> => {
              const st = p!.keyState(index, 'm');
              if (st.status !== 'active') violations.push(`key#${index + 1} was ${st.status}`);
              const outcome = script[step++ % script.length]!;
              clock.advance(100);
              if (outcome !== 'ok') throw errorFor[outcome]();
              return { text: 'ok', usage: { promptTokens: 1, outputTokens: 1, totalTokens: 2 } };
            };
            return { generate, stream: () => { throw new Error('unused'); }, check: async () => undefined, ...noNative };
          };
          p = new GeminiAPIPool({ keys: Array.from({ length: nKeys }, (_, i) => `test-key-${i + 1}`), models: ['m'], poolSize: 3, strategy, clock, timers: false, clientFactory: factory });
          for (let i = 0; i < 20; i++) await p.generateContent({ prompt: 'x' });
          await p.close();
          expect(violations).toEqual([]);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('streaming', () => {
  it('yields deltas in order and ends with the result', async () => {
    const { pool } = await setup({ fake: { streamChunkChars: 5 } });
    const stream = pool.generateContentStream({ prompt: 'stream me please' });
    const parts: string[] = [];
    for await (const d of stream) parts.push(d);
    const r = await stream.result;
    expect(parts.length).toBeGreaterThan(2);
    expect(parts.join('')).toBe('echo: stream me please');
    expect(r).toMatchObject({ ok: true, text: 'echo: stream me please', keyId: 'key#1', finishReason: 'STOP' });
    if (r.ok) expect(r.usage.totalTokens).toBeGreaterThan(0);
  });

  it('fails over to another key before the first delta', async () => {
    const { pool, fake } = await setup();
    fake.inject({ type: 'rateLimit', per: 'minute' }, { key: 'test-key-1', route: 'streamGenerateContent' });
    const stream = pool.generateContentStream({ prompt: 'hi' });
    let text = '';
    for await (const d of stream) text += d;
    expect(text).toBe('echo: hi');
    expect(await stream.result).toMatchObject({ ok: true, keyId: 'key#2', attempts: 2 });
  });

  it('a stream cut after the first delta is not retried: the result says so and keeps the partial text', async () => {
    const { pool, fake } = await setup({ fake: { streamChunkChars: 3 } });
    fake.inject({ type: 'cutStream', afterChunks: 2 }, { key: 'test-key-1' });
    const stream = pool.generateContentStream({ prompt: 'a longer answer here' });
    let text = '';
    for await (const d of stream) text += d;
    const r = await stream.result;
    expect(r).toMatchObject({ ok: false, attempts: 1, error: { kind: 'transient' }, partialText: text });
    expect(text).toBe('echo: '.slice(0, 6));
    expect(fake.requests).toHaveLength(1);
  });

  it('a blocked stream names the reason', async () => {
    const { pool, fake } = await setup();
    fake.inject({ type: 'blocked', reason: 'SAFETY' });
    const stream = pool.generateContentStream({ prompt: 'x' });
    for await (const _ of stream) void _;
    expect(await stream.result).toMatchObject({ ok: false, error: { kind: 'blocked', reason: 'SAFETY' } });
  });
});

describe('chat', () => {
  it('keeps history on our side and moves to another key when its key dies', async () => {
    const { pool, fake } = await setup({ keys: ['test-key-1', 'test-key-2'], pool: { poolSize: 2 } });
    const chat = pool.createChat({ systemInstruction: 'be brief' });
    expect(await chat.sendMessage('first')).toMatchObject({ ok: true, keyId: 'key#1' });
    // key#1 is revoked and key#2 too busy: the chat must carry on regardless of which key answered before.
    fake.setKey({ key: 'test-key-1', status: 'invalid' });
    fake.setKey({ key: 'test-key-2', status: 'invalid' });
    const failed = await chat.sendMessage('second');
    expect(failed).toMatchObject({ ok: false, error: { kind: 'auth' } });
    expect(chat.history).toHaveLength(2); // the failed turn is not kept
    fake.setKey({ key: 'test-key-2', status: 'valid' });
    await pool.recheckDisabledKeys();
    const r = await chat.sendMessage('third');
    expect(r).toMatchObject({ ok: true, keyId: 'key#2' });
    const last = fake.requests.at(-1)!;
    expect(last.key).toBe('test-key-2');
    expect(last.body.contents.map((c: { parts: Array<{ text: string }> }) => c.parts[0]!.text)).toEqual(['first', 'echo: first', 'third']);
    expect(last.body.systemInstruction.parts[0].text).toBe('be brief');
    expect(chat.history.map((t) => t.role)).toEqual(['user', 'model', 'user', 'model']);
  });

  it('streams a turn and records it', async () => {
    const { pool } = await setup();
    const chat = pool.createChat({ history: [{ role: 'user', parts: [{ text: 'earlier' }] }, { role: 'model', parts: [{ text: 'ok' }] }] });
    const s = chat.sendMessageStream('now');
    let text = '';
    for await (const d of s) text += d;
    expect(text).toBe('echo: now');
    expect((await s.result).ok).toBe(true);
    expect(chat.history).toHaveLength(4);
  });
});

describe('batches, stats, rotation', () => {
  it('generateMany keeps input order under bounded concurrency', async () => {
    const { pool } = await setup();
    const prompts = Array.from({ length: 12 }, (_, i) => `q${i}`);
    const results = await pool.generateMany(prompts, { concurrency: 4 });
    expect(results.map((r) => (r.ok ? r.text : r.error.kind))).toEqual(prompts.map((p) => `echo: ${p}`));
  });

  it('stats have the shape of getPoolStats/getKeyStats (per model and per key) and count requests and tokens of today', async () => {
    const { pool, fake } = await setup();
    fake.inject({ type: 'status', status: 500 }, { key: 'test-key-1' });
    for (let i = 0; i < 4; i++) await pool.generateContent({ prompt: 'hello there' });
    const ps = pool.getPoolStats();
    // key#1's instance failed last and has not answered since: it counts as an error instance.
    expect(ps.models['gemini-2.5-flash']).toMatchObject({ poolSize: 3, activeInstances: 2, errorInstances: 1, totalUsage: 5 });
    expect(ps.models['gemini-2.5-flash']!.usageDistribution.reduce((a, b) => a + b, 0)).toBe(5);
    expect(ps).toMatchObject({ totalRequests: 4, failedRequests: 0 });
    const ks = pool.getKeyStats();
    // key#1 failed once and, scoring 0, was not chosen again while the others were fine.
    expect(ks.keys[0]).toMatchObject({ id: 'key#1', hint: 'ey-1', state: 'active', errors: 1, usage: 1, errorRate: 1, requestsToday: 1 });
    expect(ks.totals).toMatchObject({ keys: 3, active: 3, requestsToday: 5 });
    expect(ks.totals.tokensToday).toBeGreaterThan(0);
    pool.resetStats();
    expect(pool.getKeyStats().keys[0]).toMatchObject({ usage: 0, errors: 0, requestsToday: 1 });
  });

  it('rotation every 5 minutes moves instances off a key with > 20% errors, never all keys', async () => {
    // round-robin keeps sending key#1 its share, so its error rate gets enough samples.
    const { pool, fake, clock } = await setup({ pool: { poolSize: 6, strategy: 'round-robin', transientFailuresBeforeCooldown: 100, instanceFailuresBeforeRebuild: 100 } });
    fake.inject({ type: 'status', status: 500 }, { key: 'test-key-1', times: Infinity });
    for (let i = 0; i < 30; i++) await pool.generateContent({ prompt: `p${i}` });
    // Not yet five minutes: no rotation.
    expect(pool.getPoolStats().models['gemini-2.5-flash']!.keyDistribution).toEqual({ 'key#1': 2, 'key#2': 2, 'key#3': 2 });
    clock.advance(300_000);
    await pool.generateContent({ prompt: 'after' });
    const dist = pool.getPoolStats().models['gemini-2.5-flash']!.keyDistribution;
    expect(dist['key#1']).toBeUndefined();
    expect(dist).toEqual({ 'key#2': 3, 'key#3': 3 });
  });

  it('a blip fades: one failure does not shut a key out', async () => {
    const { pool, fake } = await setup({ keys: ['test-key-1', 'test-key-2'], pool: { poolSize: 2 } });
    fake.inject({ type: 'status', status: 500 }, { key: 'test-key-1' });
    for (let i = 0; i < 20; i++) expect((await pool.generateContent({ prompt: `p${i}` })).ok).toBe(true);
    const toKey1 = sent(fake).filter((k) => k === 1).length;
    expect(toKey1).toBeGreaterThanOrEqual(6);
    expect(toKey1).toBeLessThan(11);
  });

  it('resetPool rebuilds the initial cycle', async () => {
    const { pool, fake } = await setup({ keys: ['test-key-1', 'test-key-2', 'test-key-3', 'test-key-4'], pool: { poolSize: 3 } });
    fake.inject({ type: 'status', status: 401 }, { key: 'test-key-1' });
    await pool.generateContent({ prompt: 'x' });
    // key#1 is disabled; its instance moved to the spare key#4.
    expect(pool.getPoolStats().models['gemini-2.5-flash']!.keyDistribution).toEqual({ 'key#4': 1, 'key#2': 1, 'key#3': 1 });
    pool.resetPool();
    expect(pool.getPoolStats().models['gemini-2.5-flash']!.keyDistribution).toEqual({ 'key#1': 1, 'key#2': 1, 'key#3': 1 });
    expect(pool.getPoolStats().models['gemini-2.5-flash']!.activeInstances).toBe(2);
  });

  it('bad options are TypeErrors naming the option and value', () => {
    expect(() => new GeminiAPIPool({ keys: [] })).toThrow(/at least one API key/);
    expect(() => new GeminiAPIPool({ keys: ['test-key-1'], poolSize: 0 })).toThrow('`poolSize` must be an integer >= 1 (got 0)');
    expect(() => new GeminiAPIPool({ keys: ['test-key-1'], strategy: 'fast' as never })).toThrow(/`strategy` must be one of .* \(got fast\)/);
  });

  it('rejects bad requests without calling Gemini', async () => {
    const { pool, fake } = await setup();
    expect(await pool.generateContent({ prompt: '  ' })).toMatchObject({ ok: false, attempts: 0, error: { kind: 'bad_request' } });
    expect(await pool.generateContent({ prompt: 'x', model: 'nope' })).toMatchObject({ ok: false, error: { kind: 'bad_request', message: expect.stringContaining('not served') } });
    expect(await pool.generateContent({ prompt: 'x', temperature: 3 })).toMatchObject({ ok: false, error: { kind: 'bad_request' } });
    expect(fake.requests).toHaveLength(0);
  });
});

describe('no key ever leaks', () => {
  it('not in logs, results, errors, stats or events, whatever happens', async () => {
    const keys = ['AIzaSyLEAKCHECK-0000000000000000001', 'AIzaSyLEAKCHECK-0000000000000000002', 'proj-x:AIzaSyLEAKCHECK-0000000000000000003', 'proj-x:AIzaSyLEAKCHECK-0000000000000000004'];
    const secrets = keys.map((k) => k.replace(/^proj-x:/, ''));
    const { pool, fake, lines, events } = await setup({
      keys,
      logLevel: 'trace',
      fake: { keys: [{ key: secrets[0]!, status: 'invalid' }, { key: secrets[1]! }, { key: secrets[2]!, project: 'proj-x', status: 'billing' }, { key: secrets[3]!, project: 'proj-x' }] },
      pool: { poolSize: 4, attemptTimeoutMs: 100 },
    });
    // An upstream error that echoes a key must still not reach anyone.
    fake.inject({ type: 'status', status: 400, message: `bad request for ${secrets[1]}` });
    fake.inject({ type: 'status', status: 500 }, { key: secrets[1]! });
    fake.inject({ type: 'rateLimit', per: 'minute', retryDelay: '1s' }, { key: secrets[1]! });
    fake.inject({ type: 'hang' }, { key: secrets[1]! });
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await pool.generateContent({ prompt: `p${i}` }));
    const s = pool.generateContentStream({ prompt: 's' });
    for await (const _ of s) void _;
    results.push(await s.result);
    await pool.recheckDisabledKeys();
    const everything = JSON.stringify({ lines, results, events, keys: pool.getKeyStats(), pool: pool.getPoolStats() });
    for (const secret of secrets) {
      expect(everything).not.toContain(secret);
      expect(everything).not.toContain(secret.slice(-8));
    }
    expect(lines.length).toBeGreaterThan(3);
    expect(results.some((r) => r.ok)).toBe(true);
    expect(results.some((r) => !r.ok && r.error.kind === 'bad_request')).toBe(true);
    expect(everything).toContain('key#1');
  });
});

describe('a stream that has started', () => {
  it('is not cut by the deadline while it keeps coming', async () => {
    // The first piece at once, then one every 40 ms for about 400 ms, against a 150 ms
    // deadline: once the first piece is out, the answer belongs to the user and only
    // silence may end it.
    const factory: ClientFactory = () => ({
      generate: async () => ({ text: '', usage: { promptTokens: 0, outputTokens: 0, totalTokens: 0 } }),
      async *stream(_req, signal) {
        for (let i = 0; i < 10; i++) {
          if (i > 0) await new Promise((r) => setTimeout(r, 40));
          if (signal?.aborted) throw signal.reason;
          yield { text: `${i}`, ...(i === 9 ? { finishReason: 'STOP', usage: { promptTokens: 1, outputTokens: 10, totalTokens: 11 } } : {}) };
        }
      },
      check: async () => undefined,
      ...noNative,
    });
    const pool = new GeminiAPIPool({ keys: ['test-key-1'], clientFactory: factory, timers: false, deadlineMs: 150 });
    const s = pool.generateContentStream({ prompt: 'count' });
    let text = '';
    for await (const d of s) text += d;
    expect(await s.result).toMatchObject({ ok: true, text: '0123456789' });
    expect(text).toBe('0123456789');
    await pool.close();
  });

  it('before its first piece, the deadline still ends it', async () => {
    const factory: ClientFactory = () => ({
      generate: async () => ({ text: '', usage: { promptTokens: 0, outputTokens: 0, totalTokens: 0 } }),
      async *stream(_req, signal) {
        // Silent until aborted (bounded: 5 s at most).
        await untilAborted(signal);
        if (signal?.aborted) throw signal.reason;
        yield { text: 'late' };
      },
      check: async () => undefined,
      ...noNative,
    });
    const pool = new GeminiAPIPool({ keys: ['test-key-1'], clientFactory: factory, timers: false, deadlineMs: 100, maxAttempts: 1 });
    const s = pool.generateContentStream({ prompt: 'x' });
    for await (const _ of s) void _;
    expect(await s.result).toMatchObject({ ok: false, error: { kind: 'timeout' } });
    await pool.close();
  });
});
