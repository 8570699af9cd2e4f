/**
 * What every gateway request goes through, whatever its dialect: may this client use this
 * model, is it within its limits, and afterwards its usage counted and its row in the
 * request log. The routes only translate.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { NativeResult } from '../pool/nativeTypes.ts';
import type { GatewayClient, GatewayEnv } from './auth.ts';
import type { GatewayDeps } from './deps.ts';
import { retryAfterSeconds } from './failures.ts';

/** A request being served. */
export interface Exchange {
  client: GatewayClient;
  route: string;
  model: string;
  streamed: boolean;
  startedAt: number;
  /** Kept for the log only when REQUEST_LOG_BODIES is on. */
  requestBody?: string;
}

/** Why a request is refused before the pool is asked. */
export type Refusal = { status: 403 | 429; message: string; retryAfterS?: number };

/** Every model the gateway serves. */
export function servedModels(deps: Pick<GatewayDeps, 'chatModels' | 'embeddingModels'>): string[] {
  return [...new Set([...deps.chatModels, ...deps.embeddingModels])];
}

/** A refusal when this client may not send this request now; undefined when it may. */
export async function refusal(deps: GatewayDeps, client: GatewayClient, model: string): Promise<Refusal | undefined> {
  const token = client.token;
  if (token && deps.tokens && !deps.tokens.allows(token, model)) {
    return { status: 403, message: `this client token may not use ${model} (allowed: ${(token.models ?? []).join(', ')})` };
  }
  if (!token) return undefined;
  const admitted = await deps.limits.admit(client.name, token.limits, deps.now());
  if (admitted.ok) return undefined;
  const what = { rpm: 'requests a minute', rpd: 'requests a day', tpd: 'tokens a day' }[admitted.limit];
  return {
    status: 429,
    message: `this client token is over its limit of ${what}; try again in ${retryAfterSeconds(admitted.retryAfterMs)} s`,
    retryAfterS: retryAfterSeconds(admitted.retryAfterMs),
  };
}

/** Starts an exchange; it owns the request's log row from now on (see {@link logUnserved}). */
export function begin(c: Context<GatewayEnv>, deps: GatewayDeps, route: string, model: string, streamed: boolean, body: unknown): Exchange {
  const ex: Exchange = { client: c.get('client'), route, model, streamed, startedAt: deps.now() };
  if (deps.logBodies) ex.requestBody = JSON.stringify(body);
  c.set('exchange', ex);
  return ex;
}

/**
 * Logs what never became an exchange: a request refused before it reached the pool (no or a
 * bad token, a body that is not JSON, a field that cannot be honoured, an unknown route) and
 * the model lists, so the request log has every request.
 */
export function logUnserved(deps: GatewayDeps): MiddlewareHandler<GatewayEnv> {
  return async (c, next) => {
    const startedAt = deps.now();
    await next();
    if (c.get('exchange')) return;
    const path = new URL(c.req.url).pathname;
    try {
      deps.log.append({
        at: startedAt,
        token: c.get('client')?.name ?? '-',
        route: path.slice(0, 200),
        model: /\/models\/([A-Za-z0-9._-]{1,128})(?::|$)/.exec(path)?.[1] ?? '',
        status: c.res.status,
        attempts: 0,
        latencyMs: deps.now() - startedAt,
        tokensIn: 0,
        tokensOut: 0,
        streamed: false,
      });
    } catch (err) {
      deps.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not record a gateway request');
    }
  };
}

/**
 * Ends an exchange: counts the client's usage and writes its log row. `result` is the
 * pool's (absent when the request never reached the pool).
 */
export function end(deps: GatewayDeps, ex: Exchange, status: number, result: NativeResult | undefined, responseBody?: unknown): void {
  const usage = result?.ok ? result.usage : undefined;
  const tokensIn = usage?.promptTokens ?? 0;
  const tokensOut = usage?.outputTokens ?? 0;
  const keyId = result ? (result.ok ? result.keyId : result.keyId) : undefined;
  try {
    if (result) deps.limits.record(ex.client.name, { requests: 1, tokens: usage?.totalTokens ?? 0, errors: result.ok ? 0 : 1 }, deps.now());
    deps.log.append({
      at: ex.startedAt,
      token: ex.client.name,
      route: ex.route,
      model: ex.model,
      ...(keyId ? { keyId } : {}),
      status,
      ...(result && !result.ok ? { kind: result.error.kind } : {}),
      attempts: result?.attempts ?? 0,
      latencyMs: deps.now() - ex.startedAt,
      tokensIn,
      tokensOut,
      streamed: ex.streamed,
      ...(deps.logBodies && ex.requestBody !== undefined ? { requestBody: ex.requestBody } : {}),
      ...(deps.logBodies && responseBody !== undefined ? { responseBody: typeof responseBody === 'string' ? responseBody : JSON.stringify(responseBody) } : {}),
    });
  } catch (err) {
    // Counting must never fail the answer the client already has.
    deps.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not record a gateway request');
  }
}
