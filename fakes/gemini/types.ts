/**
 * The fake Gemini's shapes: its options, the faults it can inject, its request log, and the
 * answer it decides on before writing it out.
 */

/** One API key the fake knows. */
export interface FakeKey {
  /** The key string, as sent in `x-goog-api-key` (or `?key=`). */
  key: string;
  /** Google Cloud project of the key; quota is shared by all keys of a project. Default: the key itself. */
  project?: string;
  /** Default `'valid'`. `invalid` → 400 API_KEY_INVALID, `suspended` → 403 CONSUMER_SUSPENDED, `billing` → 402. */
  status?: 'valid' | 'invalid' | 'suspended' | 'billing';
}

/** Quota limits of one project for one model. Missing fields mean "no limit". */
export interface QuotaLimits {
  /** Requests per minute (sliding window of `minuteMs`). */
  rpm?: number;
  /** Requests per day (Pacific calendar day, or fixed `dayMs` windows). */
  rpd?: number;
  /** Input tokens per minute (tokens ≈ ceil(chars / 4)). */
  tpm?: number;
}

/** Options of {@link FakeGemini.start}. */
export interface FakeGeminiOptions {
  /** Keys with a project and status. Keys not listed are valid and their own project, unless `rejectUnknownKeys`. */
  keys?: FakeKey[];
  /** Default false; true → an unknown key answers 400 API_KEY_INVALID. */
  rejectUnknownKeys?: boolean;
  /** Limits per project AND per model (never per key): one object for all, or a function. */
  quotas?: QuotaLimits | ((project: string, model: string) => QuotaLimits | undefined);
  /** Clock in ms, default `Date.now`. Inject a mutable clock to test quotas without sleeping. */
  now?: () => number;
  /** Length of the "minute" window in ms, default 60 000. */
  minuteMs?: number;
  /** If set, the "day" is fixed windows of this length from epoch; else the America/Los_Angeles calendar day. */
  dayMs?: number;
  /** Real-time delay before each response, default 0. */
  latencyMs?: number;
  /** Known models (without `models/`). Unknown model → 404 NOT_FOUND. */
  models?: string[];
  /** Answer text; default `echo: ${lastUserText}`. */
  reply?: (ctx: ReplyContext) => string;
  /** A stream splits the answer into chunks of this many characters, default 20. */
  streamChunkChars?: number;
  /**
   * The pages a request with the Google Search tool (`tools: [{ googleSearch: {} }]`) is
   * grounded in: its answer's last candidate carries them as `groundingMetadata`. Default:
   * two pages named after the last user text.
   */
  grounding?: (ctx: ReplyContext) => Array<{ title: string; uri: string }>;
  /**
   * Function calls instead of text, for requests that declare functions (`tools[].
   * functionDeclarations`); requests without any always get text. `true`: the first declared
   * function with no arguments, unless the last turn hands back function results (then text).
   * A function decides per request (undefined: text). Default: never.
   */
  functionCallReply?: boolean | ((ctx: ReplyContext) => FunctionCallReply | FunctionCallReply[] | undefined);
  /**
   * Gemini 3's thought signatures: the first function call of an answer carries a
   * `thoughtSignature`, and a request whose current turn holds a function call without its
   * signature is refused with Gemini's 400. Default false.
   */
  thoughtSignatures?: boolean;
}

/** One function call the fake answers with. */
export interface FunctionCallReply {
  name: string;
  /** Default `{}`. */
  args?: Json;
}

/** What a {@link FakeGeminiOptions.reply} function sees. */
export interface ReplyContext {
  key: string;
  project: string;
  /** Model name without `models/`. */
  model: string;
  /** `requestBody.contents` as sent. */
  contents: unknown;
  /** Text of the last `user` content (parts joined). */
  lastUserText: string;
  /** Text of `systemInstruction`, when sent. */
  systemInstruction?: string;
  requestBody: any;
}

/** One request the fake received. */
export interface RequestLogEntry {
  /** `now()` when the request arrived. */
  at: number;
  /** The API key ('' when none was sent). */
  key: string;
  /** The key's project ('' when no key was sent). */
  project: string;
  /** Model without `models/`, or null for routes without a model. */
  model: string | null;
  route:
    | 'generateContent'
    | 'streamGenerateContent'
    | 'countTokens'
    | 'embedContent'
    | 'batchEmbedContents'
    | 'listModels'
    | 'getModel'
    | 'unknown';
  /** 'v1', 'v1beta', ... ('' if the path had none). */
  apiVersion: string;
  /** The path and query as received (`/v1beta/models/m:streamGenerateContent?alt=sse`). */
  url: string;
  /** HTTP status sent; 0 for `hang` and `reset`. */
  status: number;
  /** Parsed JSON body, whole (raw string if not JSON, undefined for GET). */
  body: any;
  /** Set when the client closed the connection before the answer was complete (it gave up or cancelled). */
  clientClosed?: true;
  /** `type` of the injected fault that shaped this answer, if any. */
  fault?: string;
}

/** A failure to inject; see {@link FakeGemini.inject}. */
export type Fault =
  /** An HTTP error with Google's body (502 is an HTML page, 429 is the bare one without details). */
  | { type: 'status'; status: 500 | 502 | 503 | 504 | 400 | 404 | 429 | 401 | 403 | 402; message?: string }
  /**
   * A real quota 429 with QuotaFailure (+Help, +RetryInfo unless `retryDelay === null`).
   * `retryDelay` undefined → computed like a real quota hit; `quotaValue` default: the configured limit, else 10 / 250.
   */
  | { type: 'rateLimit'; per: 'minute' | 'day'; retryDelay?: string | null; quotaValue?: string }
  /** Never answer, until the client aborts or the server closes. */
  | { type: 'hang' }
  /** Destroy the socket without a response. */
  | { type: 'reset' }
  /** 200 with a body that is not JSON (for a stream: an SSE event whose data is not JSON). */
  | { type: 'malformed' }
  /** Stream only: send N SSE chunks (none final) then destroy the socket. */
  | { type: 'cutStream'; afterChunks: number }
  /** Generate routes only: promptFeedback.blockReason (default 'SAFETY'), no candidates. */
  | { type: 'blocked'; reason?: string }
  /** Generate routes only: candidate with this finishReason; no text for SAFETY-like reasons, else partial text. */
  | { type: 'finishReason'; reason: string }
  /** Extra delay of `ms` before this answer, which is otherwise normal. */
  | { type: 'latency'; ms: number }
  /** Any status with exactly these bytes as the body (content type `application/json` unless given). */
  | { type: 'body'; status: number; body: string | Uint8Array; contentType?: string }
  /** Generate routes only: headers at once, then the otherwise normal answer one byte every `intervalMs`. */
  | { type: 'trickle'; intervalMs: number }
  /** Stream only: `count` SSE comment lines, one every `intervalMs`, before the data (instead of it with `data: false`). */
  | { type: 'sseComments'; count: number; intervalMs: number; data?: boolean }
  /** Generate routes only: the answer's `usageMetadata` is exactly this value (strings, garbage, anything). */
  | { type: 'usage'; usageMetadata: unknown }
  /** Generate routes only: an answer without any text, with this finish reason (default STOP). */
  | { type: 'empty'; finishReason?: string };

/** Which requests a fault applies to, and how many times. */
export interface FaultMatch {
  key?: string;
  /** With or without `models/`. */
  model?: string;
  route?: RequestLogEntry['route'];
  /** Default 1; `Infinity` for always. */
  times?: number;
}

/** The routes the fake tells apart. */
export type Route = RequestLogEntry['route'];
/** A JSON object. */
export type Json = Record<string, unknown>;

/** How an answer's bytes go out: one byte at a time, or after SSE comment lines. */
export interface Pacing {
  trickleMs?: number;
  comments?: { count: number; intervalMs: number; data: boolean };
}

/** What the fake decided to send: a JSON body, raw bytes, an SSE stream, a hang or a reset. */
export type Outcome =
  | ({ kind: 'json'; status: number; body: unknown } & Pacing)
  | { kind: 'raw'; status: number; contentType: string; body: string | Uint8Array }
  | ({ kind: 'stream'; chunks: Json[]; cutAfter?: number; malformed?: boolean } & Pacing)
  | { kind: 'hang' }
  | { kind: 'reset' };
