/**
 * A pool stream relayed to an HTTP client, in whatever framing the dialect uses. Nothing is
 * sent until the first chunk or the failure is known, so a failure before any text is a
 * proper HTTP error (a 429 a client's retry logic understands); after that each chunk goes
 * out as it arrives. The client's connection is the stream's abort signal: a client that
 * goes away cancels the upstream call.
 */
import type { Context } from 'hono';
import type { NativeBody, NativeResult } from '../pool/nativeTypes.ts';
import type { GatewayEnv } from './auth.ts';
import type { GatewayDeps } from './deps.ts';
import { end, type Exchange } from './exchange.ts';

/** How a dialect writes a stream. */
export interface Framing {
  contentType: string;
  /** The text of one Gemini chunk (`''` sends nothing). */
  chunk(chunk: NativeBody): string;
  /** The text that ends the stream, given how it ended. */
  end(result: NativeResult): string;
  /** The whole answer when not a single chunk came: a failure, or an empty answer. */
  noChunk(result: NativeResult): Response;
}

const encoder = new TextEncoder();

/** Streams `body` through the pool to the client of `c`. */
export async function relay(c: Context<GatewayEnv>, deps: GatewayDeps, ex: Exchange, body: NativeBody, framing: Framing): Promise<Response> {
  const cancel = new AbortController();
  const clientGone = c.req.raw.signal;
  const onClientGone = (): void => cancel.abort();
  clientGone.addEventListener('abort', onClientGone, { once: true });
  const s = deps.pool.streamNative({ model: ex.model, body, client: ex.client.name, signal: cancel.signal });
  const it = s[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) {
    clientGone.removeEventListener('abort', onClientGone);
    const result = await s.result;
    const response = framing.noChunk(result);
    end(deps, ex, response.status, result);
    return response;
  }
  const readable = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(framing.chunk(first.value)));
    },
    async pull(controller) {
      const next = await it.next();
      if (!next.done) {
        const text = framing.chunk(next.value);
        if (text) controller.enqueue(encoder.encode(text));
        return;
      }
      const result = await s.result;
      controller.enqueue(encoder.encode(framing.end(result)));
      clientGone.removeEventListener('abort', onClientGone);
      end(deps, ex, 200, result);
      controller.close();
    },
    cancel() {
      cancel.abort();
      // 499: the client closed the connection before the answer was complete.
      void s.result.then((result) => end(deps, ex, 499, result));
    },
  });
  return new Response(readable, { status: 200, headers: { 'content-type': framing.contentType, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' } });
}
