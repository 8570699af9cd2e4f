/**
 * A Gemini 3 tool call with a thought signature, through OpenAI's shape and back: the
 * signature must reach Gemini again on the next turn, on the same call, or Gemini answers 400.
 */
import type { ChatCompletionCreateParams, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { describe, expect, it } from 'vitest';
import { chatToGemini } from '../../src/gateway/openai/request.ts';
import { geminiToChat } from '../../src/gateway/openai/response.ts';
import { MemorySignatureStore, SKIP_SIGNATURE } from '../../src/gateway/openai/signatures.ts';
import { ChatStreamTranslator } from '../../src/gateway/openai/stream.ts';

const MODEL = 'gemini-3-pro-preview';
const SIGNATURE = 'CiQBcsjafE2rZ3Vl8yVt0Jd2mUAfU1dnlOqC3i0Ue8zr9C0Q0w==';
const geminiToolAnswer = {
  candidates: [
    {
      content: {
        role: 'model',
        parts: [
          { functionCall: { name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: SIGNATURE },
          { functionCall: { name: 'get_weather', args: { city: 'Oslo' } } },
        ],
      },
      finishReason: 'STOP',
      index: 0,
    },
  ],
};
const first: ChatCompletionMessageParam = { role: 'user', content: 'Weather in Paris and Oslo?' };

/** The next request a client sends: its history, the assistant's calls, one tool answer per call. */
function nextRequest(assistant: ChatCompletionMessageParam, callIds: string[]): ChatCompletionCreateParams {
  return {
    model: MODEL,
    messages: [first, assistant, ...callIds.map((id, i): ChatCompletionMessageParam => ({ role: 'tool', tool_call_id: id, content: `{"tempC":${20 + i}}` }))],
  };
}

const expectedContents = [
  { role: 'user', parts: [{ text: 'Weather in Paris and Oslo?' }] },
  {
    role: 'model',
    parts: [
      { functionCall: { name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: SIGNATURE },
      { functionCall: { name: 'get_weather', args: { city: 'Oslo' } } },
    ],
  },
  {
    role: 'user',
    parts: [
      { functionResponse: { name: 'get_weather', response: { tempC: 20 } } },
      { functionResponse: { name: 'get_weather', response: { tempC: 21 } } },
    ],
  },
];

describe('thought signatures survive the OpenAI round trip', () => {
  it('through a whole completion', async () => {
    const signatures = new MemorySignatureStore();
    const completion = geminiToChat(geminiToolAnswer, { id: 'chatcmpl-r', model: MODEL, created: 1, signatures });
    const message = completion.choices[0]?.message;
    if (!message?.tool_calls) throw new Error('no tool calls');
    const ids = message.tool_calls.map((c) => c.id);
    // The client sends the assistant message back as it got it.
    const assistant: ChatCompletionMessageParam = { role: 'assistant', content: message.content, tool_calls: message.tool_calls };

    const t = await chatToGemini(nextRequest(assistant, ids), { models: [MODEL], signatures });
    if (!t.ok) throw new Error(t.message);
    expect(t.body.contents).toEqual(expectedContents);
    // The ids stay short whatever the signature's size.
    for (const id of ids) expect(id.length).toBeLessThanOrEqual(32);
  });

  it('through a stream', async () => {
    const signatures = new MemorySignatureStore();
    const translator = new ChatStreamTranslator({ id: 'chatcmpl-r', model: MODEL, created: 1, signatures }, false);
    const chunks = [...translator.chunk(geminiToolAnswer), ...translator.end()];
    const calls = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    const assistant: ChatCompletionMessageParam = {
      role: 'assistant',
      tool_calls: calls.map((c) => ({ id: c.id ?? '', type: 'function', function: { name: c.function?.name ?? '', arguments: c.function?.arguments ?? '' } })),
    };

    const t = await chatToGemini(nextRequest(assistant, calls.map((c) => c.id ?? '')), { models: [MODEL], signatures });
    if (!t.ok) throw new Error(t.message);
    expect(t.body.contents).toEqual(expectedContents);
  });

  it('a signature this process no longer holds is replaced by the documented placeholder, not a failure', async () => {
    const completion = geminiToChat(geminiToolAnswer, { id: 'chatcmpl-r', model: MODEL, created: 1, signatures: new MemorySignatureStore() });
    const message = completion.choices[0]?.message;
    if (!message?.tool_calls) throw new Error('no tool calls');
    const assistant: ChatCompletionMessageParam = { role: 'assistant', content: null, tool_calls: message.tool_calls };

    // Another store: a restart, or another process without a shared store.
    const t = await chatToGemini(nextRequest(assistant, message.tool_calls.map((c) => c.id)), { models: [MODEL], signatures: new MemorySignatureStore() });
    if (!t.ok) throw new Error(t.message);
    const model = (t.body.contents as Array<{ parts: Array<Record<string, unknown>> }>)[1];
    expect(model?.parts[0]?.thoughtSignature).toBe(SKIP_SIGNATURE);
    expect(model?.parts[1]?.thoughtSignature).toBeUndefined();
  });

  it('a store that answers asynchronously (a shared one) works the same', async () => {
    const memory = new MemorySignatureStore();
    const shared = { put: (id: string, s: string) => memory.put(id, s), get: async (id: string) => memory.get(id) };
    const completion = geminiToChat(geminiToolAnswer, { id: 'chatcmpl-r', model: MODEL, created: 1, signatures: shared });
    const message = completion.choices[0]?.message;
    if (!message?.tool_calls) throw new Error('no tool calls');
    const t = await chatToGemini(
      nextRequest({ role: 'assistant', content: null, tool_calls: message.tool_calls }, message.tool_calls.map((c) => c.id)),
      { models: [MODEL], signatures: shared },
    );
    if (!t.ok) throw new Error(t.message);
    expect(t.body.contents).toEqual(expectedContents);
  });
});
