import type { ChatCompletion } from 'openai/resources/chat/completions';
import { describe, expect, it } from 'vitest';
import { geminiToChat, newCompletionId, type ChatMeta } from '../../src/gateway/openai/response.ts';
import { MemorySignatureStore, newToolCallId } from '../../src/gateway/openai/signatures.ts';

const ids = (...list: string[]) => {
  const queue = [...list];
  return () => queue.shift() ?? 'call_spare';
};
const meta = (extra: Partial<ChatMeta> = {}): ChatMeta => ({ id: 'chatcmpl-1', model: 'gemini-2.5-flash', created: 1_700_000_000, ...extra });
const answer = (parts: unknown[], finishReason = 'STOP', usageMetadata?: unknown) => ({
  candidates: [{ content: { role: 'model', parts }, finishReason, index: 0 }],
  ...(usageMetadata ? { usageMetadata } : {}),
});

describe('geminiToChat', () => {
  it('text, thoughts excluded, usage with reasoning tokens', () => {
    const completion: ChatCompletion = geminiToChat(
      answer([{ text: 'thinking hard', thought: true }, { text: 'Hello' }, { text: ', world' }], 'STOP', {
        promptTokenCount: 10,
        candidatesTokenCount: 4,
        thoughtsTokenCount: 6,
        totalTokenCount: 20,
      }),
      meta(),
    );
    expect(completion).toEqual({
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 1_700_000_000,
      model: 'gemini-2.5-flash',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello, world', refusal: null }, logprobs: null, finish_reason: 'stop' }],
      usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20, completion_tokens_details: { reasoning_tokens: 6 } },
    } satisfies ChatCompletion);
  });

  it.each([
    ['STOP', 'stop'],
    ['MAX_TOKENS', 'length'],
    ['SAFETY', 'content_filter'],
    ['RECITATION', 'content_filter'],
    ['PROHIBITED_CONTENT', 'content_filter'],
    ['BLOCKLIST', 'content_filter'],
    ['SPII', 'content_filter'],
    ['OTHER', 'stop'],
  ])('finish reason %s -> %s', (gemini, openai) => {
    expect(geminiToChat(answer([{ text: 'x' }], gemini), meta()).choices[0]?.finish_reason).toBe(openai);
  });

  it('a prompt blocked before any candidate is content_filter with empty content', () => {
    const completion = geminiToChat({ promptFeedback: { blockReason: 'SAFETY' }, usageMetadata: { promptTokenCount: 3, totalTokenCount: 3 } }, meta());
    expect(completion.choices[0]).toMatchObject({ message: { content: '' }, finish_reason: 'content_filter' });
    expect(completion.usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 0, total_tokens: 3 });
  });

  it('function calls become tool_calls with short ids; their signatures are kept under those ids', () => {
    const signatures = new MemorySignatureStore();
    const completion = geminiToChat(
      answer([
        { text: 'Let me check.' },
        { functionCall: { name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: 'c2lnbmF0dXJlLTE=' },
        { functionCall: { name: 'get_time' } },
      ]),
      meta({ signatures, toolCallId: ids('call_one', 'call_two') }),
    );
    const choice = completion.choices[0];
    expect(choice?.finish_reason).toBe('tool_calls');
    expect(choice?.message).toEqual({
      role: 'assistant',
      content: 'Let me check.',
      refusal: null,
      tool_calls: [
        { id: 'call_one', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
        { id: 'call_two', type: 'function', function: { name: 'get_time', arguments: '{}' } },
      ],
    });
    expect(signatures.get('call_one')).toBe('c2lnbmF0dXJlLTE=');
    expect(signatures.get('call_two')).toBeUndefined();
  });

  it('only tool calls: content is null', () => {
    const completion = geminiToChat(answer([{ functionCall: { name: 'f', args: {} } }]), meta());
    expect(completion.choices[0]?.message.content).toBeNull();
    expect(completion.choices[0]?.message.tool_calls?.[0]?.id).toMatch(/^call_[A-Za-z0-9_-]{24}$/);
  });

  it('an answer without candidates or usage reads as empty, never throws', () => {
    const completion = geminiToChat({ candidates: 'nonsense' }, meta());
    expect(completion.choices[0]).toMatchObject({ message: { content: '' }, finish_reason: 'stop' });
    expect(completion.usage).toBeUndefined();
  });

  it('ids are short and distinct', () => {
    const made = new Set(Array.from({ length: 1000 }, () => newToolCallId()));
    expect(made.size).toBe(1000);
    for (const id of made) expect(id.length).toBe(29);
    expect(newCompletionId()).toMatch(/^chatcmpl-[A-Za-z0-9_-]{24}$/);
  });
});

describe('MemorySignatureStore', () => {
  it('forgets a signature after its time to live', () => {
    let now = 0;
    const store = new MemorySignatureStore({ ttlMs: 1000, now: () => now });
    store.put('a', 'sig');
    now = 999;
    expect(store.get('a')).toBe('sig');
    now = 1000;
    expect(store.get('a')).toBeUndefined();
  });

  it('keeps at most maxEntries, dropping the least recently used', () => {
    const store = new MemorySignatureStore({ maxEntries: 2 });
    store.put('a', '1');
    store.put('b', '2');
    expect(store.get('a')).toBe('1'); // a is now the most recent
    store.put('c', '3');
    expect(store.size).toBe(2);
    expect(store.get('b')).toBeUndefined();
    expect(store.get('a')).toBe('1');
    expect(store.get('c')).toBe('3');
  });

  it('refuses nonsense options, naming them', () => {
    expect(() => new MemorySignatureStore({ maxEntries: 0 })).toThrow(/maxEntries/);
    expect(() => new MemorySignatureStore({ ttlMs: -1 })).toThrow(/ttlMs/);
  });
});
