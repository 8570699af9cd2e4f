import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../../src/gateway/server.ts';
import type { NativeResult } from '../../src/pool/nativeTypes.ts';
import { deps, ListTokens, ScriptedPool, token } from './doubles.ts';

const MODEL = 'gemini-2.5-flash';
const usage = { promptTokenCount: 4, candidatesTokenCount: 2, totalTokenCount: 6 };
const ok = (body: Record<string, unknown>): NativeResult => ({ ok: true, body, keyId: 'key#1', model: MODEL, attempts: 1, latencyMs: 3, usage: { promptTokens: 4, outputTokens: 2, totalTokens: 6 } });
const text = (t: string, finishReason?: string) => ({ candidates: [{ content: { role: 'model', parts: [{ text: t }] }, ...(finishReason ? { finishReason } : {}) }], usageMetadata: usage });
const secret = ['gp', 'o'.repeat(43)].join('-');

let gw: RunningGateway | undefined;
afterEach(async () => {
  await gw?.close(100);
  gw = undefined;
});

async function open(pool: ScriptedPool, withToken = true) {
  const d = deps(pool, withToken ? { tokens: new ListTokens(new Map([token('app', secret)])) } : {});
  gw = await startGateway(d, { host: '127.0.0.1', port: 0 });
  const client = new OpenAI({ apiKey: withToken ? secret : 'none', baseURL: `${gw.url}/v1`, maxRetries: 0 });
  return { d, client };
}

describe('OpenAI-compatible routes, through the openai client', () => {
  it('answers a chat completion, translated both ways, and logs it', async () => {
    const pool = new ScriptedPool();
    pool.scripts.push({ result: ok(text('Hello!', 'STOP')) });
    const { d, client } = await open(pool);
    const completion = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi' }], temperature: 0.2, max_tokens: 50 });
    expect(completion.choices[0]!.message.content).toBe('Hello!');
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect(completion.usage).toMatchObject({ prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 });
    const body = pool.calls[0]!.body as { systemInstruction: unknown; generationConfig: Record<string, unknown> };
    expect(body.systemInstruction).toEqual({ parts: [{ text: 'be brief' }] });
    expect(body.generationConfig).toMatchObject({ temperature: 0.2, maxOutputTokens: 50 });
    expect(pool.calls[0]!.client).toBe('app');
    expect(d.rows[0]).toMatchObject({ token: 'app', route: '/v1/chat/completions', status: 200, keyId: 'key#1', streamed: false });
  });

  it('streams chunks with [DONE] and a usage chunk when asked', async () => {
    const pool = new ScriptedPool();
    const chunks = [text('Hel'), text('lo', 'STOP')];
    pool.scripts.push({ result: ok(chunks[1]!), chunks });
    const { client } = await open(pool);
    const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } });
    let got = '';
    let finish: string | null = null;
    let total: number | undefined;
    for await (const chunk of stream) {
      got += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) total = chunk.usage.total_tokens;
    }
    expect(got).toBe('Hello');
    expect(finish).toBe('stop');
    expect(total).toBe(6);
  });

  it('returns tool calls with finish_reason tool_calls, and the next turn carries the thought signature back', async () => {
    const pool = new ScriptedPool();
    pool.scripts.push({ result: ok({ candidates: [{ content: { role: 'model', parts: [{ functionCall: { name: 'weather', args: { city: 'Oslo' } }, thoughtSignature: 'c2lnLTE=' }] }, finishReason: 'STOP' }], usageMetadata: usage }) });
    pool.scripts.push({ result: ok(text('Sunny', 'STOP')) });
    const { client } = await open(pool);
    const tools = [{ type: 'function' as const, function: { name: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const first = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'weather in Oslo?' }], tools });
    const call = first.choices[0]!.message.tool_calls![0]!;
    expect(first.choices[0]!.finish_reason).toBe('tool_calls');
    expect(call.id.length).toBeLessThanOrEqual(40);
    expect(call.type === 'function' && JSON.parse(call.function.arguments)).toEqual({ city: 'Oslo' });
    await client.chat.completions.create({
      model: MODEL,
      tools,
      messages: [{ role: 'user', content: 'weather in Oslo?' }, first.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: '{"sky":"clear"}' }],
    });
    const contents = (pool.calls[1]!.body as { contents: Array<{ parts: Array<Record<string, unknown>> }> }).contents;
    expect(contents[1]!.parts[0]).toMatchObject({ functionCall: { name: 'weather' }, thoughtSignature: 'c2lnLTE=' });
    expect(contents[2]!.parts[0]).toMatchObject({ functionResponse: { name: 'weather' } });
  });

  it('surfaces a 429 as RateLimitError with Retry-After, and the client\'s own retry gets the answer', async () => {
    const pool = new ScriptedPool();
    pool.scripts.push({ result: { ok: false, error: { kind: 'rate_limited', message: 'all keys are rate-limited', retryAfterMs: 1_000 }, attempts: 1, model: MODEL } });
    const { client } = await open(pool);
    const err = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as InstanceType<typeof OpenAI.RateLimitError>).headers.get('retry-after')).toBe('1');
    pool.scripts.push({ result: { ok: false, error: { kind: 'rate_limited', message: 'all keys are rate-limited', retryAfterMs: 1_000 }, attempts: 1, model: MODEL } });
    pool.scripts.push({ result: ok(text('later', 'STOP')) });
    const retrying = new OpenAI({ apiKey: secret, baseURL: `${gw!.url}/v1`, maxRetries: 1 });
    const answer = await retrying.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] });
    expect(answer.choices[0]!.message.content).toBe('later');
  });

  it('answers a blocked prompt as a completion with finish_reason content_filter', async () => {
    const pool = new ScriptedPool();
    pool.scripts.push({ result: { ok: false, error: { kind: 'blocked', message: 'blocked', reason: 'SAFETY' }, attempts: 1, model: MODEL, body: { promptFeedback: { blockReason: 'SAFETY' } } } });
    const { client } = await open(pool);
    const completion = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'bad' }] });
    expect(completion.choices[0]!.finish_reason).toBe('content_filter');
  });

  it('refuses n > 1 and http image URLs with a 400 naming the field, a bad token with 401, and never calls the pool', async () => {
    const pool = new ScriptedPool();
    const { client } = await open(pool);
    const n = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], n: 2 }).catch((e: unknown) => e);
    expect(n).toBeInstanceOf(OpenAI.BadRequestError);
    expect((n as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('n');
    const url = await client.chat.completions
      .create({ model: MODEL, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'http://169.254.169.254/latest' } }] }] })
      .catch((e: unknown) => e);
    expect(url).toBeInstanceOf(OpenAI.BadRequestError);
    const stranger = new OpenAI({ apiKey: ['gp', 'x'.repeat(43)].join('-'), baseURL: `${gw!.url}/v1`, maxRetries: 0 });
    expect(await stranger.models.list().catch((e: unknown) => e)).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(pool.calls).toHaveLength(0);
  });

  it('serves embeddings and the model list', async () => {
    const pool = new ScriptedPool();
    pool.scripts.push({ result: ok({ embeddings: [{ values: [0.5, -1] }, { values: [1, 0] }] }) });
    const { client } = await open(pool);
    const e = await client.embeddings.create({ model: 'gemini-embedding-001', input: ['a', 'b'], encoding_format: 'float' });
    expect(e.data.map((d) => d.embedding)).toEqual([[0.5, -1], [1, 0]]);
    expect(pool.calls[0]).toMatchObject({ method: 'batchEmbedContents', model: 'gemini-embedding-001' });
    const models = [];
    for await (const m of client.models.list()) models.push(m.id);
    expect(models).toEqual(['gemini-2.5-flash', 'gemini-2.5-pro', 'gemini-embedding-001']);
  });

  it('a failure after the first streamed chunk reaches the client as an error', async () => {
    const pool = new ScriptedPool();
    pool.scripts.push({ result: { ok: false, error: { kind: 'transient', message: 'the answer was cut off mid-way' }, attempts: 1, model: MODEL }, chunks: [text('Hel')] });
    const { client } = await open(pool);
    const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: true });
    let got = '';
    const err = await (async () => {
      for await (const chunk of stream) got += chunk.choices[0]?.delta.content ?? '';
    })().catch((e: unknown) => e);
    expect(got).toBe('Hel');
    expect(err).toBeInstanceOf(OpenAI.APIError);
  });
});
