/**
 * The thin adapter over @google/genai: one client per key, no retries of its own
 * (the pool decides), results reduced to what the pool needs. `client.ts` turns what it
 * throws into classified values.
 */
import { GoogleGenAI, type GenerateContentResponse } from '@google/genai';
import { THINKING_BUDGET_TOKENS, type ChatTurn, type Source, type ThinkingLevel, type TokenUsage } from './types.ts';
import { classifyBlocked, type Classified } from './classify.ts';
import { nativeCall, nativeStreamCall, usageOf, type GeminiJson, type GeminiMethod, type NativeEndpoint } from './native.ts';

export interface AdapterRequest {
  model: string;
  contents: ChatTurn[];
  temperature?: number;
  systemInstruction?: string;
  maxOutputTokens?: number;
  /** The Google Search tool (and URL context for links in the prompt). */
  search?: boolean;
  /** Sent as `thinkingConfig.thinkingBudget`. */
  thinking?: ThinkingLevel;
}

/** One complete answer, or a refusal that came back as a 200. */
export interface AdapterAnswer {
  text: string;
  usage: TokenUsage;
  finishReason?: string;
  blocked?: Classified;
  /** Pages the grounding metadata cites. */
  sources?: Source[];
}

/** A piece of a streamed answer; the last one carries usage and finish reason (and, grounded, the sources). */
export interface AdapterChunk {
  text: string;
  usage?: TokenUsage;
  finishReason?: string;
  blocked?: Classified;
  sources?: Source[];
}

/** What the pool calls for one key. Implemented over the SDK; injectable for tests and benches. */
export interface GeminiClient {
  /** `signal` ends the call: the pool's attempt timer, the deadline or the caller. */
  generate(req: AdapterRequest, signal?: AbortSignal): Promise<AdapterAnswer>;
  stream(req: AdapterRequest, signal?: AbortSignal): AsyncIterable<AdapterChunk>;
  /** A cheap authenticated call (lists models): resolves when the key works. */
  check(signal: AbortSignal): Promise<void>;
  /** `method` with `body` sent as given; resolves to Gemini's JSON answer as it came (see `native.ts`). */
  native(method: GeminiMethod, model: string, body: GeminiJson, signal?: AbortSignal): Promise<GeminiJson>;
  /** streamGenerateContent with `body` sent as given: Gemini's chunks as they arrive. */
  nativeStream(model: string, body: GeminiJson, signal?: AbortSignal): AsyncIterable<GeminiJson>;
}

export interface ClientOptions {
  /** Where the SDK sends requests; undefined means Google's endpoint. */
  baseUrl?: string;
  apiVersion: string;
  /** The fetch the SDK uses (the pool's shares one connection pool between its clients). */
  fetch?: typeof globalThis.fetch;
}

export type ClientFactory = (apiKey: string, options: ClientOptions) => GeminiClient;

/** Google's endpoint, used when no base URL is configured. */
export const GOOGLE_BASE_URL = 'https://generativelanguage.googleapis.com';

/**
 * The SDK's constructor options for one key. Everything that decides where a request goes
 * is set here: left unset, the SDK would take `GOOGLE_GENAI_USE_VERTEXAI` and
 * `GOOGLE_GEMINI_BASE_URL` from the environment and send the key somewhere else.
 */
export function sdkOptions(apiKey: string, options: ClientOptions) {
  return {
    apiKey,
    vertexai: false,
    apiVersion: options.apiVersion,
    // No retryOptions: the SDK must not retry behind the pool's back.
    httpOptions: {
      baseUrl: options.baseUrl ?? GOOGLE_BASE_URL,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    },
  };
}

const EMPTY_USAGE: TokenUsage = { promptTokens: 0, outputTokens: 0, totalTokens: 0 };

/** The first candidate, when the answer has one of the right shape. */
function firstCandidate(r: GenerateContentResponse): { finishReason?: unknown; content?: unknown } | undefined {
  const list: unknown = r.candidates;
  const c: unknown = Array.isArray(list) ? list[0] : undefined;
  return typeof c === 'object' && c !== null ? c : undefined;
}

/** Text of the first candidate, without the SDK's warning about non-text parts. A malformed answer has no text. */
function textOf(r: GenerateContentResponse): string {
  const content = firstCandidate(r)?.content;
  const parts: unknown = typeof content === 'object' && content !== null ? (content as { parts?: unknown }).parts : undefined;
  let text = '';
  if (!Array.isArray(parts)) return text;
  for (const p of parts as unknown[]) {
    if (typeof p === 'object' && p !== null && typeof (p as { text?: unknown }).text === 'string' && !(p as { thought?: unknown }).thought) text += (p as { text: string }).text;
  }
  return text;
}

function finishReasonOf(r: GenerateContentResponse): string | undefined {
  const f = firstCandidate(r)?.finishReason;
  return typeof f === 'string' && f ? f : undefined;
}

/**
 * The pages an answer's grounding metadata cites (`groundingChunks[].web`), each once, only
 * http(s) ones with a title; whatever else a proxy sends is left out.
 */
export function sourcesOf(r: GenerateContentResponse): Source[] | undefined {
  const meta: unknown = (firstCandidate(r) as { groundingMetadata?: unknown } | undefined)?.groundingMetadata;
  const chunks: unknown = typeof meta === 'object' && meta !== null ? (meta as { groundingChunks?: unknown }).groundingChunks : undefined;
  if (!Array.isArray(chunks)) return undefined;
  const out: Source[] = [];
  for (const c of chunks as unknown[]) {
    const web: unknown = typeof c === 'object' && c !== null ? (c as { web?: unknown }).web : undefined;
    if (typeof web !== 'object' || web === null) continue;
    const { uri, title } = web as { uri?: unknown; title?: unknown };
    if (typeof uri !== 'string' || !/^https?:\/\/\S+$/.test(uri) || out.some((s) => s.uri === uri)) continue;
    out.push({ uri, title: typeof title === 'string' && title.trim() ? title.trim() : hostOf(uri) });
  }
  return out.length > 0 ? out : undefined;
}

function hostOf(uri: string): string {
  try {
    return new URL(uri).hostname;
  } catch {
    return uri;
  }
}

/** Whether the newest user turn has a link, for URL context. */
function promptHasLink(contents: readonly ChatTurn[]): boolean {
  const last = [...contents].reverse().find((c) => c.role === 'user');
  return last?.parts.some((p) => 'text' in p && /https?:\/\/\S/.test(p.text)) ?? false;
}

/** Tools of a grounded request: Google Search, and URL context when the prompt has a link. */
function toolsOf(req: AdapterRequest) {
  if (!req.search) return undefined;
  return [{ googleSearch: {} }, ...(promptHasLink(req.contents) ? [{ urlContext: {} }] : [])];
}

function configOf(req: AdapterRequest, signal: AbortSignal | undefined) {
  const tools = toolsOf(req);
  return {
    ...(signal ? { abortSignal: signal } : {}),
    ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
    ...(req.systemInstruction !== undefined ? { systemInstruction: req.systemInstruction } : {}),
    ...(req.maxOutputTokens !== undefined ? { maxOutputTokens: req.maxOutputTokens } : {}),
    ...(tools ? { tools } : {}),
    ...(req.thinking !== undefined ? { thinkingConfig: { thinkingBudget: THINKING_BUDGET_TOKENS[req.thinking] } } : {}),
  };
}

/** The real client: @google/genai bound to one key. */
export class SdkGeminiClient implements GeminiClient {
  readonly #ai: GoogleGenAI;
  /** The native calls bypass the SDK (it converts bodies) but go where it goes, through its fetch. */
  readonly #endpoint: NativeEndpoint;
  readonly #apiKey: string;

  constructor(apiKey: string, options: ClientOptions) {
    this.#ai = new GoogleGenAI(sdkOptions(apiKey, options));
    this.#apiKey = apiKey;
    this.#endpoint = { baseUrl: options.baseUrl ?? GOOGLE_BASE_URL, apiVersion: options.apiVersion, fetch: options.fetch };
  }

  async generate(req: AdapterRequest, signal?: AbortSignal): Promise<AdapterAnswer> {
    const r = await this.#ai.models.generateContent({
      model: req.model,
      contents: req.contents,
      config: configOf(req, signal),
    });
    const finishReason = finishReasonOf(r);
    const answer: AdapterAnswer = { text: textOf(r), usage: usageOf(r) ?? EMPTY_USAGE };
    if (finishReason) answer.finishReason = finishReason;
    const blocked = classifyBlocked(r);
    if (blocked) answer.blocked = blocked;
    const sources = sourcesOf(r);
    if (sources) answer.sources = sources;
    return answer;
  }

  async *stream(req: AdapterRequest, signal?: AbortSignal): AsyncIterable<AdapterChunk> {
    const it = await this.#ai.models.generateContentStream({
      model: req.model,
      contents: req.contents,
      config: configOf(req, signal),
    });
    for await (const r of it) {
      const chunk: AdapterChunk = { text: textOf(r) };
      const usage = usageOf(r);
      if (usage) chunk.usage = usage;
      const finishReason = finishReasonOf(r);
      if (finishReason) chunk.finishReason = finishReason;
      const blocked = classifyBlocked(r);
      if (blocked) chunk.blocked = blocked;
      const sources = sourcesOf(r);
      if (sources) chunk.sources = sources;
      yield chunk;
    }
  }

  async check(signal: AbortSignal): Promise<void> {
    const pager = await this.#ai.models.list({ config: { pageSize: 1, abortSignal: signal } });
    void pager;
  }

  native(method: GeminiMethod, model: string, body: GeminiJson, signal?: AbortSignal): Promise<GeminiJson> {
    return nativeCall(this.#endpoint, this.#apiKey, method, model, body, signal);
  }

  nativeStream(model: string, body: GeminiJson, signal?: AbortSignal): AsyncIterable<GeminiJson> {
    return nativeStreamCall(this.#endpoint, this.#apiKey, model, body, signal);
  }
}

export const sdkClientFactory: ClientFactory = (apiKey, options) => new SdkGeminiClient(apiKey, options);
