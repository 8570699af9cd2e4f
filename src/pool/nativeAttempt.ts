/**
 * The pool's Gemini-native attempts: a whole request body sent as given on one client, and
 * Gemini's answer (or its chunks) passed back as it came. The request loop around them
 * (failover, quota, deadline, counters, events) is the one every request goes through.
 */
import { hasContent, usageOf } from '../gemini/native.ts';
import type { TokenUsage } from '../gemini/types.ts';
import type { Attempt, RunOutcome, RunSpec } from './attempt.ts';
import { estimateTokens } from './limiter.ts';
import { NATIVE_METHODS, type NativeBody, type NativeFailure, type NativeMethod, type NativeRequest, type NativeResult } from './nativeTypes.ts';
import type { PushQueue } from './queue.ts';

/** A complete native answer of one attempt: Gemini's JSON (a stream's last chunk) and its usage. */
export interface NativeAnswer {
  body: NativeBody;
  usage: TokenUsage;
}

const EMPTY_USAGE: TokenUsage = { promptTokens: 0, outputTokens: 0, totalTokens: 0 };

/**
 * What one image, audio or file part is counted as by the quota check: Gemini bills a small
 * image at 258 tokens, and the bytes of a part say little about its tokens.
 */
export const MEDIA_PART_TOKENS = 258;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The input tokens a native request will likely use, for the quota check: the text of its
 * contents and system instruction (also inside an embedding or countTokens request), function
 * calls and responses by their JSON, and {@link MEDIA_PART_TOKENS} per inline or file part.
 */
export function nativeTokens(body: NativeBody): number {
  let chars = 0;
  let media = 0;
  const content = (c: unknown): void => {
    if (typeof c === 'string') chars += c.length;
    const parts = isObject(c) ? c.parts : undefined;
    if (!Array.isArray(parts)) return;
    for (const p of parts) {
      if (!isObject(p)) continue;
      if (typeof p.text === 'string') chars += p.text.length;
      if (p.inlineData !== undefined || p.fileData !== undefined) media++;
      for (const k of ['functionCall', 'functionResponse'] as const) if (p[k] !== undefined) chars += JSON.stringify(p[k])?.length ?? 0;
    }
  };
  const request = (r: unknown): void => {
    if (!isObject(r)) return;
    for (const c of Array.isArray(r.contents) ? r.contents : [r.contents]) content(c);
    content(r.systemInstruction);
    content(r.content);
  };
  request(body);
  request(body.generateContentRequest);
  if (Array.isArray(body.requests)) for (const r of body.requests) request(r);
  return estimateTokens(chars) + media * MEDIA_PART_TOKENS;
}

/**
 * A native request checked before any attempt: the method, a served model, a body that is an
 * object. Returns what the request loop needs (a countTokens call counts against no quota:
 * Gemini does not count it either), or the failure to return at once (`bad_request`, no
 * attempt).
 */
export function checkNative(req: NativeRequest, models: readonly string[], defaultModel: string): RunSpec | { error: NativeFailure } {
  const model = req.model ?? defaultModel;
  const fail = (message: string): { error: NativeFailure } => ({ error: { ok: false, attempts: 0, model, error: { kind: 'bad_request', message } } });
  if (!(NATIVE_METHODS as readonly string[]).includes(req.method)) return fail(`method ${String(req.method)} is not served (available: ${NATIVE_METHODS.join(', ')})`);
  if (!models.includes(model)) return fail(`model ${model} is not served here (available: ${models.join(', ')})`);
  if (!isObject(req.body)) return fail('the request body must be a JSON object');
  const free = req.method === 'countTokens';
  return { model, tokens: free ? 0 : nativeTokens(req.body), countsQuota: !free, signal: req.signal, deadlineMs: req.deadlineMs, client: req.client };
}

/** One native call: Gemini's answer as it came, or why not (a refusal with its answer). */
export function nativeAttempt(method: NativeMethod, model: string, body: NativeBody): Attempt<NativeAnswer> {
  return async (client, signal) => {
    const r = await client.native(method, model, body, signal);
    if (!r.ok) return { ok: false, error: r.error, committed: false, ...(r.body ? { body: r.body } : {}) };
    return { ok: true, value: { body: r.value, usage: usageOf(r.value) ?? EMPTY_USAGE } };
  };
}

/**
 * A native stream: each chunk goes to `queue` as it arrives; the first with content (thoughts
 * too) commits the answer, so no failover after it. Chunks without any part (usage alone, say)
 * wait for it, so a stream that ends empty can still move to another key. A refusal before
 * the answer began is not passed on (the failure carries it); one after is passed on as
 * Gemini's last chunk, and the request still ends as `blocked`.
 */
export function nativeStreamAttempt(model: string, body: NativeBody, queue: PushQueue<NativeBody>): Attempt<NativeAnswer> {
  return async (client, signal, progress) => {
    let last: NativeBody | undefined;
    let usage = EMPTY_USAGE;
    let committed = false;
    const held: NativeBody[] = [];
    for await (const piece of client.nativeStream(model, body, signal)) {
      if (!piece.ok) {
        if (committed && piece.body) queue.push(piece.body);
        return { ok: false, error: piece.error, committed, ...(piece.body ? { body: piece.body } : {}) };
      }
      last = piece.chunk;
      usage = usageOf(piece.chunk) ?? usage;
      if (!committed && !hasContent(piece.chunk, true)) {
        held.push(piece.chunk);
        continue;
      }
      progress();
      committed = true;
      for (const chunk of held.splice(0)) queue.push(chunk);
      queue.push(piece.chunk);
    }
    for (const chunk of held) queue.push(chunk);
    return { ok: true, value: { body: last ?? {}, usage } };
  };
}

/** A native outcome as the pool's native result. */
export function nativeResult(r: RunOutcome<NativeAnswer>): NativeResult {
  if (r.ok) return { ok: true, body: r.value.body, keyId: r.keyId, model: r.model, attempts: r.attempts, latencyMs: r.latencyMs, usage: r.value.usage };
  const out: NativeFailure = { ...r.failure };
  if (r.status !== undefined) out.status = r.status;
  if (r.keyId !== undefined) out.keyId = r.keyId;
  if (r.body !== undefined) out.body = r.body;
  return out;
}
