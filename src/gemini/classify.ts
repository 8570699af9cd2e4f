/**
 * Error classification: every failure of a Gemini call is mapped once, here, to an
 * {@link ErrorKind}. The pool acts on kinds, never on raw HTTP statuses.
 */
import type { ErrorKind } from './types.ts';

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
  /**
   * ErrorInfo reason or block reason; for a timeout, `CANCELLED` (the caller) or `DEADLINE`
   * (the request's deadline came before the attempt timeout).
   */
  reason?: string;
  /**
   * No HTTP answer came back: the connection failed (refused, unknown host, dropped before
   * any answer). Such an attempt never reached Gemini, so it counts against no quota.
   */
  unanswered?: true;
}

/** Marks an attempt that our own timer aborted. */
export class AttemptTimeoutError extends Error {
  readonly brand = 'AttemptTimeoutError' as const;
  /**
   * @param why `attempt`: no (complete) answer within the attempt timeout; `deadline`: the
   * request's deadline came first; `silence`: a started stream sent nothing for that long.
   */
  constructor(
    readonly timeoutMs: number,
    readonly why: 'attempt' | 'deadline' | 'silence' = 'attempt',
  ) {
    super(
      why === 'deadline'
        ? `deadline reached (no answer within the ${timeoutMs} ms left)`
        : why === 'silence'
          ? `the answer stopped for ${timeoutMs} ms`
          : `no answer within ${timeoutMs} ms`,
    );
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
  // Google's canonical status ('PERMISSION_DENIED'); the SDK puts an HTTP status text
  // ('Forbidden') there for a body that was not JSON, which no Gemini error is.
  const googleStatus = body?.status !== undefined && /^[A-Z_]+$/.test(body.status) ? body.status : undefined;
  if ((status === 401 || status === 403) && !reason && !googleStatus) {
    return { kind: 'auth', status, message: `refused (HTTP ${status}) by something that is not Gemini's API: a proxy?` };
  }
  if (reason === 'API_KEY_INVALID' || status === 401) {
    return { kind: 'auth', status, reason: reason ?? 'UNAUTHENTICATED', message: 'API key not valid' };
  }
  if (status === 403) {
    const why = reason ?? googleStatus ?? 'PERMISSION_DENIED';
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
  // Cut short by the request's own deadline: says nothing about how slow the key is.
  if (isAttemptTimeout(err)) return { kind: 'timeout', status: 0, message: err.message, ...(err.why === 'deadline' ? { reason: 'DEADLINE' } : {}) };
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
  const cause: unknown = err instanceof Error ? err.cause : undefined;
  const code = textOf(isObject(cause) || cause instanceof Error ? (cause as { code?: unknown }).code : undefined);
  // The connection's own timeouts (no answer, or a stream that went quiet) are slowness.
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return { kind: 'timeout', status: 0, message: 'Gemini did not answer in time' };
  // undici: `terminated` once the answer had begun, `fetch failed` before any answer.
  if (err instanceof Error && err.message === 'terminated') return { kind: 'transient', status: 0, message: 'the answer was cut off mid-way' };
  if (err instanceof Error && err.message === 'fetch failed') return { kind: 'transient', status: 0, message: networkMessage(cause), unanswered: true };
  if (err instanceof Error && cause !== undefined) return { kind: 'transient', status: 0, message: networkMessage(cause) };
  if (err instanceof Error && /^(exception parsing stream chunk|Incomplete JSON segment|Response body is empty)/.test(err.message)) {
    return { kind: 'transient', status: 0, message: 'malformed response from Gemini' };
  }
  // Anything else (the SDK choking on an answer of the wrong shape, say): name its type only,
  // since its text may quote the answer.
  const name = err instanceof Error ? err.name.replace(/[^A-Za-z]/g, '').slice(0, 40) : '';
  return { kind: 'transient', status: 0, message: name ? `unexpected failure (${name})` : 'unexpected failure' };
}

/** A host name or address as shown in a message: only the characters one can have. */
const hostText = (v: unknown): string | undefined => {
  const s = typeof v === 'string' ? v.replace(/[^A-Za-z0-9.:_%-]/g, '').slice(0, 100) : '';
  return s || undefined;
};

/** `127.0.0.1:9`, `[::1]:9`, or the host alone when the port is unknown. */
function endpointOf(c: Json): string | undefined {
  const socket = isObject(c.socket) ? c.socket : undefined;
  const host = hostText(c.address ?? socket?.remoteAddress ?? c.hostname ?? c.host);
  const rawPort = c.port ?? socket?.remotePort;
  const port = typeof rawPort === 'number' && Number.isInteger(rawPort) ? rawPort : undefined;
  if (host) return port === undefined ? host : host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  // undici's connect timeout names the address only in its message.
  const m = typeof c.message === 'string' ? /attempted address: ([A-Za-z0-9.:_%[\]-]+)/.exec(c.message) : null;
  return m ? m[1] : undefined;
}

/**
 * What went wrong on the way to Gemini, from the cause undici attaches to `fetch failed`
 * (its code, address and port). Never the URL: a proxy URL may carry a key in its query.
 */
function networkMessage(cause: unknown): string {
  let c: Json | undefined = isObject(cause) || cause instanceof Error ? (cause as Json) : undefined;
  // Several addresses tried at once (IPv6 and IPv4): the first says enough.
  if (c && textOf(c.code) === undefined && Array.isArray(c.errors) && isObject(c.errors[0])) c = c.errors[0];
  if (!c) return 'network error';
  const code = textOf(c.code);
  const where = endpointOf(c);
  const to = where ? ` to ${where}` : '';
  switch (code) {
    case 'ECONNREFUSED':
      return `connection refused${to}`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve host${where ? ` ${where}` : ''}${code === 'EAI_AGAIN' ? ' (temporary DNS failure)' : ''}`;
    case 'ECONNRESET':
    case 'EPIPE':
      return `connection reset${where ? ` by ${where}` : ''}`;
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return `connection closed${where ? ` by ${where}` : ''} before an answer`;
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return `connection timed out${to}`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `no route${to}`;
    default:
      if (code && /CERT|TLS|SSL|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code)) return `TLS error${where ? ` with ${where}` : ''} (${code})`;
      if (code) return `network error${where ? ` with ${where}` : ''} (${code.replace(/[^A-Z0-9_]/gi, '').slice(0, 40)})`;
      return 'network error';
  }
}

/**
 * A 200 without any text is no answer. Out of output tokens before any text (a thinking
 * model given a small `maxOutputTokens`) would be the same on every key; anything else is
 * the server's hiccup, and another key may answer.
 */
export function classifyEmpty(finishReason: string | undefined): Classified {
  if (finishReason === 'MAX_TOKENS') {
    return { kind: 'bad_request', status: 200, reason: finishReason, message: 'empty answer: the output token limit was reached before any text (raise maxOutputTokens)' };
  }
  const out: Classified = { kind: 'transient', status: 200, message: 'empty answer' };
  if (finishReason) out.reason = finishReason;
  return out;
}

/** Finish reasons that mean the answer was withheld. */
const BLOCKING_FINISH = new Set(['SAFETY', 'RECITATION', 'PROHIBITED_CONTENT', 'BLOCKLIST', 'SPII', 'IMAGE_SAFETY', 'LANGUAGE', 'OTHER']);

/** A 200 answer can still be a refusal: prompt blocked or candidate stopped for safety. */
export function classifyBlocked(response: { promptFeedback?: unknown; candidates?: unknown }): Classified | undefined {
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
