/**
 * The gateway end to end: the real pool on the fake Gemini, served by the real server, used
 * by the clients people use (@google/genai, openai, curl), with tokens in a real store.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { GoogleGenAI } from '@google/genai';
import OpenAI from 'openai';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeGemini } from '../../fakes/fakeGemini.ts';
import { loadConfig } from '../../src/config.ts';
import { openGateway, type OpenGateway } from '../../src/gateway/open.ts';
import { TokenRegistry } from '../../src/gateway/tokens.ts';
import { createServices, type Services } from '../../src/services.ts';
import { pacificDay } from '../../src/pool/time.ts';

const run = promisify(execFile);
const MODEL = 'gemini-2.5-flash';
const KEYS = ['test-key-1', 'test-key-2', 'test-key-3'];

interface World {
  fake: FakeGemini;
  services: Services;
  gateway: OpenGateway;
  token: string;
  registry: TokenRegistry;
  /** Every body the gateway answered with, to check that no key is in any. */
  seen: string[];
}

let world: World | undefined;
afterEach(async () => {
  if (!world) return;
  await world.gateway.close(100);
  await world.services.pool.close();
  await world.services.store.close();
  await world.fake.close();
  world = undefined;
});

async function start(env: Record<string, string> = {}, fakeOptions: Parameters<typeof FakeGemini.start>[0] = {}): Promise<World> {
  const fake = await FakeGemini.start({ keys: KEYS.map((key) => ({ key, project: key })), ...fakeOptions });
  const config = loadConfig({ GEMINI_API_KEYS: KEYS.join(','), GEMINI_BASE_URL: fake.url, GEMINI_MODELS: MODEL, STORE: 'memory', GATEWAY_PORT: '0', GEMINI_DEADLINE_MS: '10000', ...env });
  const logger = pino({ level: 'silent' });
  const services = await createServices(config, logger);
  const registry = new TokenRegistry(services.store);
  const { token } = await registry.create({ name: 'web-app' });
  const gateway = await openGateway(config, services.pool, services.store, logger);
  world = { fake, services, gateway, token, registry, seen: [] };
  return world;
}

/** Polls `check` until it holds: at most `tries` times, 50 ms apart. */
async function until(check: () => Promise<boolean> | boolean, tries = 100): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not reached');
}

describe('the gateway with real clients', () => {
  it('serves @google/genai: generateContent, stream, countTokens, embedContent, with the token as its apiKey', async () => {
    const w = await start();
    const ai = new GoogleGenAI({ apiKey: w.token, vertexai: false, apiVersion: 'v1beta', httpOptions: { baseUrl: w.gateway.url } });
    const r = await ai.models.generateContent({ model: MODEL, contents: 'hello there', config: { systemInstruction: 'be kind', temperature: 0.3 } });
    expect(r.text).toContain('hello there');
    const sent = w.fake.requests.at(-1)!;
    expect(sent.body.systemInstruction).toBeDefined();
    expect(sent.body.generationConfig).toMatchObject({ temperature: 0.3 });
    expect(KEYS).toContain(sent.key);
    let streamed = '';
    for await (const chunk of await ai.models.generateContentStream({ model: MODEL, contents: 'a longer prompt to stream back in pieces' })) streamed += chunk.text ?? '';
    expect(streamed).toContain('a longer prompt to stream back in pieces');
    const count = await ai.models.countTokens({ model: MODEL, contents: 'count me' });
    expect(count.totalTokens).toBeGreaterThan(0);
    const e = await ai.models.embedContent({ model: 'gemini-embedding-001', contents: ['one', 'two'] });
    expect(e.embeddings).toHaveLength(2);
    // The client's token never reaches Gemini; our keys travel only in the header.
    for (const req of w.fake.requests) {
      expect(KEYS).toContain(req.key);
      expect(JSON.stringify(req)).not.toContain(w.token);
    }
  });

  it('serves the openai client: chat, streaming, json_schema and embeddings, counted in the request log', async () => {
    const w = await start();
    const client = new OpenAI({ apiKey: w.token, baseURL: `${w.gateway.url}/v1`, maxRetries: 0 });
    const c = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'ping' }] });
    expect(c.choices[0]!.message.content).toContain('ping');
    const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'stream this please' }], stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage = 0;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      usage = chunk.usage?.total_tokens ?? usage;
    }
    expect(text).toContain('stream this please');
    expect(usage).toBeGreaterThan(0);
    await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'json' }], response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: { a: { type: 'string' } } } } } });
    expect(w.fake.requests.at(-1)!.body.generationConfig).toMatchObject({ responseMimeType: 'application/json' });
    const e = await client.embeddings.create({ model: 'gemini-embedding-001', input: 'vector me', encoding_format: 'float' });
    expect(e.data[0]!.embedding.length).toBeGreaterThan(0);
    await w.gateway.close(100);
    const rows = await w.services.store.queryRequestLog({ token: 'web-app' });
    expect(rows.map((r) => r.route).sort()).toEqual(['/v1/chat/completions', '/v1/chat/completions', '/v1/chat/completions', '/v1/embeddings']);
    expect(rows.every((r) => r.status === 200 && /^key#\d+$/.test(r.keyId ?? ''))).toBe(true);
    const usageToday = await w.services.store.clientUsage('web-app', pacificDay(Date.now()));
    expect(usageToday.total.requests).toBe(4);
  });

  it('serves curl, with the token in the header or as ?key=', async () => {
    const w = await start();
    const body = JSON.stringify({ contents: [{ parts: [{ text: 'from curl' }] }] });
    const { stdout } = await run('curl', ['-s', '-H', `x-goog-api-key: ${w.token}`, '-H', 'content-type: application/json', '-d', body, `${w.gateway.url}/v1beta/models/${MODEL}:generateContent`]);
    expect(JSON.parse(stdout).candidates[0].content.parts[0].text).toContain('from curl');
    const sse = await run('curl', ['-s', '-N', '-H', 'content-type: application/json', '-d', body, `${w.gateway.url}/v1beta/models/${MODEL}:streamGenerateContent?alt=sse&key=${w.token}`]);
    expect(sse.stdout.startsWith('data: {')).toBe(true);
    const denied = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-d', body, `${w.gateway.url}/v1beta/models/${MODEL}:generateContent`]);
    expect(denied.stdout).toBe('401');
  });

  it('a 429 storm comes back as 429 with Retry-After; the openai client sees RateLimitError', async () => {
    const w = await start({}, { quotas: { rpm: 1 } });
    const client = new OpenAI({ apiKey: w.token, baseURL: `${w.gateway.url}/v1`, maxRetries: 0 });
    const results = await Promise.all(Array.from({ length: 6 }, () => client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }] }, { timeout: 20_000 }).then(() => 'ok', (e: unknown) => e)));
    expect(results.filter((r) => r === 'ok').length).toBe(3);
    const limited = results.filter((r) => r instanceof OpenAI.RateLimitError) as Array<InstanceType<typeof OpenAI.RateLimitError>>;
    expect(limited.length).toBe(3);
    for (const l of limited) expect(Number(l.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('a stream cut mid-way after the first chunk ends with an error the client sees; before it, another key answers', async () => {
    const w = await start({}, { streamChunkChars: 4 });
    const ai = new GoogleGenAI({ apiKey: w.token, vertexai: false, apiVersion: 'v1beta', httpOptions: { baseUrl: w.gateway.url } });
    w.fake.inject({ type: 'cutStream', afterChunks: 0 }, { times: 1 });
    let text = '';
    for await (const chunk of await ai.models.generateContentStream({ model: MODEL, contents: 'fail over first' })) text += chunk.text ?? '';
    expect(text).toContain('fail over first');
    w.fake.inject({ type: 'cutStream', afterChunks: 2 }, { times: Infinity });
    const got: string[] = [];
    const err = await (async () => {
      for await (const chunk of await ai.models.generateContentStream({ model: MODEL, contents: 'this one is cut' })) got.push(chunk.text ?? '');
    })().catch((e: unknown) => e);
    expect(got.length).toBeGreaterThan(0);
    expect(err).toBeDefined();
  });

  it('a revoked token is refused within a second; an unknown one at once', async () => {
    const w = await start();
    const client = new OpenAI({ apiKey: w.token, baseURL: `${w.gateway.url}/v1`, maxRetries: 0 });
    await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'before' }] });
    await w.registry.revoke('web-app');
    await until(async () => (await client.models.list().then(() => false, (e: unknown) => e instanceof OpenAI.AuthenticationError)));
    const stranger = new OpenAI({ apiKey: ['gp', 'y'.repeat(43)].join('-'), baseURL: `${w.gateway.url}/v1`, maxRetries: 0 });
    expect(await stranger.models.list().catch((e: unknown) => e)).toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it('a client that disconnects mid-stream ends the upstream call', async () => {
    const w = await start({}, { streamChunkChars: 2 });
    w.fake.inject({ type: 'trickle', intervalMs: 20 }, { times: Infinity });
    const ctl = new AbortController();
    const res = await fetch(`${w.gateway.url}/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`, {
      method: 'POST',
      headers: { 'x-goog-api-key': w.token, 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ parts: [{ text: 'a long answer that trickles '.repeat(20) }] }] }),
      signal: ctl.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    ctl.abort();
    await until(() => w.services.pool.getPoolStats().inFlight === 0);
    expect(w.services.pool.getPoolStats().inFlight).toBe(0);
    // Gemini saw the connection close before its answer was done.
    await until(() => w.fake.requests.at(-1)?.clientClosed === true);
  });

  it('refuses to start without a client token, and anonymous access on a public address', async () => {
    const fake = await FakeGemini.start({ keys: KEYS.map((key) => ({ key })) });
    const logger = pino({ level: 'silent' });
    try {
      for (const [env, message] of [
        [{}, /no client token yet/],
        [{ GATEWAY_ALLOW_ANONYMOUS: 'true', GATEWAY_HOST: '0.0.0.0' }, /only served on a loopback address/],
      ] as const) {
        const config = loadConfig({ GEMINI_API_KEYS: KEYS.join(','), GEMINI_BASE_URL: fake.url, STORE: 'memory', GATEWAY_PORT: '0', ...env });
        const services = await createServices(config, logger);
        try {
          await expect(openGateway(config, services.pool, services.store, logger)).rejects.toThrow(message);
        } finally {
          await services.pool.close();
          await services.store.close();
        }
      }
    } finally {
      await fake.close();
    }
  });
});
