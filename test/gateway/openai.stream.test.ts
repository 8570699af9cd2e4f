import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { describe, expect, it } from 'vitest';
import type { ChatMeta } from '../../src/gateway/openai/response.ts';
import { MemorySignatureStore } from '../../src/gateway/openai/signatures.ts';
import { ChatStreamTranslator, sse, SSE_DONE } from '../../src/gateway/openai/stream.ts';

const meta = (extra: Partial<ChatMeta> = {}): ChatMeta => ({ id: 'chatcmpl-s', model: 'gemini-2.5-flash', created: 1_700_000_000, ...extra });
const base = { id: 'chatcmpl-s', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'gemini-2.5-flash' } as const;
const textChunk = (text: string, extra: Record<string, unknown> = {}) => ({ candidates: [{ content: { role: 'model', parts: [{ text }] }, index: 0, ...extra }] });

/** Every chunk a translator sends for these Gemini chunks, end included. */
function run(translator: ChatStreamTranslator, geminiChunks: Record<string, unknown>[]): ChatCompletionChunk[] {
  return [...geminiChunks.flatMap((c) => translator.chunk(c)), ...translator.end()];
}

describe('ChatStreamTranslator', () => {
  it('text: role on the first chunk, deltas, then the finish reason', () => {
    const chunks = run(new ChatStreamTranslator(meta(), false), [
      textChunk('Hel'),
      { candidates: [{ content: { role: 'model', parts: [{ text: 'pondering', thought: true }] }, index: 0 }] },
      textChunk('lo', { finishReason: 'STOP' }),
    ]);
    expect(chunks).toEqual([
      { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: 'Hel' }, logprobs: null, finish_reason: null }] },
      { ...base, choices: [{ index: 0, delta: { content: 'lo' }, logprobs: null, finish_reason: null }] },
      { ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }] },
    ] satisfies ChatCompletionChunk[]);
  });

  it('include_usage: usage null on each chunk, then a last chunk with no choices and the usage', () => {
    const chunks = run(new ChatStreamTranslator(meta(), true), [
      textChunk('Hi'),
      { ...textChunk('!', { finishReason: 'MAX_TOKENS' }), usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 2, thoughtsTokenCount: 3, totalTokenCount: 10 } },
    ]);
    expect(chunks.map((c) => c.usage)).toEqual([null, null, null, { prompt_tokens: 5, completion_tokens: 5, total_tokens: 10, completion_tokens_details: { reasoning_tokens: 3 } }]);
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('length');
    expect(chunks.at(-1)?.choices).toEqual([]);
  });

  it('tool calls: one delta each with index, id, name and all arguments; finish tool_calls; signatures kept', () => {
    const signatures = new MemorySignatureStore();
    const queue = ['call_1', 'call_2'];
    const translator = new ChatStreamTranslator(meta({ signatures, toolCallId: () => queue.shift() ?? 'call_x' }), false);
    const chunks = run(translator, [
      { candidates: [{ content: { role: 'model', parts: [{ functionCall: { name: 'a', args: { x: 1 } }, thoughtSignature: 'U0lH' }] }, index: 0 }] },
      { candidates: [{ content: { role: 'model', parts: [{ functionCall: { name: 'b', args: {} } }] }, finishReason: 'STOP', index: 0 }] },
    ]);
    expect(chunks.map((c) => c.choices[0]?.delta)).toEqual([
      { role: 'assistant', tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'a', arguments: '{"x":1}' } }] },
      { tool_calls: [{ index: 1, id: 'call_2', type: 'function', function: { name: 'b', arguments: '{}' } }] },
      {},
    ]);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('tool_calls');
    expect(signatures.get('call_1')).toBe('U0lH');
  });

  it('an answer that showed nothing still sends its role, and a blocked prompt ends in content_filter', () => {
    const chunks = run(new ChatStreamTranslator(meta(), false), [{ promptFeedback: { blockReason: 'PROHIBITED_CONTENT' } }]);
    expect(chunks).toEqual([{ ...base, choices: [{ index: 0, delta: { role: 'assistant' }, logprobs: null, finish_reason: 'content_filter' }] }]);
  });

  it('refuses use after end', () => {
    const translator = new ChatStreamTranslator(meta(), false);
    translator.end();
    expect(() => translator.end()).toThrow();
    expect(() => translator.chunk(textChunk('late'))).toThrow();
  });

  it('SSE framing', () => {
    expect(sse({ a: 1 })).toBe('data: {"a":1}\n\n');
    expect(SSE_DONE).toBe('data: [DONE]\n\n');
  });
});
