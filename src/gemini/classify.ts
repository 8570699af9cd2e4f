/**
 * Error classification: every failure of a Gemini call is mapped once, here, to an
 * {@link ErrorKind}. The pool acts on kinds, never on raw HTTP statuses.
 */
import type { ErrorKind } from '../pool/types.ts';

/** What the pool needs to know about one failed attempt. */
export interface Classified {
  kind: ErrorKind;
  /** HTTP status, or 0 for network failures and timeouts. */
  status: number;
  /** Short, key-free text for logs and users. */
  message: string;
  /** RetryInfo.retryDelay in ms, when Gemini sent one. */
  retryDelayMs?: number;
  /** Which quota a 429 names: requests per minute, per day, or tokens per minute. */
  quotaScope?: 'minute' | 'day';
  /** QuotaFailure quotaValue: the limit Gemini enforces, when it says. */
  quotaValue?: number;
  /** Whether the quota limit counts tokens rather than requests. */
  quotaUnit?: 'requests' | 'tokens';
  /** ErrorInfo reason or block reason. */
  reason?: string;
}

/** Marks an attempt that our own timer aborted. */
export class AttemptTimeoutError extends Error {
  readonly brand = 'AttemptTimeoutError' as const;
  constructor(readonly timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
    this.name = 'AttemptTimeoutError';
  }
}

/** Marks a request the caller cancelled through its AbortSignal. */
export class CancelledError extends Error {
  readonly brand = 'CancelledError' as const;
  constructor() {
    super('the request was cancelled');
    this.name = 'CancelledError';
  }
}

export const isAttemptTimeout = (e: unknown): e is AttemptTimeoutError =>
  e instanceof Error && (e as { brand?: string }).brand === 'AttemptTimeoutError';
export const isCancelled = (e: unknown): e is CancelledError =>
  e instanceof Error && (e as { brand?: string }).brand === 'CancelledError';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
/** Only the objects of a list; anything else (an object, a number, null) holds none. */
const objectsOf = (v: unknown): Json[] => (Array.isArray(v) ? v.filter(isObject) : []);
const textOf = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Google's error object, reduced to fields of the right types: a malformed body yields fewer fields, never a throw. */
interface GoogleErrorBody {
  status?: string;
  message?: string;
  details: Json[];
}

/** Parses the JSON body the SDK puts in `ApiError.message` (possibly after a prefix). */
export function parseGoogleError(message: string): GoogleErrorBody | undefined {
  const start = message.indexOf('{');
  if (start < 0) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(message.slice(start));
  } catch {
    // Not JSON (an HTML 502 page, say): the status alone decides.
    return undefined;
  }
  const err = isObject(parsed) ? parsed.error : undefined;
  if (!isObject(err)) return undefined;
  const body: GoogleErrorBody = { details: objectsOf(err.details) };
  const status = textOf(err.status);
  if (status !== undefined) body.status = status;
  const text = textOf(err.message);
  if (text !== undefined) body.message = text;
  return body;
}

/** Parses a protobuf Duration string such as "37s" or "45.8s" into ms. */
export function parseDurationMs(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(\d+(?:\.\d+)?)s$/.exec(value.trim());
  if (!m) return undefined;
  const ms = Math.round(Number(m[1]) * 1000);
  return Number.isFinite(ms) ? ms : undefined;
}

const typeIs = (d: Json, suffix: string): boolean => typeof d['@type'] === 'string' && d['@type'].endsWith(suffix);

function classifyQuota(body: GoogleErrorBody | undefined): Classified {
  let retryDelayMs: number | undefined;
  let quotaScope: Classified['quotaScope'];
  let quotaValue: number | undefined;
  let quotaUnit: Classified['quotaUnit'];
  for (const d of body?.details ?? []) {
    if (typeIs(d, 'google.rpc.RetryInfo')) retryDelayMs = parseDurationMs(d.retryDelay);
    if (typeIs(d, 'google.rpc.QuotaFailure')) {
      for (const v of objectsOf(d.violations)) {
        const id = textOf(v.quotaId) ?? '';
        // A per-day violation outranks a per-minute one: the day is the longer wait.
        const scope = /PerDay/i.test(id) ? 'day' : /PerMinute/i.test(id) ? 'minute' : undefined;
        if (!scope || (quotaScope === 'day' && scope === 'minute')) continue;
        quotaScope = scope;
        quotaUnit = /Token/i.test(id) ? 'tokens' : 'requests';
        const value = typeof v.quotaValue === 'string' || typeof v.quotaValue === 'number' ? Number(v.quotaValue) : NaN;
        quotaValue = Number.isFinite(value) && value > 0 ? value : undefined;
      }
    }
  }
  const kind: ErrorKind = quotaScope === 'day' ? 'quota_exhausted' : 'rate_limited';
  const out: Classified = {
    kind,
    status: 429,
    message:
      kind === 'quota_exhausted'
        ? 'daily quota exhausted'
        : quotaScope === 'minute'
          ? 'per-minute rate limit reached'
          : 'rate limited (no details)',
  };
  if (retryDelayMs !== undefined) out.retryDelayMs = retryDelayMs;
  if (quotaScope) out.quotaScope = quotaScope;
  if (quotaValue !== undefined) out.quotaValue = quotaValue;
  if (quotaUnit) out.quotaUnit = quotaUnit;
  return out;
}

function errorInfoReason(body: GoogleErrorBody | undefined): string | undefined {
  for (const d of body?.details ?? []) {
    if (typeIs(d, 'google.rpc.ErrorInfo') && typeof d.reason === 'string') return d.reason;
  }
  return undefined;
}

/** Gemini's own message, shortened: it never contains the key (keys travel in a header). */
function googleMessage(body: GoogleErrorBody | undefined, fallback: string): string {
  const m = body?.message?.trim() || fallback;
  return m.length > 300 ? `${m.slice(0, 297)}...` : m;
}

/** Classifies an HTTP error by status and Google error body. Total: any status, any bytes. */
export function classifyHttp(status: number, rawMessage: string): Classified {
  const body = parseGoogleError(typeof rawMessage === 'string' ? rawMessage : '');
  const reason = errorInfoReason(body);
  if (status === 429) return classifyQuota(body);
  if (reason === 'API_KEY_INVALID' || status === 401) {
    return { kind: 'auth', status, reason: reason ?? 'UNAUTHENTICATED', message: 'API key not valid' };
  }
  if (status === 403) {
    const why = reason ?? body?.status ?? 'PERMISSION_DENIED';
    return { kind: 'auth', status, reason: why, message: `permission denied (${why})` };
  }
  if (status === 402) return { kind: 'billing', status, message: 'billing problem on the key\'s project' };
  if (status === 503) return { kind: 'overloaded', status, message: googleMessage(body, 'the model is overloaded') };
  if (status === 408 || status === 504) return { kind: 'transient', status, message: `upstream timeout (${status})` };
  if (status >= 500) return { kind: 'transient', status, message: `server error (${status})` };
  // Not an error status at all (a redirect a proxy sent, say): the server misbehaved.
  if (!(status >= 400)) return { kind: 'transient', status, message: `unexpected answer (HTTP ${status})` };
  const out: Classified = { kind: 'bad_request', status, message: googleMessage(body, `request rejected (${status})`) };
  if (reason) out.reason = reason;
  return out;
}

/** When classification itself fails (a thrown value no code expects): still a kind. */
const UNEXPECTED: Classified = Object.freeze({ kind: 'transient', status: 0, message: 'unexpected failure' }) as Classified;

/**
 * Classifies anything an SDK call threw. Total: any value, even one whose properties throw
 * when read, gives a kind, since a classification that throws would break the request (or a
 * background re-check) that asked.
 */
export function classifyError(err: unknown): Classified {
  try {
    return classifyThrown(err);
  } catch {
    return { ...UNEXPECTED };
  }
}

function classifyThrown(err: unknown): Classified {
  if (isAttemptTimeout(err)) return { kind: 'timeout', status: 0, message: err.message };
  if (isCancelled(err)) return { kind: 'timeout', status: 0, message: err.message, reason: 'CANCELLED' };
  if (err && typeof err === 'object') {
    const status = (err as { status?: unknown }).status;
    const message = (err as { message?: unknown }).message;
    if (typeof status === 'number' && Number.isInteger(status) && status >= 100 && status < 600) {
      return classifyHttp(status, typeof message === 'string' ? message : '');
    }
    // A cut SSE stream or a malformed body: the server misbehaved, another key may work.
    if (err instanceof SyntaxError) return { kind: 'transient', status: 0, message: 'malformed response from Gemini' };
  }
  const cause = err instanceof Error ? (err.cause as { code?: unknown } | undefined)?.code : undefined;
  const code = typeof cause === 'string' ? cause : undefined;
  // The connection's own timeouts (no answer, or a stream that went quiet) are slowness.
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return { kind: 'timeout', status: 0, message: 'Gemini did not answer in time' };
  return { kind: 'transient', status: 0, message: code ? `network error (${code})` : 'network error' };
}

/** Finish reasons that mean the answer was withheld. */
const BLOCKING_FINISH = new Set(['SAFETY', 'RECITATION', 'PROHIBITED_CONTENT', 'BLOCKLIST', 'SPII', 'IMAGE_SAFETY', 'LANGUAGE', 'OTHER']);

/** A 200 answer can still be a refusal: prompt blocked or candidate stopped for safety. */
export function classifyBlocked(response: {
  promptFeedback?: { blockReason?: string } | undefined;
  candidates?: Array<{ finishReason?: string }> | undefined;
}): Classified | undefined {
  const feedback: unknown = response.promptFeedback;
  const blockReason = isObject(feedback) ? feedback.blockReason : undefined;
  if (typeof blockReason === 'string' && blockReason) {
    return { kind: 'blocked', status: 200, reason: blockReason, message: `the prompt was blocked (${blockReason})` };
  }
  const candidates: unknown = response.candidates;
  const first: unknown = Array.isArray(candidates) ? candidates[0] : undefined;
  const finish = isObject(first) ? first.finishReason : undefined;
  if (typeof finish === 'string' && BLOCKING_FINISH.has(finish)) {
    return { kind: 'blocked', status: 200, reason: finish, message: `the answer was withheld (${finish})` };
  }
  return undefined;
}
