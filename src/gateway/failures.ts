/**
 * A pool failure as HTTP: which status, which Retry-After, in words a client can act on.
 * One table for both dialects; each dialect shapes its own body (`nativeErrors.ts`,
 * `openai/errors.ts`). Messages come from the pool, already without keys.
 */
import type { ErrorKind } from '../pool/types.ts';
import type { NativeFailure } from '../pool/nativeTypes.ts';

/** How a failure is answered over HTTP. */
export interface HttpFailure {
  status: number;
  /** Google's status name for the native dialect. */
  googleStatus: string;
  message: string;
  /** Seconds, for the Retry-After header (429 only). */
  retryAfterS?: number;
}

/**
 * Seconds for `Retry-After`: the wait rounded up, at least 1 (0 would invite an instant
 * retry storm). Unknown waits are 1 s: the pool has already tried every key it could.
 */
export function retryAfterSeconds(retryAfterMs: number | undefined): number {
  if (retryAfterMs === undefined || !Number.isFinite(retryAfterMs)) return 1;
  return Math.max(1, Math.ceil(retryAfterMs / 1000));
}

const BY_KIND: Record<ErrorKind, { status: number; googleStatus: string }> = {
  rate_limited: { status: 429, googleStatus: 'RESOURCE_EXHAUSTED' },
  quota_exhausted: { status: 429, googleStatus: 'RESOURCE_EXHAUSTED' },
  overloaded: { status: 503, googleStatus: 'UNAVAILABLE' },
  timeout: { status: 504, googleStatus: 'DEADLINE_EXCEEDED' },
  transient: { status: 502, googleStatus: 'UNAVAILABLE' },
  bad_request: { status: 400, googleStatus: 'INVALID_ARGUMENT' },
  blocked: { status: 400, googleStatus: 'INVALID_ARGUMENT' },
  // Our keys, not the client's: the client's token was fine, so never 401.
  auth: { status: 503, googleStatus: 'UNAVAILABLE' },
  billing: { status: 503, googleStatus: 'UNAVAILABLE' },
};

/** The HTTP answer of a pool failure. */
export function httpFailure(failure: NativeFailure): HttpFailure {
  const { kind, message, retryAfterMs } = failure.error;
  const row = BY_KIND[kind];
  if (kind === 'auth' || kind === 'billing') {
    return { ...row, message: `no working key: every key of the pool is refused by Gemini (${message})` };
  }
  if (kind === 'bad_request' && failure.status === 404) return { status: 404, googleStatus: 'NOT_FOUND', message };
  if (kind === 'blocked') return { ...row, message: `the prompt or the answer was blocked${failure.error.reason ? ` (${failure.error.reason})` : ''}` };
  if (row.status === 429) return { ...row, message, retryAfterS: retryAfterSeconds(retryAfterMs) };
  return { ...row, message };
}
