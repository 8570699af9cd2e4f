/**
 * Public types of the pool: results are values, states are discriminated unions.
 */

import type { ErrorKind, TokenUsage, ChatTurn, Source, ThinkingLevel } from '../gemini/types.ts';
export { ERROR_KINDS, THINKING_BUDGET_TOKENS, THINKING_LEVELS, type ErrorKind, type TokenUsage, type ChatTurn, type ChatPart, type InlineData, type Source, type ThinkingLevel } from '../gemini/types.ts';

/** Key-selection strategies. `health` is the default. */
export const STRATEGIES = ['health', 'round-robin', 'random', 'least-busy'] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** A failure the caller can show: never contains a key. */
export interface PoolError {
  kind: ErrorKind;
  message: string;
  /** When every key is cooling: how long until one is usable again. */
  retryAfterMs?: number;
  /** For `blocked`: Gemini's reason (SAFETY, RECITATION, ...). */
  reason?: string;
}

export interface PoolSuccess {
  ok: true;
  text: string;
  /** `key#N`, never the key. */
  keyId: string;
  model: string;
  attempts: number;
  latencyMs: number;
  usage: TokenUsage;
  finishReason?: string;
  /** With `search`: the pages Gemini's grounding metadata cites, in its order, without repeats. */
  sources?: Source[];
}

export interface PoolFailure {
  ok: false;
  error: PoolError;
  attempts: number;
  model: string;
  /** Streams only: the text delivered before the failure. */
  partialText?: string;
}

export type PoolResult = PoolSuccess | PoolFailure;

/** State of a key for one model. */
export type KeyState =
  | { status: 'active' }
  | { status: 'cooling'; until: number; reason: string; kind: ErrorKind }
  | {
      status: 'disabled';
      since: number;
      reason: string;
      kind: ErrorKind;
      /** Disabled by an operator (dashboard, CLI): no re-check enables it, only an operator. */
      manual?: true;
    };

export type KeyStatus = KeyState['status'];

/** A request to the pool. Either `prompt` or `contents`. */
export interface GenerateRequest {
  prompt?: string;
  contents?: ChatTurn[];
  /** Defaults to the first configured model. */
  model?: string;
  temperature?: number;
  systemInstruction?: string;
  maxOutputTokens?: number;
  /** Ground the answer in Google Search (and read the links of the prompt); the answer's `sources` cite it. */
  search?: boolean;
  /** A thinking budget (`THINKING_BUDGET_TOKENS`); unset, the model decides. */
  thinking?: ThinkingLevel;
  /** Cancels the request (all attempts). */
  signal?: AbortSignal;
  /** Overrides the pool's deadline for this request. */
  deadlineMs?: number;
  /** Who asks (`discord:user:ID`, a gateway token's name, `cli`): for limits and fair shares. */
  client?: string;
  /**
   * Called when the request has to wait for quota, with the expected wait in ms, and again
   * when that changes (a request of a client with a smaller share got in ahead). Not called
   * when the request goes at once.
   */
  onWait?: (expectedWaitMs: number) => void;
}

/**
 * Why a key is softly cooling (skipped for a while, never disabled): it answered 503 (model
 * overloaded) or timed out while other keys answered the same model. Shown as
 * `cooling (overloaded)` / `cooling (slow)`.
 */
export type SoftCooldown = 'overloaded' | 'slow';

export interface KeyModelStats {
  state: KeyStatus;
  /** Remaining cooldown, when cooling. */
  cooldownRemainingMs: number;
  /** Set when the cooldown is a soft one. */
  softCooldown?: SoftCooldown;
  reason?: string;
  usage: number;
  errors: number;
  requestsToday: number;
  tokensToday: number;
}

/** Per-key statistics. Keys appear as `key#N` with the last four characters as `hint`. */
export interface KeyStats {
  id: string;
  hint: string;
  /** Quota group label: the configured project name, or `own` when the key is its own group. */
  group: string;
  state: KeyStatus;
  /** Largest remaining cooldown over the models, 0 when none. */
  cooldownRemainingMs: number;
  /** Set when the key is cooling and every cooldown it has is a soft one (the longest's reason). */
  softCooldown?: SoftCooldown;
  disabledReason?: string;
  /** Disabled by an operator: stays disabled until an operator enables it. */
  disabledByOperator?: true;
  /** Added while the pool runs (`addKey`); absent for keys of the configuration. */
  added?: true;
  usage: number;
  errors: number;
  errorRate: number;
  avgTimeMs: number;
  requestsToday: number;
  tokensToday: number;
  models: Record<string, KeyModelStats>;
}

export interface KeyStatsReport {
  keys: KeyStats[];
  totals: {
    keys: number;
    active: number;
    cooling: number;
    disabled: number;
    totalRequests: number;
    failedRequests: number;
    usage: number;
    errors: number;
    requestsToday: number;
    tokensToday: number;
  };
}

export interface ModelPoolStats {
  poolSize: number;
  activeInstances: number;
  errorInstances: number;
  totalUsage: number;
  /** Usage per instance, by instance index. */
  usageDistribution: number[];
  /** Number of instances bound to each key (`key#N`). */
  keyDistribution: Record<string, number>;
}

export interface PoolStatsReport {
  models: Record<string, ModelPoolStats>;
  strategy: Strategy;
  totalRequests: number;
  failedRequests: number;
  inFlight: number;
  /** Requests waiting for quota or for a cooldown to end. */
  waiting: number;
}

/** Events the pool emits; payloads never contain a key. */
export interface PoolEvents {
  keyCooldown: { keyId: string; keyIds: string[]; group: string; model: string; untilMs: number; reason: string; kind: ErrorKind };
  keyDisabled: { keyId: string; keyIds: string[]; reason: string; kind: ErrorKind };
  keyRecovered: { keyId: string; model: string | null };
  /**
   * No key can take a request for this model. `kind` and `message` say why (rate limits, a
   * day's quota, server errors, disabled keys). `sameFailure` is set when every key was
   * refused with the same auth answer within a few seconds (`withinMs` from the first to the
   * last): then the path to Gemini (a proxy, the base URL) is the likely culprit.
   */
  allKeysUnavailable: { model: string; retryAfterMs?: number; kind: ErrorKind; message: string; sameFailure?: { withinMs: number; reason: string } };
  serviceRecovered: { model: string };
  /** A key joined while the pool runs (`addKey`, or another process added it). */
  keyAdded: { keyId: string; hint: string; group: string };
  /** A key left the pool (`removeKey`); its `key#N` is never reused. */
  keyRemoved: { keyId: string };
}

/** A streamed answer: iterate for text deltas, await `result` for the outcome. */
export interface PoolStream extends AsyncIterable<string> {
  readonly result: Promise<PoolResult>;
}
