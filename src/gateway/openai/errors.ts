/**
 * Errors in OpenAI's own shape, `{ error: { message, type, param, code } }`, and the
 * mapping of a pool failure to the status, body and headers an OpenAI client expects: the
 * `openai` package retries a 429 or 5xx after its `Retry-After` (or `retry-after-ms`).
 */
import type { ChatCompletion } from 'openai/resources/chat/completions';
import type { NativeFailure } from '../../pool/nativeTypes.ts';
import { geminiToChat, type ChatMeta } from './response.ts';
import { retryAfterSeconds } from '../failures.ts';

/** The body of every OpenAI error answer. */
export interface OpenAIErrorBody {
  error: {
    message: string;
    type: string;
    param: string | null;
    code: string | null;
  };
}

export interface OpenAIErrorOptions {
  /** @default by status: `invalid_request_error` (4xx), `server_error` (5xx) */
  type?: string;
  /** A machine-readable code such as `model_not_found`. @default null */
  code?: string | null;
  /** The request field at fault, e.g. `messages[2].content[1]`. @default null */
  param?: string | null;
}

/** An OpenAI error body. `status` only picks the default `type`. */
export function openaiError(status: number, message: string, options: OpenAIErrorOptions = {}): OpenAIErrorBody {
  return {
    error: {
      message,
      type: options.type ?? (status >= 500 ? 'server_error' : 'invalid_request_error'),
      param: options.param ?? null,
      code: options.code ?? null,
    },
  };
}

/** An HTTP answer ready to send: status, JSON body, extra headers. */
export interface OpenAIErrorResponse {
  status: number;
  body: OpenAIErrorBody;
  headers: Record<string, string>;
}

/**
 * The OpenAI answer for a failed pool request. The pool's messages never hold a key, and
 * nothing is added to them here but plain words.
 *
 * - `rate_limited` (every key cooling too): 429, type `requests`, code `rate_limit_exceeded`,
 *   as OpenAI sends; `quota_exhausted` (a day's quota, back at Pacific midnight): 429, type
 *   and code `insufficient_quota`. Both with `Retry-After` (seconds) and `retry-after-ms`.
 * - `overloaded`: 503; `transient`: 502; `timeout`: 504.
 * - `auth` / `billing`: our keys are at fault, not the client's token, so 503 "no working
 *   key", never 401.
 * - `bad_request`: 400 with Gemini's message (404 with `model_not_found` when Gemini did not
 *   know the model).
 * - `blocked`: 400 with code `content_filter`, for routes without a completion to carry it;
 *   chat completions answer with {@link blockedCompletion} instead.
 */
export function poolFailureToOpenAI(failure: NativeFailure): OpenAIErrorResponse {
  const { kind, message } = failure.error;
  const plain = (status: number, code: string | null, type?: string): OpenAIErrorResponse => ({
    status,
    body: openaiError(status, message, type === undefined ? { code } : { code, type }),
    headers: {},
  });
  switch (kind) {
    case 'rate_limited':
    case 'quota_exhausted': {
      const seconds = retryAfterSeconds(failure.error.retryAfterMs);
      const daily = kind === 'quota_exhausted';
      return {
        status: 429,
        body: openaiError(429, message, {
          type: daily ? 'insufficient_quota' : 'requests',
          code: daily ? 'insufficient_quota' : 'rate_limit_exceeded',
        }),
        headers: {
          'retry-after': String(seconds),
          'retry-after-ms': String(Math.max(1000, Math.ceil(failure.error.retryAfterMs ?? 1000))),
        },
      };
    }
    case 'overloaded':
      return plain(503, 'overloaded');
    case 'transient':
      return plain(502, 'upstream_error');
    case 'timeout':
      return plain(504, 'timeout');
    case 'auth':
    case 'billing':
      return {
        status: 503,
        body: openaiError(503, `no working key: ${message}`, { code: 'no_working_key' }),
        headers: {},
      };
    case 'bad_request':
      return failure.status === 404 ? plain(404, 'model_not_found') : plain(400, null);
    case 'blocked':
      return plain(400, 'content_filter');
  }
}

/**
 * A refused answer as OpenAI gives it: a normal completion with empty content and
 * `finish_reason: "content_filter"`. Built from Gemini's own answer when the failure carries
 * it (so its usage shows), else from the failure alone.
 */
export function blockedCompletion(failure: NativeFailure, meta: ChatMeta): ChatCompletion {
  const body = failure.body ?? { promptFeedback: { blockReason: failure.error.reason ?? 'OTHER' } };
  const completion = geminiToChat(body, meta);
  for (const choice of completion.choices) {
    // Whatever Gemini had already written before the filter stopped it stays withheld.
    choice.message = { role: 'assistant', content: '', refusal: null };
    choice.finish_reason = 'content_filter';
  }
  return completion;
}
