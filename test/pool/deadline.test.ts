/**
 * The deadline and the attempt timeout hold whatever the upstream does: a body that
 * trickles one byte at a time, SSE comment lines and no data, a stream that starts and then
 * falls silent; and an empty answer is no answer. Real timers, short timeouts, and outcomes
 * asserted (kind, attempts, which key answered), never durations: without the bound these
 * tests would hang past the test timeout.
 */
import { describe, expect, it } from 'vitest';
import type { ClientFactory } from '../../src/gemini/adapter.ts';
import { GeminiAPIPool } from '../../src/pool/GeminiAPIPool.ts';
import { poolFixture } from './fixture.ts';
import { TestClock, untilAborted, noNative } from '../helpers.ts';
import { systemClock } from '../../src/pool/time.ts';

// The real clock: the deadline is wall time here, and every timeout is short.
const setup = poolFixture(() => systemClock, { keys: ['test-key-1', 'test-key-2'], poolSize: 2, attemptTimeoutMs: 10_000 });
// The same, with a clock that only moves when told (for the empty-answer tests: no timing at all).
const setupStill = poolFixture(() => new TestClock(), { keys: ['test-key-1', 'test-key-2'], poolSize: 2, attemptTimeoutMs: 10_000 });

describe('a body that trickles', () => {
  it('the attempt timeout and then the deadline end generateContent while bytes keep coming', async () => {
    const { pool, fake } = await setup({ pool: { attemptTimeoutMs: 200, deadlineMs: 1_000 } });
    // About 500 bytes at one every 50 ms: 25 s of trickle on every key.
    fake.inject({ type: 'trickle', intervalMs: 50 }, { times: Infinity });
    const r = await pool.generateContent({ prompt: 'hi' });
    expect(r).toMatchObject({ ok: false, error: { kind: 'timeout' } });
    // Every attempt ended by a timer (the last may end before the fake has read it).
    expect(r.attempts).toBeGreaterThanOrEqual(2);
    expect(fake.requests.length).toBeLessThanOrEqual(r.attempts);
  });

  it('the attempt timeout ends a trickling answer and the next key answers', async () => {
    const { pool, fake } = await setup({ pool: { attemptTimeoutMs: 200, deadlineMs: 30_000 } });
    fake.inject({ type: 'trickle', intervalMs: 50 }, { key: 'test-key-1' });
    const r = await pool.generateContent({ prompt: 'hi' });
    expect(r).toMatchObject({ ok: true, keyId: 'key#2', attempts: 2, text: 'echo: hi' });
    // Slowness is not the key's fault.
    expect(pool.keyState(0, 'gemini-2.5-flash').status).toBe('active');
  });

  it('a stream trickling before its first text is bounded too', async () => {
    const { pool, fake } = await setup({ pool: { attemptTimeoutMs: 200, deadlineMs: 500 } });
    fake.inject({ type: 'trickle', intervalMs: 50 }, { times: Infinity });
    const s = pool.generateContentStream({ prompt: 'hi' });
    for await (const _ of s) void _;
    expect(await s.result).toMatchObject({ ok: false, error: { kind: 'timeout' } });
  });
});

describe('a cancelled stream', () => {
  it('passes on no text after the cancel, not even pieces the client had already read', async () => {
    const { pool } = await setup({ fake: { streamChunkChars: 1 } });
    const cancel = new AbortController();
    const s = pool.generateContentStream({ prompt: 'a prompt long enough to stream many pieces', signal: cancel.signal });
    let afterCancel = 0;
    for await (const _ of s) {
      if (cancel.signal.aborted) afterCancel++;
      cancel.abort();
    }
    expect(await s.result).toMatchObject({ ok: false, error: { kind: 'timeout', message: 'the request was cancelled' } });
    expect(afterCancel).toBe(0);
  });
});

describe('SSE comment lines', () => {
  it('comments without data do not hold a stream past the attempt timeout and the deadline', async () => {
    const { pool, fake } = await setup({ pool: { attemptTimeoutMs: 200, deadlineMs: 500 } });
    fake.inject({ type: 'sseComments', count: 10_000, intervalMs: 20 }, { times: Infinity });
    const s = pool.generateContentStream({ prompt: 'hi' });
    let text = '';
    for await (const d of s) text += d;
    expect(await s.result).toMatchObject({ ok: false, error: { kind: 'timeout' } });
    expect(text).toBe('');
  });

  it('a stream that ends after comments and no data is an empty answer, retried on another key', async () => {
    const { pool, fake } = await setupStill();
    fake.inject({ type: 'sseComments', count: 3, intervalMs: 1, data: false }, { key: 'test-key-1' });
    const s = pool.generateContentStream({ prompt: 'hi' });
    let text = '';
    for await (const d of s) text += d;
    expect(await s.result).toMatchObject({ ok: true, keyId: 'key#2', attempts: 2, text: 'echo: hi' });
    expect(text).toBe('echo: hi');
  });

  it('comments before the data are harmless', async () => {
    const { pool, fake } = await setupStill();
    fake.inject({ type: 'sseComments', count: 3, intervalMs: 1 });
    const s = pool.generateContentStream({ prompt: 'hi' });
    for await (const _ of s) void _;
    expect(await s.result).toMatchObject({ ok: true, keyId: 'key#1', attempts: 1, text: 'echo: hi' });
  });
});

describe('an empty answer is not ok', () => {
  it('is retried on another key; on every key it fails as transient "empty answer"', async () => {
    const { pool, fake } = await setupStill();
    fake.inject({ type: 'empty' }, { key: 'test-key-1' });
    expect(await pool.generateContent({ prompt: 'hi' })).toMatchObject({ ok: true, keyId: 'key#2', attempts: 2 });
    fake.inject({ type: 'empty' }, { times: Infinity });
    expect(await pool.generateContent({ prompt: 'hi' })).toMatchObject({ ok: false, error: { kind: 'transient', message: 'empty answer' } });
    const s = pool.generateContentStream({ prompt: 'hi' });
    for await (const _ of s) void _;
    expect(await s.result).toMatchObject({ ok: false, error: { kind: 'transient', message: 'empty answer' } });
  });

  it('out of output tokens before any text: a bad request, not retried', async () => {
    const { pool, fake } = await setupStill();
    fake.inject({ type: 'empty', finishReason: 'MAX_TOKENS' });
    expect(await pool.generateContent({ prompt: 'hi', maxOutputTokens: 5 })).toMatchObject({
      ok: false,
      attempts: 1,
      error: { kind: 'bad_request', message: expect.stringContaining('maxOutputTokens') },
    });
    expect(pool.getKeyStats().totals.errors).toBe(0);
  });
});

describe('the attempt timeout', () => {
  it('is our own timer, not the connection\'s once-a-second one', async () => {
    const { pool, fake } = await setup({ pool: { attemptTimeoutMs: 50, maxAttempts: 1 } });
    fake.inject({ type: 'hang' });
    // The connection's timeouts (undici) report 'did not answer in time' about a second late;
    // our timer's message names the 50 ms it was given.
    expect(await pool.generateContent({ prompt: 'hi' })).toMatchObject({ ok: false, error: { kind: 'timeout', message: 'no answer within 50 ms' } });
  });

  it('a started stream that falls silent ends after the attempt timeout, keeping its text', async () => {
    const factory: ClientFactory = () => ({
      generate: async () => ({ text: '', usage: { promptTokens: 0, outputTokens: 0, totalTokens: 0 } }),
      async *stream(_req, signal) {
        yield { text: 'first ' };
        // Then nothing, until aborted (bounded: 5 s at most).
        await untilAborted(signal);
        if (signal?.aborted) throw signal.reason;
        yield { text: 'late' };
      },
      check: async () => undefined,
      ...noNative,
    });
    const pool = new GeminiAPIPool({ keys: ['test-key-1', 'test-key-2'], clientFactory: factory, timers: false, attemptTimeoutMs: 100, deadlineMs: 60_000 });
    const s = pool.generateContentStream({ prompt: 'x' });
    let text = '';
    for await (const d of s) text += d;
    expect(await s.result).toMatchObject({ ok: false, attempts: 1, partialText: 'first ', error: { kind: 'timeout', message: 'the answer stopped for 100 ms' } });
    expect(text).toBe('first ');
    await pool.close();
  });
});
