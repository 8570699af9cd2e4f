/**
 * One attempt on one client: what a plain or a streamed answer does with the client, and the
 * timer that bounds it. No accounting here (the pool counts), no choice of key.
 */
import type { AdapterRequest } from '../gemini/adapter.ts';
import { AttemptTimeoutError, CancelledError, type Classified } from '../gemini/classify.ts';
import { classifyFailure, type ClassifiedClient } from '../gemini/client.ts';
import type { Source, TokenUsage } from '../gemini/types.ts';
import { Agent } from 'undici';
import type { PushQueue } from './queue.ts';
import type { PoolFailure, PoolResult } from './types.ts';

/** A complete answer of one attempt. */
export interface Answer {
  text: string;
  usage: TokenUsage;
  finishReason?: string;
  sources?: Source[];
}

/** Sources of a stream's chunks together, first seen first, each page once. */
function addSources(into: Source[] | undefined, more: readonly Source[] | undefined): Source[] | undefined {
  if (!more || more.length === 0) return into;
  const out = [...(into ?? [])];
  for (const s of more) if (!out.some((o) => o.uri === s.uri)) out.push(s);
  return out;
}

/**
 * How an attempt ended; `committed`: text already went to the caller, so no failover. A
 * refusal of the native path carries Gemini's answer that said so (`body`).
 */
export type AttemptOutcome<T> = { ok: true; value: T } | { ok: false; error: Classified; committed: boolean; partialText?: string; body?: Record<string, unknown> };

/** What the request loop needs to know of a request. */
export interface RunSpec {
  model: string;
  /** Estimated input tokens, for the quota check. */
  tokens: number;
  /** False for a call Gemini counts against no quota (countTokens): it takes no slot. @default true */
  countsQuota?: boolean;
  signal?: AbortSignal | undefined;
  deadlineMs?: number | undefined;
  /** Who asks: its fair share when requests wait for quota. */
  client?: string | undefined;
  /** Told when the request waits for quota, with the expected wait (again when it changes). */
  onWait?: ((expectedWaitMs: number) => void) | undefined;
}

/**
 * What the request loop ends with: the value of the attempt that succeeded, or the failure
 * with what the last attempt learned (Gemini's HTTP status, its key, a refusal's answer).
 */
export type RunOutcome<T> =
  | { ok: true; value: T; keyId: string; model: string; attempts: number; latencyMs: number }
  | { ok: false; failure: PoolFailure; status?: number; keyId?: string; body?: Record<string, unknown> };

/** A text answer's outcome as the pool's result. */
export function poolResult(r: RunOutcome<Answer>): PoolResult {
  if (!r.ok) return r.failure;
  const { value, keyId, model, attempts, latencyMs } = r;
  return {
    ok: true,
    text: value.text,
    keyId,
    model,
    attempts,
    latencyMs,
    usage: value.usage,
    ...(value.finishReason ? { finishReason: value.finishReason } : {}),
    ...(value.sources ? { sources: value.sources } : {}),
  };
}

/**
 * One attempt on one client, ended through `signal` by its timer or the caller. `progress`
 * tells the pool a piece of text went to the caller: the first commits the answer, which
 * from then on is bounded by silence (no piece for the attempt timeout), no longer by the
 * deadline.
 */
export type Attempt<T> = (client: ClassifiedClient, signal: AbortSignal, progress: () => void) => Promise<AttemptOutcome<T>>;

/** A plain answer: one call. */
export function answerAttempt(req: AdapterRequest): Attempt<Answer> {
  return async (client, signal) => {
    const r = await client.generate(req, signal);
    if (!r.ok) return { ok: false, error: r.error, committed: false };
    const a = r.value;
    const out: Answer = { text: a.text, usage: a.usage };
    if (a.finishReason) out.finishReason = a.finishReason;
    if (a.sources?.length) out.sources = a.sources;
    return { ok: true, value: out };
  };
}

/** A streamed answer: each piece of text goes to `queue` as it arrives. */
export function streamAttempt(req: AdapterRequest, queue: PushQueue<string>): Attempt<Answer> {
  return async (client, signal, progress) => {
    let text = '';
    let usage: TokenUsage = { promptTokens: 0, outputTokens: 0, totalTokens: 0 };
    let finishReason: string | undefined;
    let sources: Source[] | undefined;
    for await (const piece of client.stream(req, signal)) {
      // Pieces the client had already read still come after an abort: none goes on past it.
      if (signal.aborted) return { ok: false, error: classifyFailure(signal.reason, signal), committed: text.length > 0, partialText: text };
      if (!piece.ok) {
        const committed = text.length > 0;
        // A refusal withholds the answer: what came before it is not passed on.
        return piece.error.kind === 'blocked' ? { ok: false, error: piece.error, committed } : { ok: false, error: piece.error, committed, partialText: text };
      }
      const chunk = piece.chunk;
      if (chunk.usage) usage = chunk.usage;
      if (chunk.finishReason) finishReason = chunk.finishReason;
      sources = addSources(sources, chunk.sources);
      if (chunk.text) {
        progress();
        text += chunk.text;
        queue.push(chunk.text);
      }
    }
    const out: Answer = { text, usage };
    if (finishReason) out.finishReason = finishReason;
    if (sources) out.sources = sources;
    return { ok: true, value: out };
  };
}

/**
 * Runs `run` under a timer of its own, not the connection's timeouts: those restart with
 * every byte (a body trickling one byte at a time, SSE comments, would never end) and tick
 * once a second. Until text reaches the caller, `timeoutMs` (the attempt timeout or what is
 * left of the deadline, whichever is nearer) ends the attempt whatever the upstream does;
 * then `idleMs` of silence does. The caller's `outer` signal cancels it. One controller and
 * one timer per attempt; the timer is re-armed in place as text arrives.
 */
export async function timed<T>(timeoutMs: number, idleMs: number, outer: AbortSignal | undefined, run: (signal: AbortSignal, progress: () => void) => Promise<T>): Promise<T> {
  const ctl = new AbortController();
  const why = timeoutMs < idleMs ? 'deadline' : 'attempt';
  let timer = setTimeout(() => ctl.abort(new AttemptTimeoutError(timeoutMs, why)), timeoutMs);
  let committed = false;
  const progress = (): void => {
    if (committed) {
      timer.refresh();
      return;
    }
    committed = true;
    clearTimeout(timer);
    timer = setTimeout(() => ctl.abort(new AttemptTimeoutError(idleMs, 'silence')), idleMs);
  };
  const onAbort = () => ctl.abort(new CancelledError());
  if (outer?.aborted) onAbort();
  else outer?.addEventListener('abort', onAbort, { once: true });
  try {
    return await run(ctl.signal, progress);
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onAbort);
  }
}

/**
 * The connections every instance shares, and the fetch the SDK is given to use them. Each
 * attempt has a timer of its own ({@link timed}); the connection's timeouts, which restart
 * with every byte and tick once a second, are only a backstop behind it.
 */
export function sharedConnections(attemptTimeoutMs: number): { agent: Agent; fetch: typeof globalThis.fetch } {
  const backstopMs = attemptTimeoutMs + 2_000;
  const agent = new Agent({ headersTimeout: backstopMs, bodyTimeout: backstopMs });
  // Node's fetch takes an undici dispatcher (`dispatcher` is its extension of RequestInit).
  return { agent, fetch: (input, init) => globalThis.fetch(input, { ...init, dispatcher: agent } as RequestInit) };
}
