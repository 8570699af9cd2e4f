/**
 * The adapter's side of classification: a {@link GeminiClient} (which may throw whatever its
 * SDK throws) wrapped so that every call returns a value, and every failure comes back as a
 * {@link Classified} error. The pool acts on kinds and never sees an SDK error or an abort
 * reason.
 */
import type { AdapterAnswer, AdapterChunk, AdapterRequest, GeminiClient } from './adapter.ts';
import { classifyBlocked, classifyEmpty, classifyError, isAttemptTimeout, isCancelled, type Classified } from './classify.ts';
import { finishReasonOf, hasContent, type GeminiJson, type GeminiMethod } from './native.ts';

/** The outcome of one call: its value, or its failure already classified. */
export type CallResult<T> = { ok: true; value: T } | { ok: false; error: Classified };

/** One piece of a streamed answer, or the failure that ended the stream (always the last piece). */
export type StreamPiece = { ok: true; chunk: AdapterChunk } | { ok: false; error: Classified };

/**
 * A Gemini-native answer as it came, or its failure classified. A refusal (`blocked`) carries
 * Gemini's answer that said so, for the caller to pass on.
 */
export type NativeCallResult = { ok: true; value: GeminiJson } | { ok: false; error: Classified; body?: GeminiJson };

/** One chunk of a native stream as it came, or the failure that ended it (always the last piece). */
export type NativePiece = { ok: true; chunk: GeminiJson } | { ok: false; error: Classified; body?: GeminiJson };

/**
 * What went wrong, given what the call threw and the signal it ran under. The SDK surfaces
 * an abort as its own error; the abort reason (our attempt timer, or the caller) says why.
 */
export function classifyFailure(err: unknown, signal: AbortSignal | undefined): Classified {
  const reason: unknown = signal?.aborted ? signal.reason : undefined;
  return classifyError(isAttemptTimeout(reason) || isCancelled(reason) ? reason : err);
}

/** A Gemini client whose calls never throw: see {@link classified}. */
export interface ClassifiedClient {
  /** A complete answer with text; a refusal (blocked) or an empty answer is a failure. */
  generate(req: AdapterRequest, signal: AbortSignal): Promise<CallResult<AdapterAnswer>>;
  /** Pieces with text as they arrive; a failure, a refusal or an answer without text ends it with `ok: false`. */
  stream(req: AdapterRequest, signal: AbortSignal): AsyncIterable<StreamPiece>;
  /** The cheap authenticated call of a key check. */
  check(signal: AbortSignal): Promise<CallResult<undefined>>;
  /**
   * A native call. A generateContent answer that is a refusal is `blocked` (with the answer),
   * one without any content (no text, no function call ...) is classified as an empty answer;
   * other methods' answers are successes as they come.
   */
  native(method: GeminiMethod, model: string, body: GeminiJson, signal: AbortSignal): Promise<NativeCallResult>;
  /**
   * A native stream: Gemini's chunks as they arrive. A refusal ends it with `blocked` and the
   * refusing chunk (not passed on as a chunk); a stream with no content at all ends with the
   * empty answer's failure.
   */
  nativeStream(model: string, body: GeminiJson, signal: AbortSignal): AsyncIterable<NativePiece>;
}

/** Wraps a client (the SDK's, or an injected one) so that its failures are values. */
export function classified(raw: GeminiClient): ClassifiedClient {
  return {
    async generate(req, signal) {
      try {
        const answer = await raw.generate(req, signal);
        if (answer.blocked) return { ok: false, error: answer.blocked };
        if (answer.text === '') return { ok: false, error: classifyEmpty(answer.finishReason) };
        return { ok: true, value: answer };
      } catch (err) {
        return { ok: false, error: classifyFailure(err, signal) };
      }
    },
    async *stream(req, signal) {
      let anyText = false;
      let finishReason: string | undefined;
      try {
        for await (const chunk of raw.stream(req, signal)) {
          if (chunk.blocked) {
            yield { ok: false, error: { ...chunk.blocked } };
            return;
          }
          if (chunk.finishReason) finishReason = chunk.finishReason;
          if (chunk.text) anyText = true;
          yield { ok: true, chunk };
        }
      } catch (err) {
        yield { ok: false, error: classifyFailure(err, signal) };
        return;
      }
      if (!anyText) yield { ok: false, error: classifyEmpty(finishReason) };
    },
    async check(signal) {
      try {
        await raw.check(signal);
        return { ok: true, value: undefined };
      } catch (err) {
        return { ok: false, error: classifyFailure(err, signal) };
      }
    },
    async native(method, model, body, signal) {
      try {
        const answer = await raw.native(method, model, body, signal);
        if (method !== 'generateContent') return { ok: true, value: answer };
        const blocked = classifyBlocked(answer);
        if (blocked) return { ok: false, error: blocked, body: answer };
        if (!hasContent(answer)) return { ok: false, error: classifyEmpty(finishReasonOf(answer)) };
        return { ok: true, value: answer };
      } catch (err) {
        return { ok: false, error: classifyFailure(err, signal) };
      }
    },
    async *nativeStream(model, body, signal) {
      let content = false;
      let finishReason: string | undefined;
      try {
        for await (const chunk of raw.nativeStream(model, body, signal)) {
          const blocked = classifyBlocked(chunk);
          if (blocked) {
            yield { ok: false, error: blocked, body: chunk };
            return;
          }
          finishReason = finishReasonOf(chunk) ?? finishReason;
          content ||= hasContent(chunk);
          yield { ok: true, chunk };
        }
      } catch (err) {
        yield { ok: false, error: classifyFailure(err, signal) };
        return;
      }
      if (!content) yield { ok: false, error: classifyEmpty(finishReason) };
    },
  };
}
