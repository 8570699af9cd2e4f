/**
 * A Gemini-native answer (GenerateContentResponse) in OpenAI's chat completion shape.
 * Thought parts are the model's private reasoning and never reach `content`; functionCall
 * parts become `tool_calls`, each with a fresh short id under which its thought signature is
 * kept for the next turn.
 */
import type { ChatCompletion, ChatCompletionMessageFunctionToolCall } from 'openai/resources/chat/completions';
import type { CompletionUsage } from 'openai/resources/completions';
import type { NativeBody } from '../../pool/nativeTypes.ts';
import { newToolCallId, type SignatureStore } from './signatures.ts';

/** What the answer is labelled with: the id and time of this completion, the model asked for. */
export interface ChatMeta {
  /** `chatcmpl-...`, the same for every chunk of one stream. */
  id: string;
  model: string;
  /** Unix time in seconds. */
  created: number;
  /** Keeps the thought signatures of tool calls; without it they are dropped. */
  signatures?: SignatureStore;
  /** Makes tool call ids. @default newToolCallId */
  toolCallId?: () => string;
}

export type FinishReason = ChatCompletion.Choice['finish_reason'];

/** Gemini finish reasons that mean the answer was withheld or cut by a filter. */
const FILTERED = new Set([
  'SAFETY',
  'RECITATION',
  'PROHIBITED_CONTENT',
  'BLOCKLIST',
  'SPII',
  'IMAGE_SAFETY',
  'IMAGE_PROHIBITED_CONTENT',
]);

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** The first candidate of a Gemini answer, and its parts (fields of the wrong type read as absent). */
export function firstCandidate(body: NativeBody): { parts: Json[]; finishReason?: string } {
  const candidate = Array.isArray(body.candidates) && isObject(body.candidates[0]) ? body.candidates[0] : undefined;
  if (!candidate) return { parts: [] };
  const content = isObject(candidate.content) ? candidate.content : undefined;
  const parts = content && Array.isArray(content.parts) ? content.parts.filter(isObject) : [];
  const finishReason = typeof candidate.finishReason === 'string' ? candidate.finishReason : undefined;
  return finishReason === undefined ? { parts } : { parts, finishReason };
}

/** The block reason when Gemini refused the prompt itself (no candidate came back). */
export function promptBlockReason(body: NativeBody): string | undefined {
  const feedback = isObject(body.promptFeedback) ? body.promptFeedback : undefined;
  return feedback && typeof feedback.blockReason === 'string' ? feedback.blockReason : undefined;
}

/** The visible text of some parts: thought parts excluded. */
export function visibleText(parts: Json[]): string {
  let text = '';
  for (const part of parts) if (typeof part.text === 'string' && part.thought !== true) text += part.text;
  return text;
}

/**
 * The functionCall parts as OpenAI tool calls: a new id each, arguments as a JSON string.
 * A part's thought signature is put into `meta.signatures` under that id.
 */
export function toolCallsOf(parts: Json[], meta: ChatMeta): ChatCompletionMessageFunctionToolCall[] {
  const calls: ChatCompletionMessageFunctionToolCall[] = [];
  for (const part of parts) {
    const call = isObject(part.functionCall) ? part.functionCall : undefined;
    if (!call || typeof call.name !== 'string') continue;
    const id = (meta.toolCallId ?? newToolCallId)();
    if (typeof part.thoughtSignature === 'string' && part.thoughtSignature !== '') meta.signatures?.put(id, part.thoughtSignature);
    calls.push({ id, type: 'function', function: { name: call.name, arguments: JSON.stringify(isObject(call.args) ? call.args : {}) } });
  }
  return calls;
}

/**
 * OpenAI's finish reason for Gemini's: a tool call ends with `tool_calls` (Gemini says STOP),
 * MAX_TOKENS is `length`, a filter's refusal is `content_filter`, the rest `stop`.
 */
export function finishReasonOf(geminiReason: string | undefined, hasToolCalls: boolean, promptBlocked = false): FinishReason {
  if (promptBlocked || (geminiReason !== undefined && FILTERED.has(geminiReason))) return 'content_filter';
  if (hasToolCalls) return 'tool_calls';
  if (geminiReason === 'MAX_TOKENS') return 'length';
  return 'stop';
}

/**
 * OpenAI usage from Gemini's usageMetadata. Completion tokens include the thinking tokens,
 * as OpenAI counts reasoning; they are also shown on their own as `reasoning_tokens`.
 */
export function usageOf(body: NativeBody): CompletionUsage | undefined {
  const meta = isObject(body.usageMetadata) ? body.usageMetadata : undefined;
  if (!meta) return undefined;
  const prompt = num(meta.promptTokenCount) + num(meta.toolUsePromptTokenCount);
  const thoughts = num(meta.thoughtsTokenCount);
  const completion = num(meta.candidatesTokenCount) + thoughts;
  const total = typeof meta.totalTokenCount === 'number' ? meta.totalTokenCount : prompt + completion;
  const usage: CompletionUsage = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: total,
    completion_tokens_details: { reasoning_tokens: thoughts },
  };
  if (typeof meta.cachedContentTokenCount === 'number') usage.prompt_tokens_details = { cached_tokens: meta.cachedContentTokenCount };
  return usage;
}

/**
 * A whole Gemini answer (generateContent) as an OpenAI chat completion. Only the first
 * candidate is read: requests never ask for more (`n` > 1 is refused).
 */
export function geminiToChat(body: NativeBody, meta: ChatMeta): ChatCompletion {
  const { parts, finishReason } = firstCandidate(body);
  const toolCalls = toolCallsOf(parts, meta);
  const text = visibleText(parts);
  const message: ChatCompletion.Choice['message'] = {
    role: 'assistant',
    // OpenAI sends null content beside tool calls; an answer with nothing in it is ''.
    content: text === '' && toolCalls.length > 0 ? null : text,
    refusal: null,
  };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  const completion: ChatCompletion = {
    id: meta.id,
    object: 'chat.completion',
    created: meta.created,
    model: meta.model,
    choices: [
      {
        index: 0,
        message,
        logprobs: null,
        finish_reason: finishReasonOf(finishReason, toolCalls.length > 0, promptBlockReason(body) !== undefined && parts.length === 0),
      },
    ],
  };
  const usage = usageOf(body);
  if (usage) completion.usage = usage;
  return completion;
}

/** A completion id: `chatcmpl-` and 24 random characters. */
export function newCompletionId(): string {
  return `chatcmpl-${newToolCallId().slice('call_'.length)}`;
}
