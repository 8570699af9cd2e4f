/**
 * Gemini's streamed answer (one GenerateContentResponse per SSE event) as OpenAI chat
 * completion chunks: `data: {chunk}` lines ending with `data: [DONE]`.
 */
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import type { CompletionUsage } from 'openai/resources/completions';
import type { NativeBody } from '../../pool/nativeTypes.ts';
import {
  finishReasonOf,
  firstCandidate,
  promptBlockReason,
  toolCallsOf,
  usageOf,
  visibleText,
  type ChatMeta,
  type FinishReason,
} from './response.ts';

/** The line that ends an OpenAI stream. */
export const SSE_DONE = 'data: [DONE]\n\n';

/** One server-sent event carrying `obj` as JSON. */
export function sse(obj: unknown): string {
  return `data: ${JSON.stringify(obj)}\n\n`;
}

type Delta = ChatCompletionChunk.Choice.Delta;

/**
 * Turns Gemini chunks into OpenAI chunks, one stream at a time. Feed every Gemini chunk to
 * {@link chunk} as it arrives and call {@link end} once when Gemini's stream is over.
 * The first chunk sent carries `role: 'assistant'`; tool calls are numbered by `index` in
 * the order Gemini sent them (Gemini sends each call whole, so each has one delta with its
 * id, name and all its arguments).
 */
export class ChatStreamTranslator {
  readonly #meta: ChatMeta;
  readonly #includeUsage: boolean;
  #roleSent = false;
  #toolCalls = 0;
  #geminiFinish: string | undefined;
  #promptBlocked = false;
  #usage: CompletionUsage | undefined;
  #ended = false;

  /**
   * @param meta the id, model and time every chunk carries, and where tool call signatures go
   * @param includeUsage `stream_options.include_usage`: every chunk has `usage: null` and a
   *   last chunk with no choices carries the usage
   */
  constructor(meta: ChatMeta, includeUsage: boolean) {
    this.#meta = meta;
    this.#includeUsage = includeUsage;
  }

  /** The OpenAI chunks for one Gemini chunk (none when it holds nothing to show). */
  chunk(geminiChunk: NativeBody): ChatCompletionChunk[] {
    if (this.#ended) throw new Error('chunk() after end()');
    const { parts, finishReason } = firstCandidate(geminiChunk);
    if (finishReason !== undefined) this.#geminiFinish = finishReason;
    if (promptBlockReason(geminiChunk) !== undefined) this.#promptBlocked = true;
    this.#usage = usageOf(geminiChunk) ?? this.#usage;

    const out: ChatCompletionChunk[] = [];
    const text = visibleText(parts);
    if (text !== '') out.push(this.#choiceChunk(this.#withRole({ content: text }), null));
    const calls = toolCallsOf(parts, this.#meta);
    if (calls.length > 0) {
      const deltas = calls.map((call) => ({
        index: this.#toolCalls++,
        id: call.id,
        type: 'function' as const,
        function: { name: call.function.name, arguments: call.function.arguments },
      }));
      out.push(this.#choiceChunk(this.#withRole({ tool_calls: deltas }), null));
    }
    return out;
  }

  /**
   * The closing chunks: the one with the finish reason and, with `includeUsage`, one with
   * no choices and the usage. An answer that showed nothing still gets its role first.
   */
  end(): ChatCompletionChunk[] {
    if (this.#ended) throw new Error('end() called twice');
    this.#ended = true;
    const out: ChatCompletionChunk[] = [];
    const finish: FinishReason = finishReasonOf(this.#geminiFinish, this.#toolCalls > 0, this.#promptBlocked);
    out.push(this.#choiceChunk(this.#withRole({}), finish));
    if (this.#includeUsage) {
      out.push({
        ...this.#base(),
        choices: [],
        usage: this.#usage ?? { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
      });
    }
    return out;
  }

  #withRole(delta: Delta): Delta {
    if (this.#roleSent) return delta;
    this.#roleSent = true;
    return { role: 'assistant', ...delta };
  }

  #base(): Omit<ChatCompletionChunk, 'choices'> {
    return { id: this.#meta.id, object: 'chat.completion.chunk', created: this.#meta.created, model: this.#meta.model };
  }

  #choiceChunk(delta: Delta, finish: ChatCompletionChunk.Choice['finish_reason']): ChatCompletionChunk {
    const chunk: ChatCompletionChunk = { ...this.#base(), choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] };
    if (this.#includeUsage) chunk.usage = null;
    return chunk;
  }
}
