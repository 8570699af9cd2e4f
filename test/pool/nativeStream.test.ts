/**
 * The pool's Gemini-native stream (`streamNative`), against the fake Gemini through the real
 * adapter: Gemini's chunks pass as they arrive, the request fails over only before the first
 * one, and refusals, empty streams and cancels end it as for every request.
 */
import { describe, expect, it } from 'vitest';
import type { NativeBody, NativeStream } from '../../src/pool/nativeTypes.ts';
import { TestClock, until } from '../helpers.ts';
import { poolFixture } from './fixture.ts';

const MODEL = 'gemini-2.5-flash';
const KEYS = ['test-key-1', 'test-key-2', 'test-key-3'];
const setup = poolFixture(() => new TestClock(), { keys: KEYS, poolSize: 3, attemptTimeoutMs: 5_000, models: [MODEL] });

const ask = (text: string) => ({ contents: [{ role: 'user', parts: [{ text }] }] });
const textOf = (chunks: NativeBody[]): string => chunks.map((c) => (c as any).candidates?.[0]?.content?.parts?.[0]?.text ?? '').join('');

async function drain(s: NativeStream): Promise<NativeBody[]> {
  const chunks: NativeBody[] = [];
  for await (const c of s) chunks.push(c);
  return chunks;
}

describe('streamNative passes Gemini\'s chunks on as they arrive', () => {
  it('the first chunk reaches the caller while Gemini is still sending; the chunks are Gemini\'s, the last one the result', async () => {
    const { pool, fake } = await setup({ fake: { streamChunkChars: 5 } });
    // One byte a millisecond: the answer takes a while to leave the fake.
    fake.inject({ type: 'trickle', intervalMs: 1 }, { route: 'streamGenerateContent' });
    const s = pool.streamNative({ body: ask('abcd'), client: 'gateway:test' });
    const chunks: NativeBody[] = [];
    let sendingAtFirst: boolean | undefined;
    for await (const c of s) {
      sendingAtFirst ??= fake.holding > 0;
      chunks.push(c);
    }
    expect(sendingAtFirst).toBe(true);
    expect(chunks).toHaveLength(2);
    expect(textOf(chunks)).toBe('echo: abcd');
    for (const c of chunks) expect(c).toMatchObject({ modelVersion: MODEL, responseId: expect.stringMatching(/^fake-/) });
    const r = await s.result;
    const last = chunks.at(-1) as any;
    expect(last.candidates[0].finishReason).toBe('STOP');
    expect(r).toEqual({
      ok: true,
      body: last,
      keyId: expect.stringMatching(/^key#\d$/),
      model: MODEL,
      attempts: 1,
      latencyMs: expect.any(Number),
      usage: { promptTokens: last.usageMetadata.promptTokenCount, outputTokens: last.usageMetadata.candidatesTokenCount, totalTokens: last.usageMetadata.totalTokenCount },
    });
    expect(fake.requests[0]).toMatchObject({ url: `/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`, body: ask('abcd') });
  });

  it('fails over before the first chunk: a 429 or a 503 costs the caller nothing', async () => {
    const { pool, fake } = await setup({ fake: { streamChunkChars: 4 } });
    fake.inject({ type: 'rateLimit', per: 'minute', retryDelay: '20s' }, { route: 'streamGenerateContent' });
    fake.inject({ type: 'status', status: 503 }, { route: 'streamGenerateContent' });
    const s = pool.streamNative({ body: ask('hello') });
    const chunks = await drain(s);
    expect(textOf(chunks)).toBe('echo: hello');
    expect(await s.result).toMatchObject({ ok: true, attempts: 3 });
    expect(fake.requests.map((r) => r.status)).toEqual([429, 503, 200]);
    expect(new Set(fake.requests.map((r) => r.key)).size).toBe(3);
  });

  it('does not fail over once a chunk went out: a cut stream ends it, and the result says why', async () => {
    const { pool, fake } = await setup({ fake: { streamChunkChars: 4 } });
    fake.inject({ type: 'cutStream', afterChunks: 2 });
    const s = pool.streamNative({ body: ask('a longer answer') });
    const chunks = await drain(s);
    expect(textOf(chunks)).toBe('echo: a ');
    const r = await s.result;
    expect(r).toMatchObject({ ok: false, attempts: 1, keyId: `key#${KEYS.indexOf(fake.requests[0]!.key) + 1}`, error: { kind: 'transient' } });
    expect(fake.requests).toHaveLength(1);
  });

  it('a refusal as the first chunk is not passed on: the result is blocked with Gemini\'s answer', async () => {
    const { pool, fake } = await setup();
    fake.inject({ type: 'blocked', reason: 'SAFETY' }, { route: 'streamGenerateContent' });
    const s = pool.streamNative({ body: ask('something bad') });
    expect(await drain(s)).toEqual([]);
    const r = await s.result;
    expect(r).toMatchObject({ ok: false, attempts: 1, status: 200, error: { kind: 'blocked', reason: 'SAFETY' }, body: { promptFeedback: { blockReason: 'SAFETY' } } });
    expect(fake.requests).toHaveLength(1);
    expect(pool.getKeyStats().totals.errors).toBe(0);
  });

  it('a stream with no content at all is an empty answer: another key is tried, and nothing empty went out', async () => {
    const { pool, fake } = await setup();
    fake.inject({ type: 'empty' }, { route: 'streamGenerateContent' });
    const s = pool.streamNative({ body: ask('hi') });
    const chunks = await drain(s);
    expect(textOf(chunks)).toBe('echo: hi');
    expect(await s.result).toMatchObject({ ok: true, attempts: 2 });
    fake.inject({ type: 'empty', finishReason: 'MAX_TOKENS' }, { route: 'streamGenerateContent', times: 3 });
    const capped = pool.streamNative({ body: ask('think hard') });
    expect(await drain(capped)).toEqual([]);
    expect(await capped.result).toMatchObject({ ok: false, attempts: 1, status: 200, error: { kind: 'bad_request', message: expect.stringContaining('output token limit') } });
  });

  it('a function call streams as one chunk, with its thought signature', async () => {
    const { pool } = await setup({ fake: { functionCallReply: true, thoughtSignatures: true } });
    const s = pool.streamNative({ body: { ...ask('weather?'), tools: [{ functionDeclarations: [{ name: 'weather' }] }] } });
    const chunks = await drain(s);
    expect(chunks).toHaveLength(1);
    expect(chunks[0]).toMatchObject({ candidates: [{ content: { parts: [{ functionCall: { name: 'weather' }, thoughtSignature: expect.any(String) }] } }] });
    expect(await s.result).toMatchObject({ ok: true, body: chunks[0] });
  });

  it('cancelling through the signal aborts the call to Gemini', async () => {
    // Only the cancel can end the call in time: no attempt timer or deadline comes near.
    const { pool, fake } = await setup({ pool: { attemptTimeoutMs: 60_000, deadlineMs: 120_000 } });
    fake.inject({ type: 'hang' });
    const ctl = new AbortController();
    const s = pool.streamNative({ body: ask('hi'), signal: ctl.signal });
    await until(() => fake.requests.length === 1);
    ctl.abort();
    await until(() => fake.requests[0]?.clientClosed === true);
    expect(await drain(s)).toEqual([]);
    expect(await s.result).toMatchObject({ ok: false, attempts: 1, error: { kind: 'timeout', message: 'the request was cancelled' } });
    expect(fake.requests).toHaveLength(1);
  });

  it('an unknown model: bad_request with no attempt, and the iterator ends', async () => {
    const { pool, fake } = await setup();
    const s = pool.streamNative({ model: 'gemini-9', body: ask('x') });
    expect(await drain(s)).toEqual([]);
    expect(await s.result).toMatchObject({ ok: false, attempts: 0, error: { kind: 'bad_request' } });
    expect(fake.requests).toHaveLength(0);
  });

  it('is counted like every request', async () => {
    const { pool, fake } = await setup();
    fake.inject({ type: 'status', status: 500 }, { route: 'streamGenerateContent' });
    const s = pool.streamNative({ body: ask('hi') });
    await drain(s);
    const r = await s.result;
    expect(r.ok).toBe(true);
    expect(pool.getPoolStats()).toMatchObject({ totalRequests: 1, failedRequests: 0 });
    expect(pool.getKeyStats().totals).toMatchObject({ usage: 2, requestsToday: 2, tokensToday: r.ok ? r.usage.totalTokens : -1 });
  });
});
