/**
 * The fake Gemini's tools and structured output (function calls, Gemini 3's thought
 * signatures, JSON text) and what it records of a request (URL, whole body, a client that
 * gave up), driven through the REAL @google/genai SDK where a client would use it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError, GoogleGenAI, type Content } from '@google/genai';
import { FakeGemini, type FakeGeminiOptions } from '../../fakes/fakeGemini.ts';
import { until } from '../helpers.ts';

const MODEL = 'gemini-2.5-flash';
const TOOLS = [{ functionDeclarations: [{ name: 'lookup', description: 'Looks a word up' }, { name: 'define' }] }];

const fakes: FakeGemini[] = [];
async function startFake(options?: FakeGeminiOptions): Promise<FakeGemini> {
  const fake = await FakeGemini.start(options);
  fakes.push(fake);
  return fake;
}
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});

const client = (fake: FakeGemini) => new GoogleGenAI({ apiKey: 'test-key-1', apiVersion: 'v1beta', httpOptions: { baseUrl: fake.url } });
const user = (text: string): Content => ({ role: 'user', parts: [{ text }] });

describe('function calls', () => {
  it('`functionCallReply: true` calls the first declared function, and answers in text once results come back', async () => {
    const fake = await startFake({ functionCallReply: true });
    const ai = client(fake);
    const first = await ai.models.generateContent({ model: MODEL, contents: [user('what is a pool?')], config: { tools: TOOLS } });
    expect(first.functionCalls).toEqual([{ name: 'lookup', args: {} }]);
    expect(first.candidates?.[0]?.finishReason).toBe('STOP');
    const call = first.candidates![0]!.content!;
    const result: Content = { role: 'user', parts: [{ functionResponse: { name: 'lookup', response: { text: 'a group' } } }] };
    const second = await ai.models.generateContent({ model: MODEL, contents: [user('what is a pool?'), call, result], config: { tools: TOOLS } });
    expect(second.functionCalls).toBeUndefined();
    expect(second.text).toBe('echo: ');
    // No declared functions: text, whatever the option says.
    expect((await ai.models.generateContent({ model: MODEL, contents: 'hi' })).text).toBe('echo: hi');
  });

  it('a function decides per request (several calls, or text), and can be replaced at runtime', async () => {
    const fake = await startFake({ functionCallReply: (ctx) => (ctx.lastUserText === 'both' ? [{ name: 'lookup', args: { word: 'a' } }, { name: 'define', args: { word: 'b' } }] : undefined) });
    const ai = client(fake);
    const both = await ai.models.generateContent({ model: MODEL, contents: 'both', config: { tools: TOOLS } });
    expect(both.functionCalls?.map((c) => [c.name, c.args])).toEqual([['lookup', { word: 'a' }], ['define', { word: 'b' }]]);
    expect((await ai.models.generateContent({ model: MODEL, contents: 'neither', config: { tools: TOOLS } })).text).toBe('echo: neither');
    fake.setFunctionCallReply(undefined);
    expect((await ai.models.generateContent({ model: MODEL, contents: 'both', config: { tools: TOOLS } })).text).toBe('echo: both');
  });

  it('a streamed function call comes whole in one chunk', async () => {
    const fake = await startFake({ functionCallReply: true });
    const chunks = [];
    for await (const c of await client(fake).models.generateContentStream({ model: MODEL, contents: 'go', config: { tools: TOOLS } })) chunks.push(c);
    expect(chunks).toHaveLength(1);
    expect(chunks[0]?.functionCalls).toEqual([{ name: 'lookup', args: {} }]);
    expect(chunks[0]?.usageMetadata?.totalTokenCount).toBeGreaterThan(0);
  });
});

describe('thought signatures (Gemini 3)', () => {
  it('the first call carries one; sent back it is accepted, left out it is a 400 (in the current turn only)', async () => {
    const fake = await startFake({ functionCallReply: true, thoughtSignatures: true });
    const ai = client(fake);
    const first = await ai.models.generateContent({ model: MODEL, contents: [user('q')], config: { tools: TOOLS } });
    const call = first.candidates![0]!.content!;
    expect(call.parts?.[0]?.thoughtSignature).toEqual(expect.any(String));
    const result: Content = { role: 'user', parts: [{ functionResponse: { name: 'lookup', response: {} } }] };
    const signed = await ai.models.generateContent({ model: MODEL, contents: [user('q'), call, result], config: { tools: TOOLS } });
    expect(signed.text).toBe('echo: ');
    const unsigned: Content = { role: 'model', parts: [{ functionCall: { name: 'lookup', args: {} } }] };
    const err = await ai.models.generateContent({ model: MODEL, contents: [user('q'), unsigned, result], config: { tools: TOOLS } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(400);
    expect(JSON.parse((err as ApiError).message).error).toMatchObject({ status: 'INVALID_ARGUMENT', message: expect.stringContaining('missing a thought_signature') });
    // An earlier turn (before the last user text) is not checked.
    const later = await ai.models.generateContent({ model: MODEL, contents: [user('q'), unsigned, result, { role: 'model', parts: [{ text: 'ok' }] }, user('next')] });
    expect(later.text).toBe('echo: next');
  });
});

describe('structured output', () => {
  it('responseMimeType application/json makes the answer JSON text (a JSON reply stays as it is)', async () => {
    const fake = await startFake({ streamChunkChars: 4 });
    const ai = client(fake);
    const config = { responseMimeType: 'application/json', responseSchema: { type: 'OBJECT', properties: { text: { type: 'STRING' } } } } as const;
    const r = await ai.models.generateContent({ model: MODEL, contents: 'hi', config: config as never });
    expect(JSON.parse(r.text!)).toEqual({ text: 'echo: hi' });
    let streamed = '';
    for await (const c of await ai.models.generateContentStream({ model: MODEL, contents: 'hi', config: config as never })) streamed += c.text ?? '';
    expect(JSON.parse(streamed)).toEqual({ text: 'echo: hi' });
    fake.setReply(() => '[1,2]');
    expect((await ai.models.generateContent({ model: MODEL, contents: 'hi', config: config as never })).text).toBe('[1,2]');
    expect((await ai.models.generateContent({ model: MODEL, contents: 'hi' })).text).toBe('[1,2]');
  });
});

describe('what the fake records', () => {
  it('the URL as received and the whole body', async () => {
    const fake = await startFake();
    const ai = client(fake);
    await ai.models.generateContent({ model: MODEL, contents: 'hi', config: { systemInstruction: 'be kind', temperature: 0.5 } });
    expect(fake.requests[0]?.url).toBe(`/v1beta/models/${MODEL}:generateContent`);
    expect(fake.requests[0]?.body).toEqual({ contents: [user('hi')], systemInstruction: { parts: [{ text: 'be kind' }], role: 'user' }, generationConfig: { temperature: 0.5 } });
    await fetch(`${fake.url}/v1beta/models?key=test-key-2`);
    expect(fake.requests[1]).toMatchObject({ url: '/v1beta/models?key=test-key-2', key: 'test-key-2' });
  });

  it('a client that gave up before the answer was complete, and not a connection the fake cut itself', async () => {
    const fake = await startFake();
    fake.inject({ type: 'hang' });
    const ctl = new AbortController();
    const pending = fetch(`${fake.url}/v1beta/models/${MODEL}:generateContent`, { method: 'POST', headers: { 'x-goog-api-key': 'test-key-1' }, body: '{"contents":[]}', signal: ctl.signal }).catch(() => undefined);
    await until(() => fake.requests.length === 1);
    ctl.abort();
    await pending;
    await until(() => fake.requests[0]?.clientClosed === true);
    fake.inject({ type: 'reset' });
    await client(fake).models.generateContent({ model: MODEL, contents: 'hi' }).catch(() => undefined);
    await client(fake).models.generateContent({ model: MODEL, contents: 'hi' });
    expect(fake.requests.map((r) => r.clientClosed)).toEqual([true, undefined, undefined]);
  });

  it('serves gemini-embedding-001 (the default embedding model) by default', async () => {
    const fake = await startFake();
    const r = await client(fake).models.embedContent({ model: 'gemini-embedding-001', contents: 'hello', config: { outputDimensionality: 4 } });
    expect(r.embeddings?.[0]?.values).toHaveLength(4);
  });
});
