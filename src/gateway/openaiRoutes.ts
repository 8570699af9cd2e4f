/**
 * The OpenAI-compatible routes: `POST /v1/chat/completions` (whole or streamed),
 * `POST /v1/embeddings`. Requests are translated to Gemini-native bodies (openai/), so the
 * pool sees Gemini's own answers and errors; answers are translated back. `GET /v1/models`
 * is served by the native routes in a body both dialects read.
 */
import { Hono, type Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { NativeBody, NativeResult } from '../pool/nativeTypes.ts';
import { authenticate, type GatewayEnv } from './auth.ts';
import { readJsonObject } from './body.ts';
import { relay } from './relay.ts';
import type { GatewayDeps } from './deps.ts';
import { begin, end, refusal, type Exchange } from './exchange.ts';
import { fetchImage } from './fetchImage.ts';
import { embeddingsToGemini, geminiToEmbeddings } from './openai/embeddings.ts';
import { blockedCompletion, openaiError, poolFailureToOpenAI } from './openai/errors.ts';
import { chatToGemini } from './openai/request.ts';
import { geminiToChat, newCompletionId, type ChatMeta } from './openai/response.ts';
import { MemorySignatureStore, type SignatureStore } from './openai/signatures.ts';
import { ChatStreamTranslator, sse, SSE_DONE } from './openai/stream.ts';

/** How long fetching one client-supplied image may take (GATEWAY_FETCH_URLS). */
const IMAGE_FETCH_TIMEOUT_MS = 10_000;

/** An error in OpenAI's shape. */
export function openaiErrorResponse(c: Context, status: ContentfulStatusCode, message: string, code: string | null = null, headers: Record<string, string> = {}): Response {
  return c.json(openaiError(status, message, { code }), status, headers);
}

function failure(c: Context, result: Extract<NativeResult, { ok: false }>): Response {
  const f = poolFailureToOpenAI(result);
  return c.json(f.body, f.status as ContentfulStatusCode, f.headers);
}

/** Refused before the pool: 403 for a model the token may not use, 429 over its limits. */
async function refused(c: Context, deps: GatewayDeps, ex: Exchange): Promise<Response | undefined> {
  const r = await refusal(deps, ex.client, ex.model);
  if (!r) return undefined;
  end(deps, ex, r.status, undefined);
  return r.status === 429
    ? c.json(openaiError(429, r.message, { type: 'requests', code: 'rate_limit_exceeded' }), 429, { 'retry-after': String(r.retryAfterS ?? 1) })
    : openaiErrorResponse(c, 403, r.message, 'model_not_allowed');
}

/** The routes, mounted by the server at `/v1`. */
export function openaiRoutes(deps: GatewayDeps, signatures: SignatureStore = new MemorySignatureStore()): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  const auth = authenticate(deps.tokens, (c, status, message) => openaiErrorResponse(c, status, message, status === 401 ? 'invalid_api_key' : null));

  app.post('/chat/completions', auth, async (c) => {
    const parsed = await readJsonObject(c);
    if (!parsed.ok) return openaiErrorResponse(c, 400, parsed.message);
    const signal = c.req.raw.signal;
    const t = await chatToGemini(parsed.body, {
      models: deps.chatModels,
      fetchUrls: deps.fetchUrls,
      fetchImage: (url) => fetchImage(url, { maxBytes: deps.maxBodyBytes, timeoutMs: IMAGE_FETCH_TIMEOUT_MS, signal }),
      signatures,
    });
    if (!t.ok) return c.json(openaiError(400, t.message, { param: t.param, code: t.code }), 400);
    const ex = begin(c, deps, '/v1/chat/completions', t.model, t.stream, parsed.body);
    const no = await refused(c, deps, ex);
    if (no) return no;
    const meta: ChatMeta = { id: newCompletionId(), model: t.model, created: Math.floor(deps.now() / 1000), signatures };
    if (t.stream) return streamChat(c, deps, ex, t.body, meta, t.includeUsage);
    const result = await deps.pool.callNative({ model: t.model, method: 'generateContent', body: t.body, client: ex.client.name, signal });
    if (result.ok) {
      const completion = geminiToChat(result.body, meta);
      end(deps, ex, 200, result, completion);
      return c.json(completion);
    }
    if (result.error.kind === 'blocked') {
      const completion = blockedCompletion(result, meta);
      end(deps, ex, 200, result, completion);
      return c.json(completion);
    }
    const res = failure(c, result);
    end(deps, ex, res.status, result);
    return res;
  });

  app.post('/embeddings', auth, async (c) => {
    const parsed = await readJsonObject(c);
    if (!parsed.ok) return openaiErrorResponse(c, 400, parsed.message);
    const t = embeddingsToGemini(parsed.body, { models: deps.embeddingModels });
    if (!t.ok) return c.json(openaiError(400, t.message, { param: t.param, code: t.code }), 400);
    const ex = begin(c, deps, '/v1/embeddings', t.model, false, parsed.body);
    const no = await refused(c, deps, ex);
    if (no) return no;
    const result = await deps.pool.callNative({ model: t.model, method: t.method, body: t.body, client: ex.client.name, signal: c.req.raw.signal });
    if (!result.ok) {
      const res = failure(c, result);
      end(deps, ex, res.status, result);
      return res;
    }
    let answer;
    try {
      answer = geminiToEmbeddings(result.body, { model: t.model, encoding: t.encoding, promptTokens: result.usage.promptTokens });
    } catch {
      end(deps, ex, 502, result);
      return openaiErrorResponse(c, 502, 'Gemini answered without embeddings', 'upstream_error');
    }
    end(deps, ex, 200, result);
    return c.json(answer);
  });
  return app;
}

/**
 * A streamed completion: OpenAI's `data:` chunks ending with `[DONE]`; a failure after the
 * first chunk is sent as an error event before `[DONE]`.
 */
function streamChat(c: Context<GatewayEnv>, deps: GatewayDeps, ex: Exchange, body: NativeBody, meta: ChatMeta, includeUsage: boolean): Promise<Response> {
  const translator = new ChatStreamTranslator(meta, includeUsage);
  return relay(c, deps, ex, body, {
    contentType: 'text/event-stream',
    chunk: (chunk) => translator.chunk(chunk).map(sse).join(''),
    end: (result) => (result.ok || result.error.kind === 'blocked' ? translator.end().map(sse).join('') : sse(poolFailureToOpenAI(result).body)) + SSE_DONE,
    noChunk: (result) => {
      if (!result.ok && result.error.kind !== 'blocked') return failure(c, result);
      // No chunk came: a refusal of the prompt, or an empty answer. Either way the stream
      // still says how it ended.
      const tail = result.ok ? translator.end() : [blockedChunk(result, meta, includeUsage)];
      return c.body(tail.map(sse).join('') + SSE_DONE, 200, { 'content-type': 'text/event-stream' });
    },
  });
}

/** A refused prompt as the one chunk of a stream: empty content, `finish_reason: "content_filter"`. */
function blockedChunk(result: Extract<NativeResult, { ok: false }>, meta: ChatMeta, includeUsage: boolean) {
  const completion = blockedCompletion(result, meta);
  return {
    id: completion.id,
    object: 'chat.completion.chunk',
    created: completion.created,
    model: completion.model,
    choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: 'content_filter' }],
    ...(includeUsage ? { usage: completion.usage ?? null } : {}),
  };
}
