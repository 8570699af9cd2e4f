import { describe, expect, it } from 'vitest';
import { createGatewayApp, startGateway } from '../../src/gateway/server.ts';
import type { NativeResult } from '../../src/pool/nativeTypes.ts';
import { deps, ListTokens, ScriptedPool, token } from './doubles.ts';

const MODEL = 'gemini-2.5-flash';
const ANSWER = { candidates: [{ content: { role: 'model', parts: [{ text: 'hi there' }] }, finishReason: 'STOP' }], usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 2, totalTokenCount: 5 } };
const ok = (body: Record<string, unknown> = ANSWER): NativeResult => ({ ok: true, body, keyId: 'key#2', model: MODEL, attempts: 1, latencyMs: 5, usage: { promptTokens: 3, outputTokens: 2, totalTokens: 5 } });
const secret = (n: number): string => ['gp', `${n}`.repeat(43)].join('-');

function post(body: unknown, headers: Record<string, string> = {}) {
  return { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) };
}

describe('Gemini-native routes', () => {
  it('passes the whole body to the pool and answers with Gemini\'s own JSON, logging key#N and usage', async () => {
    const pool = new ScriptedPool();
    pool.scripts.push({ result: ok() });
    const d = deps(pool);
    const app = createGatewayApp(d);
    const body = { contents: [{ role: 'user', parts: [{ text: 'hi' }, { inlineData: { mimeType: 'image/png', data: 'AAAA' } }] }], systemInstruction: { parts: [{ text: 'be brief' }] }, tools: [{ functionDeclarations: [{ name: 'f' }] }], generationConfig: { responseMimeType: 'application/json', thinkingConfig: { thinkingBudget: 0 } }, safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }] };
    const res = await app.request(`/v1beta/models/${MODEL}:generateContent`, post(body));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(ANSWER);
    expect(pool.calls[0]).toMatchObject({ model: MODEL, method: 'generateContent', body, client: 'anonymous' });
    expect(d.rows[0]).toMatchObject({ token: 'anonymous', route: `/v1beta/models/${MODEL}:generateContent`, model: MODEL, keyId: 'key#2', status: 200, attempts: 1, tokensIn: 3, tokensOut: 2, streamed: false });
    expect(d.rows[0]!.requestBody).toBeUndefined();
  });

  it('serves the same under /v1, and countTokens, embedContent, batchEmbedContents', async () => {
    const pool = new ScriptedPool();
    const app = createGatewayApp(deps(pool));
    for (const method of ['countTokens', 'embedContent'] as const) {
      pool.scripts.push({ result: ok({ totalTokens: 3 }) });
      const res = await app.request(`/v1/models/${method === 'embedContent' ? 'gemini-embedding-001' : MODEL}:${method}`, post({ contents: [] }));
      expect(res.status).toBe(200);
      expect(pool.calls.at(-1)!.method).toBe(method);
    }
    pool.scripts.push({ result: ok({ embeddings: [] }) });
    const res = await app.request('/v1beta/models/gemini-embedding-001:batchEmbedContents', post({ requests: [{ content: { parts: [{ text: 'a' }] } }] }));
    expect(res.status).toBe(200);
    expect((pool.calls.at(-1)!.body as { requests: Array<{ model: string }> }).requests[0]!.model).toBe('models/gemini-embedding-001');
  });

  it('refuses a batch that names another model, unknown models, unknown methods and path tricks', async () => {
    const pool = new ScriptedPool();
    const app = createGatewayApp(deps(pool));
    const batch = await app.request('/v1beta/models/gemini-embedding-001:batchEmbedContents', post({ requests: [{ model: 'models/other', content: {} }] }));
    expect(batch.status).toBe(400);
    expect(((await batch.json()) as { error: { message: string } }).error.message).toMatch(/requests\[0\]\.model/);
    const unknown = await app.request('/v1beta/models/gemini-1.0-ultra:generateContent', post({ contents: [] }));
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: 404, status: 'NOT_FOUND' } });
    expect((await app.request(`/v1beta/models/${MODEL}:tunedModels`, post({}))).status).toBe(404);
    expect((await app.request('/v1beta/files', post({}))).status).toBe(404);
    expect((await app.request(`/v1beta/models/..%2F..%2Fetc:generateContent`, post({}))).status).toBe(404);
    expect(pool.calls).toHaveLength(0);
  });

  it('answers bad JSON and oversize bodies in Gemini\'s shape without calling the pool', async () => {
    const pool = new ScriptedPool();
    const app = createGatewayApp(deps(pool, { maxBodyBytes: 1024 }));
    const bad = await app.request(`/v1beta/models/${MODEL}:generateContent`, post('{"contents": ['));
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 400, status: 'INVALID_ARGUMENT' } });
    const big = await app.request(`/v1beta/models/${MODEL}:generateContent`, post({ contents: [{ parts: [{ text: 'x'.repeat(4096) }] }] }));
    expect(big.status).toBe(413);
    expect(pool.calls).toHaveLength(0);
  });

  it.each([
    ['rate_limited', 429, 'RESOURCE_EXHAUSTED'],
    ['quota_exhausted', 429, 'RESOURCE_EXHAUSTED'],
    ['overloaded', 503, 'UNAVAILABLE'],
    ['timeout', 504, 'DEADLINE_EXCEEDED'],
    ['bad_request', 400, 'INVALID_ARGUMENT'],
    ['auth', 503, 'UNAVAILABLE'],
    ['billing', 503, 'UNAVAILABLE'],
  ] as const)('maps a pool failure of kind %s to %i %s', async (kind, status, googleStatus) => {
    const pool = new ScriptedPool();
    pool.scripts.push({ result: { ok: false, error: { kind, message: 'what Gemini said', ...(status === 429 ? { retryAfterMs: 37_500 } : {}) }, attempts: 2, model: MODEL, keyId: 'key#1' } });
    const d = deps(pool);
    const res = await createGatewayApp(d).request(`/v1beta/models/${MODEL}:generateContent`, post({ contents: [] }));
    expect(res.status).toBe(status);
    const body = (await res.json()) as { error: { code: number; status: string; message: string; details?: unknown[] } };
    expect(body.error).toMatchObject({ code: status, status: googleStatus });
    if (status === 429) {
      expect(res.headers.get('retry-after')).toBe('38');
      expect(body.error.details).toEqual([{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '38s' }]);
    }
    if (kind === 'auth' || kind === 'billing') expect(body.error.message).toMatch(/no working key/);
    expect(d.rows[0]).toMatchObject({ status, kind, attempts: 2, keyId: 'key#1' });
  });

  it('answers a blocked prompt with 400 and Gemini\'s promptFeedback', async () => {
    const pool = new ScriptedPool();
    const feedback = { blockReason: 'SAFETY', safetyRatings: [] };
    pool.scripts.push({ result: { ok: false, error: { kind: 'blocked', message: 'blocked', reason: 'SAFETY' }, attempts: 1, model: MODEL, body: { promptFeedback: feedback } } });
    const res = await createGatewayApp(deps(pool)).request(`/v1beta/models/${MODEL}:generateContent`, post({ contents: [] }));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ promptFeedback: feedback, error: { code: 400 } });
  });

  it('takes the client token from x-goog-api-key, ?key= or Bearer; refuses missing, unknown and revoked ones with 401 and other models with 403', async () => {
    const pool = new ScriptedPool();
    const good = secret(1);
    const revoked = secret(2);
    const tokens = new ListTokens(new Map([token('app', good, { models: [MODEL] }), token('old', revoked, { revokedAt: 5 })]));
    const d = deps(pool, { tokens });
    const app = createGatewayApp(d);
    const path = `/v1beta/models/${MODEL}:generateContent`;
    for (const how of [{ 'x-goog-api-key': good }, { authorization: `Bearer ${good}` }] as Array<Record<string, string>>) {
      pool.scripts.push({ result: ok() });
      expect((await app.request(path, post({ contents: [] }, how))).status).toBe(200);
    }
    pool.scripts.push({ result: ok() });
    expect((await app.request(`${path}?key=${good}`, post({ contents: [] }))).status).toBe(200);
    expect(pool.calls.map((c) => c.client)).toEqual(['app', 'app', 'app']);
    const none = await app.request(path, post({ contents: [] }));
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ error: { code: 401, status: 'UNAUTHENTICATED' } });
    expect((await app.request(path, post({}, { 'x-goog-api-key': secret(3) }))).status).toBe(401);
    const old = await app.request(path, post({}, { 'x-goog-api-key': revoked }));
    expect(old.status).toBe(401);
    expect(JSON.stringify(await old.json())).toMatch(/revoked/);
    const other = await app.request('/v1beta/models/gemini-2.5-pro:generateContent', post({ contents: [] }, { 'x-goog-api-key': good }));
    expect(other.status).toBe(403);
    expect(pool.calls).toHaveLength(3);
  });

  it('refuses a client over its limit with 429 and Retry-After, before the pool', async () => {
    const pool = new ScriptedPool();
    const good = secret(4);
    const d = deps(pool, { tokens: new ListTokens(new Map([token('app', good, { limits: { rpm: 1 } })])) });
    d.limits.refuse = { limit: 'rpm', retryAfterMs: 12_300 };
    const res = await createGatewayApp(d).request(`/v1beta/models/${MODEL}:generateContent`, post({ contents: [] }, { 'x-goog-api-key': good }));
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('13');
    expect(JSON.stringify(await res.json())).toMatch(/requests a minute/);
    expect(pool.calls).toHaveLength(0);
    expect(d.rows[0]).toMatchObject({ token: 'app', status: 429, attempts: 0 });
  });

  it('logs every request, also those refused before the pool, without the query string', async () => {
    const pool = new ScriptedPool();
    const good = secret(5);
    const d = deps(pool, { tokens: new ListTokens(new Map([token('app', good)])) });
    const app = createGatewayApp(d);
    await app.request(`/v1beta/models/${MODEL}:generateContent?key=${secret(6)}`, post({ contents: [] }));
    await app.request(`/v1beta/models/${MODEL}:generateContent`, post('{nope', { 'x-goog-api-key': good }));
    await app.request('/v1/chat/completions', post({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], n: 3 }, { authorization: `Bearer ${good}` }));
    await app.request('/v1beta/models', { headers: { 'x-goog-api-key': good } });
    expect(d.rows.map((r) => [r.token, r.route, r.model, r.status, r.attempts])).toEqual([
      ['-', `/v1beta/models/${MODEL}:generateContent`, MODEL, 401, 0],
      ['app', `/v1beta/models/${MODEL}:generateContent`, MODEL, 400, 0],
      ['app', '/v1/chat/completions', '', 400, 0],
      ['app', '/v1beta/models', '', 200, 0],
    ]);
    expect(JSON.stringify(d.rows)).not.toContain(secret(6));
    expect(pool.calls).toHaveLength(0);
  });

  it('lists the served models in both shapes', async () => {
    const app = createGatewayApp(deps(new ScriptedPool()));
    const list = (await (await app.request('/v1beta/models')).json()) as { models: Array<{ name: string }>; data: Array<{ id: string }> };
    expect(list.models.map((m) => m.name)).toEqual(['models/gemini-2.5-flash', 'models/gemini-2.5-pro', 'models/gemini-embedding-001']);
    expect(list.data.map((m) => m.id)).toEqual(['gemini-2.5-flash', 'gemini-2.5-pro', 'gemini-embedding-001']);
    expect((await app.request('/v1/models/gemini-2.5-pro')).status).toBe(200);
    expect((await app.request('/v1/models/nope')).status).toBe(404);
  });
});

describe('Gemini-native streaming', () => {
  const chunks = [{ candidates: [{ content: { parts: [{ text: 'a' }] } }] }, { candidates: [{ content: { parts: [{ text: 'b' }] }, finishReason: 'STOP' }] }];

  it('sends SSE events with alt=sse and a JSON array without it', async () => {
    const pool = new ScriptedPool();
    const app = createGatewayApp(deps(pool));
    pool.scripts.push({ result: ok(chunks[1]), chunks });
    const sse = await app.request(`/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`, post({ contents: [] }));
    expect(sse.headers.get('content-type')).toMatch(/text\/event-stream/);
    expect(await sse.text()).toBe(chunks.map((c) => `data: ${JSON.stringify(c)}\r\n\r\n`).join(''));
    pool.scripts.push({ result: ok(chunks[1]), chunks });
    const array = await app.request(`/v1beta/models/${MODEL}:streamGenerateContent`, post({ contents: [] }));
    expect(JSON.parse(await array.text())).toEqual(chunks);
  });

  it('a failure before the first chunk is an HTTP error; after it, an error object ends the stream', async () => {
    const pool = new ScriptedPool();
    const d = deps(pool);
    const app = createGatewayApp(d);
    pool.scripts.push({ result: { ok: false, error: { kind: 'rate_limited', message: 'all keys cooling', retryAfterMs: 2_000 }, attempts: 1, model: MODEL } });
    const early = await app.request(`/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`, post({ contents: [] }));
    expect(early.status).toBe(429);
    expect(early.headers.get('retry-after')).toBe('2');
    pool.scripts.push({ result: { ok: false, error: { kind: 'transient', message: 'the answer was cut off mid-way' }, attempts: 1, model: MODEL }, chunks: [chunks[0]!] });
    const late = await app.request(`/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`, post({ contents: [] }));
    expect(late.status).toBe(200);
    const events = (await late.text()).split('\r\n\r\n').filter(Boolean).map((e) => JSON.parse(e.replace(/^data: /, '')));
    expect(events[0]).toEqual(chunks[0]);
    expect(events[1]).toMatchObject({ error: { code: 502 } });
    expect(d.rows.map((r) => r.streamed)).toEqual([true, true]);
  });

  it('a client that disconnects mid-stream cancels the pool request', async () => {
    const pool = new ScriptedPool();
    const d = deps(pool);
    const gw = await startGateway(d, { host: '127.0.0.1', port: 0 });
    try {
      const never = new Promise<void>(() => undefined);
      pool.scripts.push({ result: ok(chunks[1]), chunks, holdAfterFirst: never });
      const ctl = new AbortController();
      const res = await fetch(`${gw.url}/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`, { ...post({ contents: [] }), signal: ctl.signal });
      const reader = res.body!.getReader();
      const first = await reader.read();
      expect(new TextDecoder().decode(first.value)).toContain('"text":"a"');
      ctl.abort();
      const signal = pool.signals[0]!;
      await new Promise<void>((resolve, reject) => {
        if (signal.aborted) return resolve();
        const timer = setTimeout(() => reject(new Error('the pool request was not cancelled')), 5_000);
        signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
      });
      expect(signal.aborted).toBe(true);
    } finally {
      await gw.close(100);
    }
  });

  it('refuses anonymous access on an address that is not loopback', async () => {
    await expect(startGateway(deps(new ScriptedPool()), { host: '0.0.0.0', port: 0 })).rejects.toThrow(/only served on a loopback address/);
  });
});
