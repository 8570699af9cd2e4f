/**
 * The Gemini-native routes: what `@google/genai` and curl users send, answered with
 * Gemini's own JSON. `POST {v1beta|v1}/models/{model}:{method}` for generateContent,
 * streamGenerateContent (`alt=sse`, or the JSON array Gemini sends without it),
 * countTokens, embedContent and batchEmbedContents; `GET .../models` and `.../models/{model}`
 * (also answered in the OpenAI shape, whose `GET /v1/models` is the same path).
 */
import { Hono, type Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { NativeBody, NativeMethod, NativeResult } from '../pool/nativeTypes.ts';
import { authenticate, type GatewayEnv } from './auth.ts';
import type { GatewayDeps } from './deps.ts';
import { begin, end, refusal, servedModels, type Exchange } from './exchange.ts';
import { httpFailure } from './failures.ts';
import { modelEntry, modelList } from './models.ts';
import { readJsonObject } from './body.ts';
import { relay } from './relay.ts';

const ACTION = /^([A-Za-z0-9][A-Za-z0-9._-]{0,127}):(generateContent|streamGenerateContent|countTokens|embedContent|batchEmbedContents)$/;

/** Gemini's error body. */
export function googleError(status: number, googleStatus: string, message: string, details?: unknown[]): NativeBody {
  return { error: { code: status, message, status: googleStatus, ...(details ? { details } : {}) } };
}

const STATUS_NAMES: Record<number, string> = { 400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 413: 'INVALID_ARGUMENT', 429: 'RESOURCE_EXHAUSTED' };

/** A plain error in Gemini's shape. */
export function nativeError(c: Context, status: ContentfulStatusCode, message: string, headers: Record<string, string> = {}): Response {
  return c.json(googleError(status, STATUS_NAMES[status] ?? 'UNKNOWN', message), status, headers);
}

/** A pool failure in Gemini's shape: Retry-After and RetryInfo for 429, the refusal's own body for blocked. */
function failureResponse(c: Context, result: Extract<NativeResult, { ok: false }>): { response: Response; body: NativeBody } {
  const f = httpFailure(result);
  const details = f.retryAfterS !== undefined ? [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${f.retryAfterS}s` }] : undefined;
  const body: NativeBody = { ...(result.error.kind === 'blocked' && result.body ? pickRefusal(result.body) : {}), ...googleError(f.status, f.googleStatus, f.message, details) };
  const headers: Record<string, string> = f.retryAfterS !== undefined ? { 'retry-after': String(f.retryAfterS) } : {};
  return { response: c.json(body, f.status as ContentfulStatusCode, headers), body };
}

/** What of a refused answer the client sees: Gemini's promptFeedback and candidates, as Gemini sent them. */
function pickRefusal(body: NativeBody): NativeBody {
  const out: NativeBody = {};
  if (body.promptFeedback !== undefined) out.promptFeedback = body.promptFeedback;
  if (body.candidates !== undefined) out.candidates = body.candidates;
  return out;
}

/** The routes, mounted by the server at `/v1beta` and `/v1`. */
export function nativeRoutes(deps: GatewayDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  // On each route, not on '*': the OpenAI routes share the `/v1` prefix and answer in their own shape.
  const auth = authenticate(deps.tokens, (c, status, message) => nativeError(c, status, message));

  app.get('/models', auth, (c) => c.json(modelList(deps)));
  app.get('/models/:model{[^:]+}', auth, (c) => {
    const model = c.req.param('model');
    const entry = modelEntry(deps, model);
    return entry ? c.json(entry) : nativeError(c, 404, `models/${model} is not served here (served: ${servedModels(deps).join(', ')})`);
  });

  app.post('/models/:action', auth, async (c) => {
    const match = ACTION.exec(c.req.param('action'));
    if (!match) return nativeError(c, 404, 'unknown method: the gateway serves generateContent, streamGenerateContent, countTokens, embedContent and batchEmbedContents');
    const model = match[1]!;
    const method = match[2] as NativeMethod | 'streamGenerateContent';
    const served = servedModels(deps);
    const route = `${new URL(c.req.url).pathname}`;
    const client = c.get('client');
    if (!served.includes(model)) return nativeError(c, 404, `models/${model} is not served here (served: ${served.join(', ')})`);
    const parsed = await readJsonObject(c);
    if (!parsed.ok) return nativeError(c, parsed.status, parsed.message);
    const body = parsed.body;
    if (method === 'batchEmbedContents') {
      const bad = batchModelProblem(body, model);
      if (bad) return nativeError(c, 400, bad);
    }
    const ex = begin(c, deps, route, model, method === 'streamGenerateContent', body);
    const refused = await refusal(deps, client, model);
    if (refused) {
      end(deps, ex, refused.status, undefined);
      return nativeError(c, refused.status, refused.message, refused.retryAfterS !== undefined ? { 'retry-after': String(refused.retryAfterS) } : {});
    }
    if (method === 'streamGenerateContent') return stream(c, deps, ex, body, c.req.query('alt') === 'sse');
    const result = await deps.pool.callNative({ model, method, body, client: client.name, signal: c.req.raw.signal });
    if (result.ok) {
      end(deps, ex, 200, result, result.body);
      return c.json(result.body);
    }
    const failed = failureResponse(c, result);
    end(deps, ex, failed.response.status, result);
    return failed.response;
  });
  return app;
}

/** Every request of a batch must name the model of the URL (or none): no other model through the back door. */
function batchModelProblem(body: NativeBody, model: string): string | undefined {
  const requests = body.requests;
  if (!Array.isArray(requests) || requests.length === 0) return 'requests: a non-empty list of embed requests is required';
  for (const [i, r] of requests.entries()) {
    if (typeof r !== 'object' || r === null) return `requests[${i}]: must be an object`;
    const named = (r as { model?: unknown }).model;
    if (named === undefined) (r as { model?: unknown }).model = `models/${model}`;
    else if (named !== `models/${model}` && named !== model) return `requests[${i}].model: must be models/${model}, the model of the URL`;
  }
  return undefined;
}

/**
 * A streamed answer: with `alt=sse` server-sent events as Gemini sends them, without it the
 * JSON array Gemini sends. A failure after the first chunk ends the stream with an error
 * object in the same framing.
 */
function stream(c: Context<GatewayEnv>, deps: GatewayDeps, ex: Exchange, body: NativeBody, sse: boolean): Promise<Response> {
  let index = 0;
  const frame = (chunk: unknown): string => (sse ? `data: ${JSON.stringify(chunk)}\r\n\r\n` : `${index++ === 0 ? '[' : ',\r\n'}${JSON.stringify(chunk)}`);
  return relay(c, deps, ex, body, {
    contentType: sse ? 'text/event-stream' : 'application/json; charset=UTF-8',
    chunk: frame,
    end: (result) => (result.ok ? '' : frame(failureBody(result))) + (sse ? '' : ']'),
    noChunk: (result) =>
      // No chunk at all and no failure: nothing to pass on.
      result.ok ? (sse ? c.body('', 200, { 'content-type': 'text/event-stream' }) : c.json([])) : failureResponse(c, result).response,
  });
}

/** A failure after the first chunk, as the last object of the stream. */
function failureBody(result: Extract<NativeResult, { ok: false }>): NativeBody {
  const f = httpFailure(result);
  return googleError(f.status, f.googleStatus, f.message);
}
