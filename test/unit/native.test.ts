/**
 * The adapter's native calls (`src/gemini/native.ts` through `SdkGeminiClient`): where they go,
 * what they carry, and failures thrown as the SDK throws them, so that they classify exactly
 * as the SDK's do.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SdkGeminiClient, GOOGLE_BASE_URL } from '../../src/gemini/adapter.ts';
import { classified, type NativePiece } from '../../src/gemini/client.ts';
import { FakeGemini, type Fault } from '../../fakes/fakeGemini.ts';

const MODEL = 'gemini-2.5-flash';
const REQ = { model: MODEL, contents: [{ role: 'user' as const, parts: [{ text: 'hi' }] }] };
const BODY = { contents: REQ.contents };
const signal = () => new AbortController().signal;

let fake: FakeGemini | undefined;
const servers: http.Server[] = [];
afterEach(async () => {
  await fake?.close();
  fake = undefined;
  for (const s of servers.splice(0)) await new Promise<void>((r) => s.close(() => r()));
});

async function collect(it: AsyncIterable<NativePiece>): Promise<NativePiece[]> {
  const out: NativePiece[] = [];
  for await (const p of it) out.push(p);
  return out;
}

describe('where a native call goes and what it carries', () => {
  it("to the base URL's models/{model}:{method}, the key only in x-goog-api-key, the body as JSON", async () => {
    const seen: Array<{ url: string; headers: Headers; body: string }> = [];
    const fetch: typeof globalThis.fetch = async (input, init) => {
      seen.push({ url: String(input), headers: new Headers(init?.headers), body: String(init?.body) });
      return new Response('{"totalTokens":1}', { status: 200, headers: { 'content-type': 'application/json' } });
    };
    const google = new SdkGeminiClient('test-key-1', { apiVersion: 'v1beta', fetch });
    expect(await google.native('countTokens', MODEL, BODY)).toEqual({ totalTokens: 1 });
    const proxied = new SdkGeminiClient('test-key-1', { apiVersion: 'v1', baseUrl: 'http://127.0.0.1:7/proxy/', fetch });
    await proxied.native('embedContent', 'gemini-embedding-001', { content: { parts: [{ text: 'x' }] } });
    expect(seen.map((s) => s.url)).toEqual([`${GOOGLE_BASE_URL}/v1beta/models/${MODEL}:countTokens`, 'http://127.0.0.1:7/proxy/v1/models/gemini-embedding-001:embedContent']);
    for (const s of seen) {
      expect(s.url).not.toContain('test-key-1');
      expect(s.headers.get('x-goog-api-key')).toBe('test-key-1');
      expect(s.headers.get('content-type')).toBe('application/json');
    }
    expect(JSON.parse(seen[0]!.body)).toEqual(BODY);
  });

  it('does not follow a redirect (it would carry the key elsewhere)', async () => {
    let reachedElsewhere = 0;
    const elsewhere = http.createServer((_req, res) => {
      reachedElsewhere++;
      res.end('{}');
    });
    const redirector = http.createServer((_req, res) => {
      res.writeHead(307, { location: `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}/v1beta/models/x:generateContent` });
      res.end();
    });
    for (const s of [elsewhere, redirector]) {
      servers.push(s);
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    }
    const client = classified(new SdkGeminiClient('test-key-1', { apiVersion: 'v1beta', baseUrl: `http://127.0.0.1:${(redirector.address() as AddressInfo).port}` }));
    expect(await client.native('generateContent', MODEL, BODY, signal())).toMatchObject({ ok: false, error: { kind: 'transient', status: 307 } });
    expect(reachedElsewhere).toBe(0);
  });
});

describe('native failures classify exactly as the SDK\'s', () => {
  const faults: Array<[string, Fault]> = [
    ['a 429 per minute with RetryInfo', { type: 'rateLimit', per: 'minute', retryDelay: '12.5s' }],
    ['a 429 per day', { type: 'rateLimit', per: 'day' }],
    ['a bare 429', { type: 'status', status: 429 }],
    ['a 503', { type: 'status', status: 503 }],
    ['the HTML 502', { type: 'status', status: 502 }],
    ['a 400', { type: 'status', status: 400, message: 'Invalid JSON payload' }],
    ['a 404', { type: 'status', status: 404 }],
    ['a 402', { type: 'status', status: 402 }],
    ['a 403 that is not JSON', { type: 'body', status: 403, body: 'Forbidden by proxy', contentType: 'text/plain' }],
    ['a 200 that is not JSON', { type: 'malformed' }],
    ['a dropped connection', { type: 'reset' }],
  ];
  it.each(faults)('%s', async (_name, fault) => {
    // A still clock: a day's quota names the same delay both times.
    const t = Date.UTC(2026, 10, 22, 18);
    fake = await FakeGemini.start({ now: () => t });
    const client = classified(new SdkGeminiClient('test-key-1', { apiVersion: 'v1beta', baseUrl: fake.url }));
    fake.inject(fault);
    const viaSdk = await client.generate(REQ, signal());
    fake.inject(fault);
    const viaNative = await client.native('generateContent', MODEL, BODY, signal());
    expect(viaSdk.ok).toBe(false);
    expect(viaNative).toEqual(viaSdk);
  });

  it('an invalid and a suspended key', async () => {
    fake = await FakeGemini.start({ keys: [{ key: 'test-key-1', status: 'invalid' }, { key: 'test-key-2', status: 'suspended' }] });
    for (const key of ['test-key-1', 'test-key-2']) {
      const client = classified(new SdkGeminiClient(key, { apiVersion: 'v1beta', baseUrl: fake.url }));
      const viaSdk = await client.generate(REQ, signal());
      expect(viaSdk.ok).toBe(false);
      expect(await client.native('generateContent', MODEL, BODY, signal())).toEqual(viaSdk);
    }
  });

  it('a stream: a failure before it, a cut, and an error Gemini sends mid-stream', async () => {
    fake = await FakeGemini.start({ streamChunkChars: 2 });
    const client = classified(new SdkGeminiClient('test-key-1', { apiVersion: 'v1beta', baseUrl: fake.url }));
    const lastOf = async (route: 'sdk' | 'native') => (route === 'sdk' ? (await collect(client.stream(REQ, signal()) as never)).at(-1) : (await collect(client.nativeStream(MODEL, BODY, signal()))).at(-1));
    const midStream = 'data: {"candidates":[{"content":{"parts":[{"text":"Hel"}],"role":"model"}}]}\r\n\r\ndata: {"error":{"code":503,"status":"UNAVAILABLE","message":"The model is overloaded."}}\r\n\r\n';
    const cases: Fault[] = [{ type: 'rateLimit', per: 'minute' }, { type: 'cutStream', afterChunks: 2 }, { type: 'body', status: 200, body: midStream, contentType: 'text/event-stream' }];
    for (const fault of cases) {
      fake.inject(fault);
      const viaSdk = await lastOf('sdk');
      fake.inject(fault);
      const viaNative = await lastOf('native');
      expect(viaSdk).toMatchObject({ ok: false });
      expect(viaNative).toEqual(viaSdk);
    }
  });
});

describe('what a native answer is', () => {
  it('usage is read robustly from usageMetadata; an answer of other methods is kept as it came', async () => {
    fake = await FakeGemini.start({ models: [MODEL, 'gemini-embedding-001'] });
    const raw = new SdkGeminiClient('test-key-1', { apiVersion: 'v1beta', baseUrl: fake.url });
    fake.inject({ type: 'usage', usageMetadata: { promptTokenCount: 'lots', candidatesTokenCount: '7', totalTokenCount: -1 } });
    const answer = await raw.native('generateContent', MODEL, BODY);
    const { usageOf } = await import('../../src/gemini/native.ts');
    expect(usageOf(answer)).toEqual({ promptTokens: 0, outputTokens: 7, totalTokens: 7 });
    expect(usageOf({ usageMetadata: [1, 2] })).toBeUndefined();
    const embedded = await classified(raw).native('embedContent', 'gemini-embedding-001', { content: { parts: [{ text: '' }] } }, signal());
    expect(embedded).toMatchObject({ ok: true, value: { embedding: { values: expect.any(Array) } } });
  });
});
