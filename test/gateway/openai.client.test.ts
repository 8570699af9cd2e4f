/**
 * The translations as the `openai` package reads them: a bare node:http server on 127.0.0.1
 * answers with what the translators produce from scripted Gemini answers, and the real
 * client parses completions, accumulates streamed tool calls, decodes base64 embeddings and
 * surfaces a 429 as its RateLimitError with our Retry-After.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI, { RateLimitError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddingsToGemini, geminiToEmbeddings } from '../../src/gateway/openai/embeddings.ts';
import { poolFailureToOpenAI } from '../../src/gateway/openai/errors.ts';
import { chatToGemini } from '../../src/gateway/openai/request.ts';
import { geminiToChat } from '../../src/gateway/openai/response.ts';
import { MemorySignatureStore } from '../../src/gateway/openai/signatures.ts';
import { ChatStreamTranslator, sse, SSE_DONE } from '../../src/gateway/openai/stream.ts';

const MODEL = 'gemini-2.5-flash';
const signatures = new MemorySignatureStore();
/** Gemini-native bodies the server received, after translation. */
const seen: Record<string, unknown>[] = [];

const toolAnswer = {
  candidates: [{ content: { role: 'model', parts: [{ functionCall: { name: 'add', args: { a: 2, b: 3 } }, thoughtSignature: 'c2ln' }] }, finishReason: 'STOP', index: 0 }],
  usageMetadata: { promptTokenCount: 8, candidatesTokenCount: 5, totalTokenCount: 13 },
};
const textChunks = [
  { candidates: [{ content: { role: 'model', parts: [{ text: 'Hello' }] }, index: 0 }] },
  { candidates: [{ content: { role: 'model', parts: [{ text: ', world' }] }, finishReason: 'STOP', index: 0 }], usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 4, totalTokenCount: 7 } },
];

let server: Server;
let client: OpenAI;

beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      void (async () => {
        const json: unknown = JSON.parse(raw || '{}');
        const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
          res.writeHead(status, { 'content-type': 'application/json', ...headers });
          res.end(JSON.stringify(body));
        };
        if (req.url === '/v1/embeddings') {
          const t = embeddingsToGemini(json, { models: ['gemini-embedding-001'] });
          if (!t.ok) return send(400, { error: { message: t.message, type: 'invalid_request_error', param: t.param, code: t.code } });
          seen.push(t.body);
          const values = (i: number) => [0.125 * (i + 1), -2.5, 1e-3];
          const gemini = t.method === 'embedContent' ? { embedding: { values: values(0) } } : { embeddings: (t.body.requests as unknown[]).map((_, i) => ({ values: values(i) })) };
          return send(200, geminiToEmbeddings(gemini, { model: t.model, encoding: t.encoding, promptTokens: 4 }));
        }
        const t = await chatToGemini(json, { models: [MODEL], signatures });
        if (!t.ok) return send(400, { error: { message: t.message, type: 'invalid_request_error', param: t.param, code: t.code } });
        seen.push(t.body);
        const lastText = JSON.stringify(t.body.contents).includes('rate me');
        if (lastText) {
          const failure = poolFailureToOpenAI({ ok: false, error: { kind: 'rate_limited', message: 'all keys are rate-limited, try again later', retryAfterMs: 12_300 }, attempts: 1, model: MODEL });
          return send(failure.status, failure.body, failure.headers);
        }
        const meta = { id: 'chatcmpl-c', model: t.model, created: 1_700_000_000, signatures };
        const wantsTool = Array.isArray((t.body as { tools?: unknown }).tools) && !JSON.stringify(t.body.contents).includes('functionResponse');
        if (!t.stream) return send(200, geminiToChat(wantsTool ? toolAnswer : textChunks[1] as Record<string, unknown>, meta));
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const translator = new ChatStreamTranslator(meta, t.includeUsage);
        for (const chunk of wantsTool ? [toolAnswer] : textChunks) for (const out of translator.chunk(chunk)) res.write(sse(out));
        for (const out of translator.end()) res.write(sse(out));
        res.end(SSE_DONE);
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  client = new OpenAI({ apiKey: 'test-key-1', baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, maxRetries: 0 });
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const tools: OpenAI.Chat.ChatCompletionTool[] = [{ type: 'function', function: { name: 'add', parameters: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } } } } }];

describe('the openai package reads the translations', () => {
  it('a completion', async () => {
    const completion = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] });
    expect(completion.choices[0]?.message.content).toBe(', world');
    expect(completion.usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 });
  });

  it('a stream with usage, accumulated by the client helper', async () => {
    const stream = client.chat.completions.stream({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream_options: { include_usage: true } });
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]?.message.content).toBe('Hello, world');
    expect(final.choices[0]?.finish_reason).toBe('stop');
    expect(final.usage).toMatchObject({ total_tokens: 7 });
  });

  it('a streamed tool call, then the next turn carries its signature back to Gemini', async () => {
    const stream = client.chat.completions.stream({ model: MODEL, messages: [{ role: 'user', content: 'add 2 and 3' }], tools });
    const final = await stream.finalChatCompletion();
    const message = final.choices[0]?.message;
    expect(final.choices[0]?.finish_reason).toBe('tool_calls');
    const call = message?.tool_calls?.[0];
    if (!call || call.type !== 'function') throw new Error('no function call');
    expect(JSON.parse(call.function.arguments)).toEqual({ a: 2, b: 3 });

    seen.length = 0;
    await client.chat.completions.create({
      model: MODEL,
      tools,
      messages: [
        { role: 'user', content: 'add 2 and 3' },
        { role: 'assistant', content: null, tool_calls: [call] },
        { role: 'tool', tool_call_id: call.id, content: '5' },
      ],
    });
    expect(seen[0]?.contents).toEqual([
      { role: 'user', parts: [{ text: 'add 2 and 3' }] },
      { role: 'model', parts: [{ functionCall: { name: 'add', args: { a: 2, b: 3 } }, thoughtSignature: 'c2ln' }] },
      { role: 'user', parts: [{ functionResponse: { name: 'add', response: { result: '5' } } }] },
    ]);
  });

  it('a refusal reaches the client as a BadRequestError naming the field', async () => {
    await expect(client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], n: 2 })).rejects.toMatchObject({ status: 400, param: 'n' });
  });

  it("a 429 is the client's RateLimitError, with Retry-After", async () => {
    const error = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'rate me' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitError);
    const rate = error as RateLimitError;
    expect(rate.code).toBe('rate_limit_exceeded');
    expect(rate.headers?.get('retry-after')).toBe('13');
  });

  it('embeddings: base64 (the client default) decodes to the values, floats as floats', async () => {
    const many = await client.embeddings.create({ model: 'gemini-embedding-001', input: ['a', 'b'] });
    expect(many.data.map((d) => d.embedding)).toEqual([
      [0.125, -2.5, Math.fround(1e-3)],
      [0.25, -2.5, Math.fround(1e-3)],
    ]);
    const one = await client.embeddings.create({ model: 'gemini-embedding-001', input: 'a', encoding_format: 'float', dimensions: 3 });
    expect(one.data[0]?.embedding).toEqual([0.125, -2.5, 1e-3]);
    expect(one.usage).toEqual({ prompt_tokens: 4, total_tokens: 4 });
  });
});
