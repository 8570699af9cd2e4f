/**
 * The pool's Gemini-native side: callers that speak Gemini's own JSON (the HTTP gateway)
 * hand the pool a whole request body and get Gemini's own answer back, with the same
 * failover, quota accounting and statistics as every other request.
 */
import type { TokenUsage } from '../gemini/types.ts';
import type { PoolFailure } from './types.ts';

/** The Gemini methods served with a request body (`POST models/{model}:{method}`). */
export const NATIVE_METHODS = ['generateContent', 'countTokens', 'embedContent', 'batchEmbedContents'] as const;
export type NativeMethod = (typeof NATIVE_METHODS)[number];

/** A Gemini JSON object, as sent or received. */
export type NativeBody = Record<string, unknown>;

/** A Gemini-native request to the pool. */
export interface NativeRequest {
  /** A served model, without the `models/` prefix. Defaults to the first configured model. */
  model?: string;
  method: NativeMethod;
  /**
   * The request body exactly as Gemini takes it (a GenerateContentRequest with contents,
   * systemInstruction, tools, toolConfig, generationConfig, safetySettings; an
   * EmbedContentRequest ...). Sent as given: what Gemini refuses comes back as `bad_request`
   * with Gemini's message.
   */
  body: NativeBody;
  /** Who asks (a gateway token's name, `discord:user:ID`, `cli`): for limits, fair shares and the log. */
  client?: string;
  /** Cancels the request (all attempts): a client that disconnects. */
  signal?: AbortSignal;
  /** Overrides the pool's deadline for this request. */
  deadlineMs?: number;
}

export interface NativeSuccess {
  ok: true;
  /** Gemini's answer as it came (for a stream: the last chunk). */
  body: NativeBody;
  /** `key#N`, never the key. */
  keyId: string;
  model: string;
  attempts: number;
  latencyMs: number;
  usage: TokenUsage;
}

export interface NativeFailure extends PoolFailure {
  /** HTTP status Gemini answered with, when it answered (0 when it did not). */
  status?: number;
  /** `blocked`: Gemini's answer that carried the refusal (promptFeedback, candidates with finishReason). */
  body?: NativeBody;
  /** The key of the last attempt, when one was made. */
  keyId?: string;
}

export type NativeResult = NativeSuccess | NativeFailure;

/**
 * A streamed Gemini-native answer: iterate for Gemini's chunks (each a
 * GenerateContentResponse, as Gemini sent it) as they arrive, then await `result`. Fails over
 * to another key only before the first chunk; the iterator never throws.
 */
export interface NativeStream extends AsyncIterable<NativeBody> {
  readonly result: Promise<NativeResult>;
}
