/**
 * Tests of the fake Gemini server, driven through the REAL @google/genai SDK.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError, GoogleGenAI } from '@google/genai';
import { FakeGemini } from '../../fakes/fakeGemini.ts';
import type { Fault, FakeGeminiOptions } from '../../fakes/fakeGemini.ts';

const MODEL = 'gemini-2.5-flash';

const fakes: FakeGemini[] = [];
async function startFake(options?: FakeGeminiOptions): Promise<FakeGemini> {
  const fake = await FakeGemini.start(options);
  fakes.push(fake);
  return fake;
}
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});

function client(fake: FakeGemini, apiKey = 'k1', apiVersion = 'v1beta'): GoogleGenAI {
  return new GoogleGenAI({ apiKey, apiVersion, httpOptions: { baseUrl: fake.url } });
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to fail');
}

async function apiError(p: Promise<unknown>): Promise<ApiError> {
  const e = await caught(p);
  expect(e).toBeInstanceOf(ApiError);
  return e as ApiError;
}

interface GoogleErrorJson {
  code: number;
  status: string;
  message: string;
  details?: Array<Record<string, unknown> & { '@type': string }>;
}
/** The SDK puts the JSON error body, re-serialized, in `ApiError.message`. */
function errorOf(e: ApiError): GoogleErrorJson {
  return (JSON.parse(e.message) as { error: GoogleErrorJson }).error;
}
function detail(err: GoogleErrorJson, suffix: string): (Record<string, unknown> & { '@type': string }) | undefined {
  return err.details?.find((d) => d['@type'].endsWith(suffix));
}
function quotaId(err: GoogleErrorJson): unknown {
  const qf = detail(err, 'QuotaFailure') as { violations: Array<{ quotaId: string }> } | undefined;
  return qf?.violations[0]?.quotaId;
}
function retryDelay(err: GoogleErrorJson): unknown {
  return detail(err, 'RetryInfo')?.retryDelay;
}

const gen = (ai: GoogleGenAI, text = 'hello', model = MODEL) => ai.models.generateContent({ model, contents: text });

/** Waits until `cond` holds: bounded by a count of short waits, never a fixed sleep. */
async function until(cond: () => boolean, maxWaits = 1_000): Promise<void> {
  for (let i = 0; i < maxWaits && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
}

describe('FakeGemini: happy paths', () => {
  it('answers generateContent with candidates, usageMetadata and modelVersion', async () => {
    const fake = await startFake();
    const res = await gen(client(fake), 'hello there');
    expect(res.text).toBe('echo: hello there');
    expect(res.candidates?.[0]?.finishReason).toBe('STOP');
    expect(res.candidates?.[0]?.index).toBe(0);
    expect(res.candidates?.[0]?.content?.role).toBe('model');
    expect(res.usageMetadata).toMatchObject({ promptTokenCount: 3, candidatesTokenCount: 5, totalTokenCount: 8 });
    expect(res.modelVersion).toBe(MODEL);
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]).toMatchObject({
      key: 'k1',
      project: 'k1',
      model: MODEL,
      route: 'generateContent',
      apiVersion: 'v1beta',
      status: 200,
    });
    expect(fake.requests[0]?.body.contents[0].parts[0].text).toBe('hello there');
  });

  it('passes key, project, model, lastUserText and systemInstruction to reply()', async () => {
    const fake = await startFake({ keys: [{ key: 'k1', project: 'p1' }] });
    const seen: string[] = [];
    fake.setReply((ctx) => {
      seen.push(`${ctx.key}|${ctx.project}|${ctx.model}|${ctx.lastUserText}|${ctx.systemInstruction}`);
      return 'custom';
    });
    const res = await client(fake).models.generateContent({
      model: 'gemini-2.5-pro',
      contents: [
        { role: 'user', parts: [{ text: 'first' }] },
        { role: 'model', parts: [{ text: 'reply' }] },
        { role: 'user', parts: [{ text: 'sec' }, { text: 'ond' }] },
      ],
      config: { systemInstruction: 'be nice' },
    });
    expect(res.text).toBe('custom');
    expect(seen).toEqual(['k1|p1|gemini-2.5-pro|second|be nice']);
  });

  it('streams several chunks, the last with STOP and usageMetadata', async () => {
    const fake = await startFake({ streamChunkChars: 5 });
    const stream = await client(fake).models.generateContentStream({ model: MODEL, contents: 'hello world' });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.length).toBe(4); // "echo: hello world" = 17 chars
    expect(chunks.map((c) => c.text).join('')).toBe('echo: hello world');
    const last = chunks[chunks.length - 1];
    expect(last?.candidates?.[0]?.finishReason).toBe('STOP');
    expect(last?.usageMetadata).toMatchObject({ promptTokenCount: 3, candidatesTokenCount: 5, totalTokenCount: 8 });
    expect(chunks[0]?.candidates?.[0]?.finishReason).toBeUndefined();
    expect(chunks[0]?.candidates?.[0]?.content?.role).toBe('model');
    expect(fake.requests[0]).toMatchObject({ route: 'streamGenerateContent', status: 200 });
  });

  it('grounds an answer when the request has the Google Search tool, and only then', async () => {
    const fake = await startFake();
    const grounded = await client(fake).models.generateContent({ model: MODEL, contents: 'who won', config: { tools: [{ googleSearch: {} }] } });
    const meta = grounded.candidates?.[0]?.groundingMetadata;
    expect(meta?.webSearchQueries).toEqual(['who won']);
    expect(meta?.groundingChunks?.map((c) => c.web?.title)).toEqual(['example.com', 'en.wikipedia.org']);
    const plain = await client(fake).models.generateContent({ model: MODEL, contents: 'who won' });
    expect(plain.candidates?.[0]?.groundingMetadata).toBeUndefined();
    fake.setGrounding(() => [{ title: 'one', uri: 'https://one.example/' }]);
    const stream = await client(fake).models.generateContentStream({ model: MODEL, contents: 'x', config: { tools: [{ googleSearch: {} }] } });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.at(-1)?.candidates?.[0]?.groundingMetadata?.groundingChunks).toEqual([{ web: { uri: 'https://one.example/', title: 'one' } }]);
  });

  it('serves both v1 and v1beta', async () => {
    const fake = await startFake();
    expect((await gen(client(fake, 'k1', 'v1'))).text).toBe('echo: hello');
    expect((await gen(client(fake, 'k1', 'v1beta'))).text).toBe('echo: hello');
    expect(fake.requests.map((r) => r.apiVersion)).toEqual(['v1', 'v1beta']);
  });

  it('lists and gets models, counts tokens, embeds', async () => {
    const fake = await startFake();
    const ai = client(fake);
    const names: string[] = [];
    for await (const m of await ai.models.list()) names.push(m.name ?? '');
    expect(names).toContain('models/gemini-2.5-flash');
    expect(names).toContain('models/text-embedding-004');
    const model = await ai.models.get({ model: 'gemini-2.5-pro' });
    expect(model.name).toBe('models/gemini-2.5-pro');
    const tokens = await ai.models.countTokens({ model: MODEL, contents: 'hello world!' });
    expect(tokens.totalTokens).toBe(3);
    const emb = await ai.models.embedContent({
      model: 'text-embedding-004',
      contents: ['a', 'b'],
      config: { outputDimensionality: 8 },
    });
    expect(emb.embeddings).toHaveLength(2);
    expect(emb.embeddings?.[0]?.values).toHaveLength(8);
    expect(fake.requests.map((r) => r.route)).toEqual(['listModels', 'getModel', 'countTokens', 'batchEmbedContents']);
  });

  it('answers the raw routes: ?key= query, embedContent, missing key', async () => {
    const fake = await startFake();
    const res = await fetch(`${fake.url}/v1beta/models/text-embedding-004:embedContent?key=q1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ content: { parts: [{ text: 'hi' }] } }),
    });
    expect(res.status).toBe(200);
    const json = (await res.json()) as { embedding: { values: number[] } };
    expect(json.embedding.values).toHaveLength(768);
    expect(fake.requests[0]).toMatchObject({ key: 'q1', route: 'embedContent', status: 200 });

    const noKey = await fetch(`${fake.url}/v1beta/models`);
    expect(noKey.status).toBe(403);
    expect(((await noKey.json()) as { error: GoogleErrorJson }).error.status).toBe('PERMISSION_DENIED');
  });

  it('applies latency (option and fault): the answer is held back, not lost', async () => {
    for (const how of ['option', 'fault'] as const) {
      const fake = await startFake();
      if (how === 'option') fake.setLatency(60_000);
      else fake.inject({ type: 'latency', ms: 60_000 });
      const pending = caught(gen(client(fake)));
      // Recorded, and the answer held back: closing the fake ends the wait without an answer.
      await until(() => fake.requests.length === 1 && fake.holding === 1);
      await fake.close();
      expect(((await pending) as Error).message).toBe('fetch failed');
      expect(fake.requests[0]?.fault).toBe(how === 'fault' ? 'latency' : undefined);
    }
  });
});

describe('FakeGemini: keys', () => {
  it('rejects an invalid key with 400 API_KEY_INVALID, and setKey can flip it', async () => {
    const fake = await startFake({ keys: [{ key: 'bad', status: 'invalid' }] });
    const e = await apiError(gen(client(fake, 'bad')));
    expect(e.status).toBe(400);
    const err = errorOf(e);
    expect(err).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT', message: 'API key not valid. Please pass a valid API key.' });
    expect(detail(err, 'ErrorInfo')).toMatchObject({
      reason: 'API_KEY_INVALID',
      domain: 'googleapis.com',
      metadata: { service: 'generativelanguage.googleapis.com' },
    });
    fake.setKey({ key: 'bad' });
    expect((await gen(client(fake, 'bad'))).text).toBe('echo: hello');
    fake.setKey({ key: 'bad', status: 'invalid' });
    expect((await apiError(gen(client(fake, 'bad')))).status).toBe(400);
  });

  it('rejects unknown keys when rejectUnknownKeys', async () => {
    const fake = await startFake({ rejectUnknownKeys: true, keys: [{ key: 'good' }] });
    expect((await gen(client(fake, 'good'))).text).toBe('echo: hello');
    const e = await apiError(gen(client(fake, 'stranger')));
    expect(detail(errorOf(e), 'ErrorInfo')?.reason).toBe('API_KEY_INVALID');
  });

  it('answers suspended (403 CONSUMER_SUSPENDED) and billing (402) keys, also on listModels', async () => {
    const fake = await startFake({
      keys: [
        { key: 'sus', status: 'suspended' },
        { key: 'bill', status: 'billing' },
      ],
    });
    const sus = await apiError(gen(client(fake, 'sus')));
    expect(sus.status).toBe(403);
    expect(errorOf(sus).status).toBe('PERMISSION_DENIED');
    expect(detail(errorOf(sus), 'ErrorInfo')?.reason).toBe('CONSUMER_SUSPENDED');
    const bill = await apiError(gen(client(fake, 'bill')));
    expect(bill.status).toBe(402);
    expect(errorOf(bill).status).toBe('FAILED_PRECONDITION');
    const list = await apiError(client(fake, 'sus').models.list());
    expect(list.status).toBe(403);
  });

  it('keys errors come before faults', async () => {
    const fake = await startFake({ keys: [{ key: 'bad', status: 'invalid' }] });
    fake.inject({ type: 'status', status: 503 });
    expect((await apiError(gen(client(fake, 'bad')))).status).toBe(400);
    expect((await apiError(gen(client(fake, 'good')))).status).toBe(503);
  });
});

describe('FakeGemini: quotas', () => {
  it('gives a PerMinute 429 then a PerDay 429 on an injected clock', async () => {
    let t = 0;
    const fake = await startFake({ now: () => t, quotas: { rpm: 2, rpd: 3 }, dayMs: 86_400_000 });
    const ai = client(fake);
    await gen(ai);
    t = 1_000;
    await gen(ai);
    t = 5_000;
    let e = await apiError(gen(ai));
    expect(e.status).toBe(429);
    let err = errorOf(e);
    expect(err.status).toBe('RESOURCE_EXHAUSTED');
    expect(err.message).toContain('You exceeded your current quota');
    expect(quotaId(err)).toBe('GenerateRequestsPerMinutePerProjectPerModel-FreeTier');
    expect(detail(err, 'QuotaFailure')).toMatchObject({
      violations: [
        {
          quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests',
          quotaDimensions: { model: MODEL, location: 'global' },
          quotaValue: '2',
        },
      ],
    });
    expect(detail(err, 'Help')).toBeDefined();
    expect(retryDelay(err)).toBe('55s'); // the request at t=0 leaves the window at 60 s

    t = 60_500; // the first request left the window, the second did not
    await gen(ai);
    e = await apiError(gen(ai));
    err = errorOf(e);
    expect(quotaId(err)).toBe('GenerateRequestsPerDayPerProjectPerModel-FreeTier');
    expect(retryDelay(err)).toBe(`${86_400 - 60.5}s`);

    t = 86_400_000; // next day
    expect((await gen(ai)).text).toBe('echo: hello');
    expect(fake.requests.map((r) => r.status)).toEqual([200, 200, 429, 200, 429, 200]);
  });

  it('uses the Pacific calendar day when dayMs is unset', async () => {
    let t = Date.UTC(2025, 0, 15, 7, 59, 0); // 23:59 PST on Jan 14
    const fake = await startFake({ now: () => t, quotas: { rpd: 1 } });
    const ai = client(fake);
    await gen(ai);
    const err = errorOf(await apiError(gen(ai)));
    expect(quotaId(err)).toBe('GenerateRequestsPerDayPerProjectPerModel-FreeTier');
    expect(retryDelay(err)).toBe('60s');
    t = Date.UTC(2025, 0, 15, 8, 0, 0); // midnight PST
    expect((await gen(ai)).text).toBe('echo: hello');
  });

  it('gives fractional retryDelay with a scaled-down minute', async () => {
    let t = 0;
    const fake = await startFake({ now: () => t, quotas: { rpm: 1 }, minuteMs: 500 });
    const ai = client(fake);
    await gen(ai);
    t = 150;
    expect(retryDelay(errorOf(await apiError(gen(ai))))).toBe('0.35s');
    t = 500;
    expect((await gen(ai)).text).toBe('echo: hello');
  });

  it('shares quota between two keys of one project, per model', async () => {
    const t = 0;
    const fake = await startFake({
      now: () => t,
      keys: [
        { key: 'a1', project: 'P' },
        { key: 'a2', project: 'P' },
        { key: 'b1' },
      ],
      quotas: { rpm: 1 },
    });
    await gen(client(fake, 'a1'));
    const e = await apiError(gen(client(fake, 'a2')));
    expect(e.status).toBe(429);
    expect((await gen(client(fake, 'b1'))).text).toBe('echo: hello'); // other project
    expect((await gen(client(fake, 'a2'), 'x', 'gemini-2.5-pro')).text).toBe('echo: x'); // other model
    fake.resetUsage();
    expect((await gen(client(fake, 'a2'))).text).toBe('echo: hello');
    expect(fake.countsByKey()).toEqual({ a1: 1, a2: 3, b1: 1 });
    expect(fake.requestsFor('a2').map((r) => r.status)).toEqual([429, 200, 200]);
  });

  it('takes quotas per project and model from a function; setQuotas replaces them', async () => {
    const t = 0;
    const fake = await startFake({
      now: () => t,
      quotas: (project, model) => (project === 'k1' && model === 'gemini-2.5-pro' ? { rpm: 1 } : undefined),
    });
    const ai = client(fake);
    await gen(ai, 'a', 'gemini-2.5-pro');
    expect((await apiError(gen(ai, 'a', 'gemini-2.5-pro'))).status).toBe(429);
    await gen(ai);
    await gen(ai);
    fake.setQuotas(undefined);
    expect((await gen(ai, 'a', 'gemini-2.5-pro')).text).toBe('echo: a');
  });

  it('limits input tokens per minute', async () => {
    const t = 0;
    const fake = await startFake({ now: () => t, quotas: { tpm: 10 } });
    const ai = client(fake);
    await gen(ai, 'x'.repeat(24)); // 6 tokens
    const err = errorOf(await apiError(gen(ai, 'y'.repeat(24))));
    expect(quotaId(err)).toBe('GenerateContentInputTokensPerModelPerMinute-FreeTier');
    expect(retryDelay(err)).toBe('60s');
  });

  it('never charges listModels, countTokens or failed requests', async () => {
    const t = 0;
    const fake = await startFake({ now: () => t, quotas: { rpm: 1 } });
    const ai = client(fake);
    fake.inject({ type: 'status', status: 503 });
    await apiError(gen(ai));
    await ai.models.list();
    await ai.models.countTokens({ model: MODEL, contents: 'x' });
    await gen(ai); // the one allowed request
    expect((await apiError(gen(ai))).status).toBe(429);
    await ai.models.list();
  });
});

describe('FakeGemini: faults', () => {
  const cases: Array<{ status: 500 | 502 | 503 | 504 | 400 | 404 | 429 | 401 | 403 | 402; google: string }> = [
    { status: 500, google: 'INTERNAL' },
    { status: 503, google: 'UNAVAILABLE' },
    { status: 504, google: 'DEADLINE_EXCEEDED' },
    { status: 400, google: 'INVALID_ARGUMENT' },
    { status: 404, google: 'NOT_FOUND' },
    { status: 429, google: 'RESOURCE_EXHAUSTED' },
    { status: 401, google: 'UNAUTHENTICATED' },
    { status: 403, google: 'PERMISSION_DENIED' },
    { status: 402, google: 'FAILED_PRECONDITION' },
  ];
  it.each(cases)('status $status arrives as ApiError with $google', async ({ status, google }) => {
    const fake = await startFake();
    fake.inject({ type: 'status', status });
    const e = await apiError(gen(client(fake)));
    expect(e.status).toBe(status);
    expect(errorOf(e)).toMatchObject({ code: status, status: google });
    expect(fake.requests[0]).toMatchObject({ status, fault: 'status' });
  });

  it('503 says the model is overloaded; a 429 status fault is bare; a custom message is kept', async () => {
    const fake = await startFake();
    const ai = client(fake);
    fake.inject({ type: 'status', status: 503 });
    expect(errorOf(await apiError(gen(ai))).message).toBe('The model is overloaded. Please try again later.');
    fake.inject({ type: 'status', status: 429 });
    expect(errorOf(await apiError(gen(ai))).details).toBeUndefined();
    fake.inject({ type: 'status', status: 500, message: 'boom' });
    expect(errorOf(await apiError(gen(ai))).message).toBe('boom');
  });

  it('502 is an HTML page, wrapped by the SDK with statusText', async () => {
    const fake = await startFake();
    fake.inject({ type: 'status', status: 502 });
    const e = await apiError(gen(client(fake)));
    expect(e.status).toBe(502);
    const err = errorOf(e);
    expect(err.status).toBe('Bad Gateway');
    expect(err.message).toContain('<!DOCTYPE html>');
  });

  it('injects rateLimit 429s with QuotaFailure, RetryInfo optional', async () => {
    const fake = await startFake();
    const ai = client(fake);
    fake.inject({ type: 'rateLimit', per: 'minute', retryDelay: '37s' });
    let err = errorOf(await apiError(gen(ai)));
    expect(quotaId(err)).toBe('GenerateRequestsPerMinutePerProjectPerModel-FreeTier');
    expect(retryDelay(err)).toBe('37s');
    fake.inject({ type: 'rateLimit', per: 'day', retryDelay: null, quotaValue: '250' });
    err = errorOf(await apiError(gen(ai)));
    expect(quotaId(err)).toBe('GenerateRequestsPerDayPerProjectPerModel-FreeTier');
    expect(detail(err, 'RetryInfo')).toBeUndefined();
    const qf = detail(err, 'QuotaFailure') as { violations: Array<{ quotaValue: string }> } | undefined;
    expect(qf?.violations[0]?.quotaValue).toBe('250');
    expect(fake.requests.map((r) => r.fault)).toEqual(['rateLimit', 'rateLimit']);
  });

  it('matches faults by key, model and route, and consumes them `times` times', async () => {
    const fake = await startFake();
    fake.inject({ type: 'status', status: 503 }, { key: 'k2', times: 2 });
    fake.inject({ type: 'status', status: 500 }, { model: 'models/gemini-2.5-pro' });
    fake.inject({ type: 'status', status: 504 }, { route: 'listModels', times: Infinity });
    expect((await gen(client(fake, 'k1'))).text).toBe('echo: hello');
    expect((await apiError(gen(client(fake, 'k2')))).status).toBe(503);
    expect((await apiError(gen(client(fake, 'k2')))).status).toBe(503);
    expect((await gen(client(fake, 'k2'))).text).toBe('echo: hello');
    expect((await apiError(gen(client(fake, 'k1'), 'x', 'gemini-2.5-pro'))).status).toBe(500);
    expect((await gen(client(fake, 'k1'), 'x', 'gemini-2.5-pro')).text).toBe('echo: x');
    for (let i = 0; i < 3; i++) expect((await apiError(client(fake).models.list())).status).toBe(504);
    fake.clearFaults();
    await client(fake).models.list();
  });

  it('hang is ended by config.abortSignal', async () => {
    const fake = await startFake();
    fake.inject({ type: 'hang' });
    const e = await caught(
      client(fake).models.generateContent({ model: MODEL, contents: 'x', config: { abortSignal: AbortSignal.timeout(150) } }),
    );
    expect((e as Error).name).toBe('AbortError');
    expect(fake.requests[0]).toMatchObject({ status: 0, fault: 'hang' });
  });

  it('hang is ended by httpOptions.timeout, also for streams', async () => {
    const fake = await startFake();
    fake.inject({ type: 'hang' }, { times: 2 });
    const ai = new GoogleGenAI({ apiKey: 'k1', apiVersion: 'v1beta', httpOptions: { baseUrl: fake.url, timeout: 150 } });
    expect(((await caught(gen(ai))) as Error).name).toBe('AbortError');
    expect(((await caught(ai.models.generateContentStream({ model: MODEL, contents: 'x' }))) as Error).name).toBe('AbortError');
  });

  it('close() resolves fast while a request hangs; the client sees fetch failed', async () => {
    const fake = await startFake();
    fake.inject({ type: 'hang' });
    const pending = caught(gen(client(fake)));
    await until(() => fake.requests.length === 1);
    await fake.close();
    const e = (await pending) as Error;
    expect(e).toBeInstanceOf(TypeError);
    expect(e.message).toBe('fetch failed');
  });

  it('reset gives TypeError: fetch failed (cause: other side closed)', async () => {
    const fake = await startFake();
    fake.inject({ type: 'reset' }, { times: 2 });
    const e = (await caught(gen(client(fake)))) as TypeError & { cause?: { code?: string } };
    expect(e).toBeInstanceOf(TypeError);
    expect(e.message).toBe('fetch failed');
    expect(e.cause?.code).toBe('UND_ERR_SOCKET');
    const s = await caught(client(fake).models.generateContentStream({ model: MODEL, contents: 'x' }));
    expect((s as Error).message).toBe('fetch failed');
    expect(fake.requests.map((r) => [r.status, r.fault])).toEqual([
      [0, 'reset'],
      [0, 'reset'],
    ]);
    expect((await gen(client(fake))).text).toBe('echo: hello');
  });

  it('cutStream yields N chunks then throws TypeError: terminated', async () => {
    const fake = await startFake({ streamChunkChars: 4 });
    fake.inject({ type: 'cutStream', afterChunks: 2 });
    const stream = await client(fake).models.generateContentStream({ model: MODEL, contents: 'a long enough prompt' });
    const got: string[] = [];
    const e = await caught(
      (async () => {
        for await (const c of stream) got.push(c.text ?? '');
      })(),
    );
    expect(got).toEqual(['echo', ': a ']);
    expect(e).toBeInstanceOf(TypeError);
    expect((e as Error).message).toBe('terminated');
    expect(fake.requests[0]).toMatchObject({ status: 200, fault: 'cutStream' });
  });

  it('cutStream does not match unary requests', async () => {
    const fake = await startFake();
    fake.inject({ type: 'cutStream', afterChunks: 1 });
    expect((await gen(client(fake))).text).toBe('echo: hello');
    expect(fake.requests[0]?.fault).toBeUndefined();
  });

  it('malformed gives a SyntaxError (unary and stream)', async () => {
    const fake = await startFake();
    fake.inject({ type: 'malformed' }, { times: 2 });
    expect(await caught(gen(client(fake)))).toBeInstanceOf(SyntaxError);
    const e = await caught(
      (async () => {
        for await (const _ of await client(fake).models.generateContentStream({ model: MODEL, contents: 'x' })) {
          // drain
        }
      })(),
    );
    expect(e).toBeInstanceOf(SyntaxError);
    expect(fake.requests.map((r) => [r.status, r.fault])).toEqual([
      [200, 'malformed'],
      [200, 'malformed'],
    ]);
  });

  it('blocked gives promptFeedback.blockReason and no candidates', async () => {
    const fake = await startFake();
    fake.inject({ type: 'blocked' });
    const res = await gen(client(fake));
    expect(res.promptFeedback?.blockReason).toBe('SAFETY');
    expect(res.candidates).toBeUndefined();
    expect(res.text).toBeUndefined();
    fake.inject({ type: 'blocked', reason: 'PROHIBITED_CONTENT' });
    const chunks = [];
    for await (const c of await client(fake).models.generateContentStream({ model: MODEL, contents: 'x' })) chunks.push(c);
    expect(chunks).toHaveLength(1);
    expect(chunks[0]?.promptFeedback?.blockReason).toBe('PROHIBITED_CONTENT');
  });

  it('finishReason SAFETY has no text; RECITATION has partial text', async () => {
    const fake = await startFake();
    fake.setReply(() => '0123456789');
    fake.inject({ type: 'finishReason', reason: 'SAFETY' });
    const safety = await gen(client(fake));
    expect(safety.candidates?.[0]?.finishReason).toBe('SAFETY');
    expect(safety.text).toBeUndefined();
    fake.inject({ type: 'finishReason', reason: 'RECITATION' });
    const rec = await gen(client(fake));
    expect(rec.candidates?.[0]?.finishReason).toBe('RECITATION');
    expect(rec.text).toBe('01234');
  });

  it('shape faults wait for a request within quota', async () => {
    const t = 0;
    const fake = await startFake({ now: () => t, quotas: { rpm: 1 } });
    const ai = client(fake);
    await gen(ai);
    fake.inject({ type: 'blocked' });
    expect((await apiError(gen(ai))).status).toBe(429);
    fake.resetUsage();
    expect((await gen(ai)).promptFeedback?.blockReason).toBe('SAFETY');
  });

  it('answers 404 NOT_FOUND for an unknown model', async () => {
    const fake = await startFake();
    const e = await apiError(gen(client(fake), 'x', 'gemini-9-ultra'));
    expect(e.status).toBe(404);
    const err = errorOf(e);
    expect(err.status).toBe('NOT_FOUND');
    expect(err.message).toContain('models/gemini-9-ultra is not found for API version v1beta');
    expect((await apiError(client(fake).models.get({ model: 'nope' }))).status).toBe(404);
  });

  it('a fault with no match applies to any route', async () => {
    const fake = await startFake();
    const fault: Fault = { type: 'status', status: 503 };
    fake.inject(fault);
    expect((await apiError(client(fake).models.list())).status).toBe(503);
    expect(fake.requests[0]).toMatchObject({ route: 'listModels', model: null, status: 503 });
  });
});

describe('FakeGemini: hostile bodies and pacing', () => {
  it('body serves any bytes with any status', async () => {
    const fake = await startFake();
    fake.inject({ type: 'body', status: 429, body: '{"error":{"code":429,"details":{}}}' });
    const e = await apiError(gen(client(fake)));
    expect(e.status).toBe(429);
    expect(JSON.parse(e.message)).toEqual({ error: { code: 429, details: {} } });
    fake.inject({ type: 'body', status: 403, body: '<html><body>Forbidden by proxy</body></html>', contentType: 'text/html' });
    const html = await apiError(gen(client(fake)));
    expect(html.status).toBe(403);
    expect(html.message).toContain('Forbidden by proxy');
    fake.inject({ type: 'body', status: 500, body: new Uint8Array([0xff, 0x00, 0xfe]) });
    expect(await caught(gen(client(fake)))).toBeInstanceOf(SyntaxError);
    expect(fake.requests.map((r) => [r.status, r.fault])).toEqual([[429, 'body'], [403, 'body'], [500, 'body']]);
  });

  it('trickle sends the headers at once, then the body one byte at a time', async () => {
    const fake = await startFake();
    fake.inject({ type: 'trickle', intervalMs: 1 });
    const res = await fetch(`${fake.url}/v1beta/models/${MODEL}:generateContent`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-goog-api-key': 'k1' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }),
    });
    expect(res.status).toBe(200);
    let reads = 0;
    let text = '';
    const decoder = new TextDecoder();
    for await (const piece of res.body!) {
      reads++;
      text += decoder.decode(piece as Uint8Array, { stream: true });
    }
    expect(JSON.parse(text).candidates[0].content.parts[0].text).toBe('echo: hi');
    expect(reads).toBeGreaterThan(10);
    expect(fake.requests[0]).toMatchObject({ status: 200, fault: 'trickle' });
  });

  it('sseComments sends comment lines before the data, or instead of it', async () => {
    const fake = await startFake();
    fake.inject({ type: 'sseComments', count: 3, intervalMs: 1 });
    let text = '';
    for await (const c of await client(fake).models.generateContentStream({ model: MODEL, contents: 'hi' })) text += c.text ?? '';
    expect(text).toBe('echo: hi');
    fake.inject({ type: 'sseComments', count: 2, intervalMs: 1, data: false });
    const raw = await fetch(`${fake.url}/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-goog-api-key': 'k1' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }),
    });
    expect(await raw.text()).toBe(': keep-alive\r\n\r\n: keep-alive\r\n\r\n');
    // Unary requests are not shaped by it.
    fake.inject({ type: 'sseComments', count: 1, intervalMs: 1 });
    expect((await gen(client(fake))).text).toBe('echo: hello');
    expect(fake.requests.map((r) => r.fault)).toEqual(['sseComments', 'sseComments', undefined]);
  });

  it('usage replaces usageMetadata verbatim; empty answers without text', async () => {
    const fake = await startFake();
    fake.inject({ type: 'usage', usageMetadata: { promptTokenCount: '3', totalTokenCount: 'lots', candidatesTokenCount: -1 } });
    const r = await gen(client(fake));
    expect(r.usageMetadata).toEqual({ promptTokenCount: '3', totalTokenCount: 'lots', candidatesTokenCount: -1 });
    fake.inject({ type: 'empty' });
    const empty = await gen(client(fake));
    expect(empty.candidates?.[0]).toMatchObject({ finishReason: 'STOP' });
    expect(empty.text).toBeUndefined();
    fake.inject({ type: 'empty', finishReason: 'MAX_TOKENS' }, { route: 'streamGenerateContent' });
    const chunks = [];
    for await (const c of await client(fake).models.generateContentStream({ model: MODEL, contents: 'hi' })) chunks.push(c);
    expect(chunks.map((c) => c.text ?? '').join('')).toBe('');
    expect(chunks.at(-1)?.candidates?.[0]?.finishReason).toBe('MAX_TOKENS');
  });
});

describe('FakeGemini: reply errors', () => {
  it('a throwing reply() answers 500 INTERNAL and is recorded', async () => {
    const fake = await startFake();
    fake.setReply(() => {
      throw new Error('test reply failed');
    });
    const e = await apiError(gen(client(fake)));
    expect(e.status).toBe(500);
    expect(errorOf(e).status).toBe('INTERNAL');
    expect(fake.requests[0]).toMatchObject({ status: 500 });
    fake.setReply(undefined);
    expect((await gen(client(fake))).text).toBe('echo: hello');
  });
});
