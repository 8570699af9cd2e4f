/**
 * Gemini's own JSON, sent and received as it is: the raw calls behind the pool's native path
 * (what the HTTP gateway serves). No SDK conversion here: the SDK renames and drops fields
 * (`citationSources`, unknown new ones), and a caller speaking Gemini's API must get Gemini's
 * answer. The key travels only in the `x-goog-api-key` header, never in the URL (a URL ends up
 * in proxies' logs and in transport errors). Failures are thrown as the SDK throws them
 * (`ApiError` with the status and the body as its message, network errors as fetch throws
 * them), so `classify.ts` classifies them exactly as it does the SDK's.
 */
import { ApiError } from '@google/genai';
import { createParser, type EventSourceMessage, type ParseError } from 'eventsource-parser';
import type { TokenUsage } from './types.ts';

/** Gemini methods that take a request body (`POST models/{model}:{method}`). */
export type GeminiMethod = 'generateContent' | 'countTokens' | 'embedContent' | 'batchEmbedContents';

/** A Gemini JSON object, as sent or received. */
export type GeminiJson = Record<string, unknown>;

/** Where and how the raw calls go: the same base URL, API version and fetch the SDK is given. */
export interface NativeEndpoint {
  baseUrl: string;
  apiVersion: string;
  fetch?: typeof globalThis.fetch | undefined;
}

/**
 * An SSE event larger than this is refused: a broken or hostile upstream must not grow one
 * buffer without bound. Gemini's largest chunks (generated images, base64) stay far below.
 */
const MAX_EVENT_CHARS = 64 * 1024 * 1024;

const isObject = (v: unknown): v is GeminiJson => typeof v === 'object' && v !== null && !Array.isArray(v);

function urlOf(endpoint: NativeEndpoint, model: string, action: string): string {
  const root = endpoint.baseUrl.replace(/\/+$/, '');
  return `${root}/${endpoint.apiVersion}/models/${encodeURIComponent(model)}:${action}`;
}

async function post(endpoint: NativeEndpoint, apiKey: string, model: string, action: string, body: GeminiJson, signal: AbortSignal | undefined): Promise<Response> {
  const fetchFn = endpoint.fetch ?? globalThis.fetch;
  const res = await fetchFn(urlOf(endpoint, model, action), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-goog-api-key': apiKey },
    body: JSON.stringify(body),
    // A redirect would carry the key's header to wherever it points: Gemini never redirects.
    redirect: 'manual',
    ...(signal ? { signal } : {}),
  });
  if (res.status < 200 || res.status > 299) throw await apiErrorOf(res);
  return res;
}

/**
 * The SDK's error for a non-2xx answer, built as the SDK builds it: a JSON body re-serialised,
 * any other body wrapped in Google's error shape with the status text. A JSON body that does
 * not parse throws the SyntaxError, as the SDK's `response.json()` would.
 */
async function apiErrorOf(res: Response): Promise<ApiError> {
  const text = await res.text();
  const parsed: unknown = res.headers.get('content-type')?.includes('application/json')
    ? JSON.parse(text)
    : { error: { message: text, code: res.status, status: res.statusText } };
  return new ApiError({ message: JSON.stringify(parsed), status: res.status });
}

/** A 200 answer's JSON: it must be an object (Gemini's answers all are). */
function answerOf(parsed: unknown): GeminiJson {
  if (!isObject(parsed)) throw new SyntaxError('the answer is not a JSON object');
  return parsed;
}

/** One call of `method` with `body` sent as given; resolves to Gemini's JSON answer as it came. */
export async function nativeCall(endpoint: NativeEndpoint, apiKey: string, method: GeminiMethod, model: string, body: GeminiJson, signal?: AbortSignal): Promise<GeminiJson> {
  const res = await post(endpoint, apiKey, model, method, body, signal);
  return answerOf(JSON.parse(await res.text()));
}

/**
 * A streamed generateContent (`:streamGenerateContent?alt=sse`): yields each chunk's JSON as
 * its SSE event completes, nothing buffered beyond one event. An event carrying an error
 * object (Gemini reports a failure mid-stream that way) throws it as the SDK does.
 */
export async function* nativeStreamCall(endpoint: NativeEndpoint, apiKey: string, model: string, body: GeminiJson, signal?: AbortSignal): AsyncGenerator<GeminiJson> {
  const res = await post(endpoint, apiKey, model, 'streamGenerateContent?alt=sse', body, signal);
  if (!res.body) throw new Error('Response body is empty');
  const events: EventSourceMessage[] = [];
  let parseError: ParseError | undefined;
  const parser = createParser({ onEvent: (e) => events.push(e), onError: (e) => (parseError ??= e), maxBufferSize: MAX_EVENT_CHARS });
  const reader = res.body.getReader();
  const decoder = new TextDecoder('utf-8');
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      parser.feed(done ? decoder.decode() : decoder.decode(value, { stream: true }));
      if (done) parser.reset({ consume: true });
      if (parseError?.type === 'max-buffer-size-exceeded') throw new SyntaxError('an event of the stream is too large');
      for (const event of events.splice(0)) {
        if (event.data.trim() === '') continue;
        const chunk = answerOf(JSON.parse(event.data));
        throwIfErrorChunk(chunk);
        yield chunk;
      }
      if (done) break;
    }
    finished = true;
  } finally {
    // The caller stopped early (or a chunk was bad): the rest of the answer is not wanted.
    if (!finished) await reader.cancel().catch(() => undefined);
  }
}

/** Gemini's mid-stream failure (`{"error": {"code": 503, ...}}`), thrown as the SDK throws it. */
function throwIfErrorChunk(chunk: GeminiJson): void {
  const err = chunk.error;
  if (!isObject(err)) return;
  const code = err.code;
  if (typeof code === 'number' && code >= 400 && code < 600) {
    throw new ApiError({ message: `got status: ${String(err.status)}. ${JSON.stringify(chunk)}`, status: code });
  }
}

/**
 * A token count as Gemini means it: a non-negative integer, also when it came as a string of
 * digits. Anything else is unknown, never passed on: a string would concatenate in counters.
 */
function tokenCount(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d{1,15}\s*$/.test(v) ? Number(v) : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** Usage of an answer (its `usageMetadata`), in numbers the pool can add up whatever came. */
export function usageOf(answer: { usageMetadata?: unknown }): TokenUsage | undefined {
  const u: unknown = answer.usageMetadata;
  if (!isObject(u)) return undefined;
  const promptTokens = tokenCount(u.promptTokenCount) ?? 0;
  const outputTokens = tokenCount(u.candidatesTokenCount) ?? 0;
  return { promptTokens, outputTokens, totalTokens: tokenCount(u.totalTokenCount) ?? promptTokens + outputTokens };
}

/**
 * Whether an answer (or a chunk) carries any content: a part of a candidate that holds
 * something (text, a function call, inline data, code ...). A function call without text is
 * content: the caller runs its tool. Thoughts count only with `thoughts` (they are no answer,
 * but a stream of them is under way).
 */
export function hasContent(answer: GeminiJson, thoughts = false): boolean {
  const candidates = answer.candidates;
  if (!Array.isArray(candidates)) return false;
  for (const c of candidates) {
    const content = isObject(c) ? c.content : undefined;
    const parts = isObject(content) ? content.parts : undefined;
    if (!Array.isArray(parts)) continue;
    for (const p of parts) {
      if (!isObject(p) || (p.thought === true && !thoughts)) continue;
      if (Object.entries(p).some(([k, v]) => k !== 'thoughtSignature' && k !== 'thought' && v !== undefined && v !== null && v !== '')) return true;
    }
  }
  return false;
}

/** The first candidate's finish reason, when it has one. */
export function finishReasonOf(answer: GeminiJson): string | undefined {
  const candidates = answer.candidates;
  const first: unknown = Array.isArray(candidates) ? candidates[0] : undefined;
  const f = isObject(first) ? first.finishReason : undefined;
  return typeof f === 'string' && f ? f : undefined;
}
