/**
 * The pool's Gemini-native path (`callNative`), against the fake Gemini through the real
 * adapter: whole request bodies go out as given, Gemini's JSON comes back as it came, with
 * the same failover, quota, statistics and redaction as every request.
 */
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory.ts';
import { pacificDay } from '../../src/pool/time.ts';
import { TestClock, until } from '../helpers.ts';
import { poolFixture } from './fixture.ts';

const MODEL = 'gemini-2.5-flash';
const EMBEDDING = 'gemini-embedding-001';
const KEYS = ['test-key-1', 'test-key-2', 'test-key-3'];
const setup = poolFixture(() => new TestClock(), { keys: KEYS, poolSize: 3, attemptTimeoutMs: 5_000, models: [MODEL, EMBEDDING] });

/** A 1x1 PNG, as a client would inline an image. */
const PIXEL = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

/** A GenerateContentRequest using every part of the API a gateway client may send. */
const FULL_BODY = {
  contents: [
    { role: 'user', parts: [{ text: 'What is in this picture?' }, { inlineData: { mimeType: 'image/png', data: PIXEL } }] },
    { role: 'model', parts: [{ text: 'A single pixel.' }] },
    { role: 'user', parts: [{ text: 'Describe it as JSON.' }] },
  ],
  systemInstruction: { parts: [{ text: 'Answer briefly.' }] },
  tools: [{ functionDeclarations: [{ name: 'get_colour', description: 'Names a colour', parameters: { type: 'OBJECT', properties: { hex: { type: 'STRING' } }, required: ['hex'] } }] }],
  toolConfig: { functionCallingConfig: { mode: 'AUTO' } },
  generationConfig: {
    temperature: 0.2,
    maxOutputTokens: 256,
    responseMimeType: 'application/json',
    responseSchema: { type: 'OBJECT', properties: { text: { type: 'STRING' } }, required: ['text'] },
    thinkingConfig: { thinkingBudget: 0 },
  },
  safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_ONLY_HIGH' }],
};

const ask = (text: string) => ({ contents: [{ role: 'user', parts: [{ text }] }] });

describe('callNative: Gemini\'s own JSON, both ways', () => {
  it('a full body reaches Gemini unchanged, the key only in the header, and the answer comes back as Gemini sent it', async () => {
    const { pool, fake } = await setup();
    const r = await pool.callNative({ method: 'generateContent', body: structuredClone(FULL_BODY), client: 'gateway:test' });
    expect(fake.requests).toHaveLength(1);
    const seen = fake.requests[0]!;
    expect(seen.body).toEqual(FULL_BODY);
    expect(seen.url).toBe(`/v1beta/models/${MODEL}:generateContent`);
    expect(KEYS).toContain(seen.key);
    expect(seen.url).not.toContain('key');
    expect(r).toMatchObject({ ok: true, model: MODEL, attempts: 1, keyId: `key#${KEYS.indexOf(seen.key) + 1}` });
    if (!r.ok) return;
    // responseMimeType was honoured, and the answer is Gemini's JSON (ids, usage details).
    const part = (r.body as any).candidates[0].content.parts[0];
    expect(JSON.parse(part.text)).toEqual({ text: 'echo: Describe it as JSON.' });
    expect(r.body).toMatchObject({ modelVersion: MODEL, responseId: expect.stringMatching(/^fake-/), usageMetadata: { promptTokensDetails: [{ modality: 'TEXT' }] } });
    const u = (r.body as any).usageMetadata;
    expect(r.usage).toEqual({ promptTokens: u.promptTokenCount, outputTokens: u.candidatesTokenCount, totalTokens: u.totalTokenCount });
  });

  it('fields the SDK would rename or drop come back untouched', async () => {
    const { pool, fake } = await setup();
    const answer = {
      candidates: [
        {
          content: { parts: [{ text: 'Quoted.' }], role: 'model' },
          finishReason: 'STOP',
          citationMetadata: { citationSources: [{ startIndex: 0, endIndex: 7, uri: 'https://example.org/q' }] },
          aFieldFromTheFuture: { kept: true },
        },
      ],
      usageMetadata: { promptTokenCount: '3', candidatesTokenCount: 2, totalTokenCount: 5 },
    };
    fake.inject({ type: 'body', status: 200, body: JSON.stringify(answer) });
    const r = await pool.callNative({ method: 'generateContent', body: ask('quote something') });
    expect(r).toEqual(expect.objectContaining({ ok: true, body: answer, usage: { promptTokens: 3, outputTokens: 2, totalTokens: 5 } }));
  });

  it('a function call without text is an answer, and Gemini 3\'s thought signature must come back with it', async () => {
    const { pool, fake } = await setup({ fake: { functionCallReply: true, thoughtSignatures: true } });
    const body = { ...ask('What colour is #ff0000?'), tools: FULL_BODY.tools };
    const r = await pool.callNative({ method: 'generateContent', body });
    expect(r).toMatchObject({ ok: true, attempts: 1 });
    if (!r.ok) return;
    const call = (r.body as any).candidates[0].content;
    expect(call.parts[0]).toMatchObject({ functionCall: { name: 'get_colour', args: {} }, thoughtSignature: expect.any(String) });
    const result = { role: 'user', parts: [{ functionResponse: { name: 'get_colour', response: { name: 'red' } } }] };
    const next = await pool.callNative({ method: 'generateContent', body: { ...body, contents: [...body.contents, call, result] } });
    expect(next).toMatchObject({ ok: true, body: { candidates: [{ content: { parts: [{ text: expect.any(String) }] } }] } });
    // Without the signature Gemini 3 refuses: a bad request, not retried on another key.
    const unsigned = { role: 'model', parts: [{ functionCall: call.parts[0].functionCall }] };
    const refused = await pool.callNative({ method: 'generateContent', body: { ...body, contents: [...body.contents, unsigned, result] } });
    expect(refused).toMatchObject({ ok: false, attempts: 1, status: 400, error: { kind: 'bad_request', message: expect.stringContaining('thought_signature') } });
    expect(fake.requests).toHaveLength(3);
  });

  it('countTokens, embedContent and batchEmbedContents answer in Gemini\'s shapes', async () => {
    const { pool, fake } = await setup();
    const counted = await pool.callNative({ method: 'countTokens', body: ask('twelve chars') });
    expect(counted).toMatchObject({ ok: true, model: MODEL, body: { totalTokens: 3, promptTokensDetails: [{ modality: 'TEXT', tokenCount: 3 }] } });
    const one = await pool.callNative({ method: 'embedContent', model: EMBEDDING, body: { content: { parts: [{ text: 'hello' }] }, outputDimensionality: 8 } });
    expect(one).toMatchObject({ ok: true, model: EMBEDDING, body: { embedding: { values: expect.any(Array) } } });
    if (one.ok) expect((one.body as any).embedding.values).toHaveLength(8);
    const batch = await pool.callNative({
      method: 'batchEmbedContents',
      model: EMBEDDING,
      body: { requests: ['a', 'b'].map((text) => ({ model: `models/${EMBEDDING}`, content: { parts: [{ text }] } })) },
    });
    expect(batch).toMatchObject({ ok: true, body: { embeddings: [{ values: expect.any(Array) }, { values: expect.any(Array) }] } });
    expect(fake.requests.map((r) => r.url)).toEqual([
      `/v1beta/models/${MODEL}:countTokens`,
      `/v1beta/models/${EMBEDDING}:embedContent`,
      `/v1beta/models/${EMBEDDING}:batchEmbedContents`,
    ]);
  });

  it('an unknown model or method, or a body that is no object: bad_request with no attempt', async () => {
    const { pool, fake } = await setup();
    expect(await pool.callNative({ method: 'generateContent', model: 'gemini-9', body: ask('x') })).toEqual({
      ok: false,
      attempts: 0,
      model: 'gemini-9',
      error: { kind: 'bad_request', message: `model gemini-9 is not served here (available: ${MODEL}, ${EMBEDDING})` },
    });
    expect(await pool.callNative({ method: 'models/../files' as never, body: ask('x') })).toMatchObject({ ok: false, attempts: 0, error: { kind: 'bad_request' } });
    expect(await pool.callNative({ method: 'generateContent', body: [] as never })).toMatchObject({ ok: false, attempts: 0, error: { kind: 'bad_request' } });
    expect(fake.requests).toHaveLength(0);
    expect(pool.getPoolStats().totalRequests).toBe(0);
  });
});

describe('callNative fails over, refuses and cancels like every request', () => {
  it('a 429 per minute cools that key and the request moves to another key at once', async () => {
    const { pool, fake, clock, events } = await setup();
    fake.inject({ type: 'rateLimit', per: 'minute', retryDelay: '30s' });
    const r = await pool.callNative({ method: 'generateContent', body: ask('hi') });
    expect(r).toMatchObject({ ok: true, attempts: 2 });
    const [first, second] = fake.requests;
    expect([first?.status, second?.status]).toEqual([429, 200]);
    expect(second?.key).not.toBe(first?.key);
    const limited = KEYS.indexOf(first!.key);
    expect(pool.keyState(limited, MODEL)).toMatchObject({ status: 'cooling', kind: 'rate_limited', until: clock.t + 30_000 });
    expect(events).toContainEqual(['keyCooldown', expect.objectContaining({ keyId: `key#${limited + 1}`, model: MODEL })]);
    expect(clock.sleeps).toEqual([]);
  });

  it('a blocked prompt is blocked with Gemini\'s answer: no retry, no penalty', async () => {
    const { pool, fake } = await setup();
    fake.inject({ type: 'blocked', reason: 'PROHIBITED_CONTENT' });
    const r = await pool.callNative({ method: 'generateContent', body: ask('something bad') });
    expect(r).toMatchObject({ ok: false, attempts: 1, status: 200, keyId: expect.stringMatching(/^key#\d$/), error: { kind: 'blocked', reason: 'PROHIBITED_CONTENT' } });
    if (r.ok) return;
    expect(r.body).toMatchObject({ promptFeedback: { blockReason: 'PROHIBITED_CONTENT' }, usageMetadata: { promptTokenCount: 4 } });
    // A candidate stopped for safety is a refusal too.
    fake.inject({ type: 'finishReason', reason: 'SAFETY' });
    const stopped = await pool.callNative({ method: 'generateContent', body: ask('again') });
    expect(stopped).toMatchObject({ ok: false, attempts: 1, error: { kind: 'blocked', reason: 'SAFETY' }, body: { candidates: [{ finishReason: 'SAFETY' }] } });
    expect(fake.requests).toHaveLength(2);
    expect(pool.getKeyStats().totals.errors).toBe(0);
    // The text path's results keep their shape: no status, key or body there.
    fake.inject({ type: 'blocked' });
    expect(await pool.generateContent({ prompt: 'bad' })).toEqual({ ok: false, attempts: 1, model: MODEL, error: { kind: 'blocked', reason: 'SAFETY', message: 'the prompt was blocked (SAFETY)' } });
  });

  it('an answer with no content at all is an empty answer: another key is tried', async () => {
    const { pool, fake } = await setup();
    fake.inject({ type: 'empty' });
    expect(await pool.callNative({ method: 'generateContent', body: ask('hi') })).toMatchObject({ ok: true, attempts: 2 });
    fake.inject({ type: 'empty', finishReason: 'MAX_TOKENS' }, { times: 3 });
    expect(await pool.callNative({ method: 'generateContent', body: ask('hi') })).toMatchObject({ ok: false, attempts: 1, status: 200, error: { kind: 'bad_request' } });
  });

  it('any other failure is the classified error with Gemini\'s status and the last key; never a key in it', async () => {
    const { pool, fake } = await setup({ pool: { maxAttempts: 2 } });
    fake.inject({ type: 'status', status: 503 }, { times: 2 });
    const r = await pool.callNative({ method: 'generateContent', body: ask('hi') });
    expect(r).toMatchObject({ ok: false, attempts: 2, status: 503, keyId: `key#${KEYS.indexOf(fake.requests[1]!.key) + 1}`, error: { kind: 'overloaded' } });
    fake.inject({ type: 'status', status: 400, message: `Invalid value for test-key-1 and test-key-2 and test-key-3` });
    const bad = await pool.callNative({ method: 'generateContent', body: ask('hi') });
    expect(bad).toMatchObject({ ok: false, attempts: 1, status: 400, error: { kind: 'bad_request' } });
    expect(JSON.stringify(bad)).not.toMatch(/test-key-/);
  });

  it('cancelling through the signal aborts the call to Gemini', async () => {
    // Only the cancel can end the call in time: no attempt timer or deadline comes near.
    const { pool, fake } = await setup({ pool: { attemptTimeoutMs: 60_000, deadlineMs: 120_000 } });
    fake.inject({ type: 'hang' });
    const ctl = new AbortController();
    const pending = pool.callNative({ method: 'generateContent', body: ask('hi'), signal: ctl.signal });
    await until(() => fake.requests.length === 1);
    ctl.abort();
    await until(() => fake.requests[0]?.clientClosed === true);
    expect(await pending).toMatchObject({ ok: false, attempts: 1, error: { kind: 'timeout', message: 'the request was cancelled' } });
    expect(fake.requests).toHaveLength(1);
    expect(pool.getKeyStats().totals.errors).toBe(0);
  });
});

describe('native requests are counted like every request', () => {
  it('requests, failures, usage, today\'s requests and tokens, and the store', async () => {
    const { pool, fake, clock } = await setup();
    const store = new MemoryStore();
    await pool.attachStore(store);
    const text = await pool.generateContent({ prompt: 'one' });
    fake.inject({ type: 'rateLimit', per: 'minute', retryDelay: '10s' });
    const native = await pool.callNative({ method: 'generateContent', body: ask('two') });
    fake.inject({ type: 'blocked' });
    await pool.callNative({ method: 'generateContent', body: ask('three') });
    expect(text.ok && native.ok).toBe(true);
    expect(pool.getPoolStats()).toMatchObject({ totalRequests: 3, failedRequests: 1 });
    const totals = pool.getKeyStats().totals;
    const tokens = (text.ok ? text.usage.totalTokens : 0) + (native.ok ? native.usage.totalTokens : 0);
    // Four calls reached Gemini (one 429); the 429 is the key's error.
    expect(totals).toMatchObject({ usage: 4, errors: 1, requestsToday: 4, tokensToday: tokens });
    await pool.flush();
    const rows = await store.loadCounters(pool.keys.map((k) => k.hash), pacificDay(clock.now()));
    expect(rows.reduce((n, r) => n + r.requestsToday, 0)).toBe(4);
    expect(rows.reduce((n, r) => n + r.tokensToday, 0)).toBe(tokens);
  });

  it('countTokens counts against no quota: no slot taken, not in today\'s requests', async () => {
    const { pool, fake, clock } = await setup({ pool: { limits: { defaults: { rpm: 1 } } } });
    for (let i = 0; i < 3; i++) expect(await pool.callNative({ method: 'countTokens', body: ask(`count ${i}`) })).toMatchObject({ ok: true });
    expect(await pool.callNative({ method: 'generateContent', body: ask('now') })).toMatchObject({ ok: true, attempts: 1 });
    expect(clock.sleeps).toEqual([]);
    expect(pool.getKeyStats().totals).toMatchObject({ usage: 4, requestsToday: 1 });
    expect(fake.requests.map((r) => r.route)).toEqual(['countTokens', 'countTokens', 'countTokens', 'generateContent']);
  });
});
