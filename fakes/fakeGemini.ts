/**
 * A fake Gemini API (generativelanguage.googleapis.com) on 127.0.0.1, for tests that drive
 * the REAL `@google/genai` SDK:
 *
 * ```ts
 * const fake = await FakeGemini.start({ quotas: { rpm: 2 } });
 * const ai = new GoogleGenAI({ apiKey: 'k1', apiVersion: 'v1beta', httpOptions: { baseUrl: fake.url } });
 * await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' }); // text "echo: hi"
 * await fake.close();
 * ```
 *
 * It speaks the routes, bodies and error shapes of the real service (`x-goog-api-key`,
 * `models/{model}:generateContent` and its SSE stream, countTokens, embeddings, the model list;
 * Google's `{ error: { code, status, message, details } }` with QuotaFailure, RetryInfo and
 * ErrorInfo details and no Retry-After header):
 * per-project-per-model quotas (RPM sliding window, RPD day bucket, input TPM), invalid /
 * suspended / billing keys, and injectable faults (HTTP errors, 429s, hangs, resets,
 * malformed bodies, any bytes with any status, cut streams, bodies that trickle, SSE comments
 * before the data, blocked prompts, odd finish reasons, empty answers, odd usage counts, latency).
 *
 * Tools and structured output: function calls instead of text (`functionCallReply`), Gemini 3's
 * thought signatures on them and its 400 when one does not come back (`thoughtSignatures`),
 * JSON text for `responseMimeType: application/json`.
 *
 * Order of checks for every request: key validity, then injected faults, then route and
 * model, then (with `thoughtSignatures`) the signatures, then quota, then the answer. Every
 * request is recorded in {@link FakeGemini.requests}, with its whole body and URL.
 */
import http from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
// The same Pacific day the pool counts quota in: Gemini resets requests-per-day at midnight America/Los_Angeles.
import { nextPacificMidnight, pacificDay } from '../src/pool/time.ts';
import { billingError, durationText, errorInfo, googleError, notFoundModel, quotaError, statusFault, type QuotaHit } from './gemini/errorBodies.ts';
import { allText, DEFAULT_MODELS, defaultGrounding, embed, GENERATE_ROUTES, groundingMetadata, searchRequested, isEmbeddingModel, lastUserTextOf, modelInfo, parseRoute, partsText, SAFETY_LIKE, SAFETY_RATINGS, stripModelPrefix, tokensOf } from './gemini/requests.ts';
import { asJsonText, functionCallParts, functionCallsFor, missingSignature, wantsJson } from './gemini/tools.ts';
import type { FakeGeminiOptions, FakeKey, Fault, FaultMatch, FunctionCallReply, Json, Outcome, QuotaLimits, ReplyContext, RequestLogEntry, Route } from './gemini/types.ts';

export type { FakeGeminiOptions, FakeKey, Fault, FaultMatch, FunctionCallReply, QuotaLimits, ReplyContext, RequestLogEntry } from './gemini/types.ts';

interface QueuedFault {
  fault: Fault;
  match: FaultMatch;
  remaining: number;
}

interface Usage {
  /** Accepted request times inside the minute window. */
  minute: number[];
  /** Accepted input tokens inside the minute window. */
  tokens: Array<{ at: number; n: number }>;
  day: string;
  dayCount: number;
}

/**
 * The fake Gemini server. Start with {@link FakeGemini.start}, point the SDK at {@link FakeGemini.url},
 * always {@link FakeGemini.close} it (e.g. in `afterEach`).
 */
export class FakeGemini {
  /** Base URL, `http://127.0.0.1:PORT`, for `httpOptions.baseUrl`. */
  readonly url: string;
  /** Every request received, in arrival order (pushed once the answer is decided, before any latency). */
  readonly requests: RequestLogEntry[] = [];

  private readonly server: Server;
  private readonly keys = new Map<string, FakeKey>();
  private readonly rejectUnknownKeys: boolean;
  private quotas: FakeGeminiOptions['quotas'];
  private readonly now: () => number;
  private readonly minuteMs: number;
  private readonly dayMs: number | undefined;
  private latencyMs: number;
  private readonly models: string[];
  private reply: (ctx: ReplyContext) => string;
  private grounding: NonNullable<FakeGeminiOptions['grounding']>;
  private readonly streamChunkChars: number;
  private functionCallReply: FakeGeminiOptions['functionCallReply'];
  private readonly thoughtSignatures: boolean;
  /** Answers the fake cut itself (a reset, a cut stream): their closing is not the client's doing. */
  private readonly cutByFake = new WeakSet<ServerResponse>();
  private faults: QueuedFault[] = [];
  private usage = new Map<string, Usage>();
  private readonly sockets = new Set<Socket>();
  private readonly sleepers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  private closing: Promise<void> | undefined;
  private responseSeq = 0;

  private constructor(server: Server, url: string, options: FakeGeminiOptions) {
    this.server = server;
    this.url = url;
    for (const k of options.keys ?? []) this.keys.set(k.key, { ...k });
    this.rejectUnknownKeys = options.rejectUnknownKeys ?? false;
    this.quotas = options.quotas;
    this.now = options.now ?? Date.now;
    this.minuteMs = options.minuteMs ?? 60_000;
    this.dayMs = options.dayMs;
    this.latencyMs = options.latencyMs ?? 0;
    this.models = (options.models ?? DEFAULT_MODELS).map(stripModelPrefix);
    this.reply = options.reply ?? ((ctx) => `echo: ${ctx.lastUserText}`);
    this.streamChunkChars = Math.max(1, options.streamChunkChars ?? 20);
    this.functionCallReply = options.functionCallReply;
    this.thoughtSignatures = options.thoughtSignatures ?? false;
    this.grounding = options.grounding ?? defaultGrounding;
  }

  /** Starts a fake on 127.0.0.1 with a random free port. */
  static async start(options: FakeGeminiOptions = {}): Promise<FakeGemini> {
    const server = http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    const fake = new FakeGemini(server, `http://127.0.0.1:${port}`, options);
    server.on('connection', (socket: Socket) => {
      fake.sockets.add(socket);
      socket.on('close', () => fake.sockets.delete(socket));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      fake.handle(req, res).catch(() => {
        if (!res.headersSent && !res.destroyed) {
          res.writeHead(500, { 'content-type': 'application/json; charset=UTF-8' });
          res.end(JSON.stringify(googleError(500, 'INTERNAL', 'An internal error has occurred.')));
        }
      });
    });
    return fake;
  }

  /**
   * Queues a fault. For each request the first queued fault whose `match` fits (key, model, route)
   * is used, and consumed once; it is dropped after `times` uses (default 1, `Infinity` = always).
   * `status`, `body`, `rateLimit`, `hang`, `reset` and `latency` apply before the quota check;
   * `malformed`, `blocked`, `finishReason`, `empty`, `usage`, `trickle`, `sseComments` and `cutStream`
   * shape an accepted answer, so they are consumed only when the request passes the quota (and they
   * count as usage). `cutStream` and `sseComments` only match stream requests; `blocked`,
   * `finishReason`, `empty`, `usage` and `trickle` only generate/stream requests.
   */
  inject(fault: Fault, match: FaultMatch = {}): void {
    this.faults.push({ fault, match: { ...match }, remaining: match.times ?? 1 });
  }

  /** Drops every queued fault. */
  clearFaults(): void {
    this.faults = [];
  }

  /** Adds or changes a key at runtime (e.g. make it invalid mid-test, or valid again). */
  setKey(key: FakeKey): void {
    this.keys.set(key.key, { ...key });
  }

  /** Replaces the reply function (undefined → the default echo). */
  setReply(fn: FakeGeminiOptions['reply']): void {
    this.reply = fn ?? ((ctx) => `echo: ${ctx.lastUserText}`);
  }

  /** Replaces the function-call rule (see {@link FakeGeminiOptions.functionCallReply}; undefined: text only). */
  setFunctionCallReply(option: FakeGeminiOptions['functionCallReply']): void {
    this.functionCallReply = option;
  }

  /** Replaces the pages grounded answers cite (undefined → the default two). */
  setGrounding(fn: FakeGeminiOptions['grounding']): void {
    this.grounding = fn ?? defaultGrounding;
  }

  /** Sets the delay before each response, in ms. */
  setLatency(ms: number): void {
    this.latencyMs = ms;
  }

  /** Replaces the quota limits (undefined → no limits). Usage counters are kept. */
  setQuotas(q: FakeGeminiOptions['quotas']): void {
    this.quotas = q;
  }

  /** Forgets all quota counters. */
  resetUsage(): void {
    this.usage.clear();
  }

  /** Answers held back right now by a latency, a trickle or SSE pacing. */
  get holding(): number {
    return this.sleepers.size;
  }

  /** Requests made with this key. */
  requestsFor(key: string): RequestLogEntry[] {
    return this.requests.filter((r) => r.key === key);
  }

  /** Number of requests per key (every route and status). */
  countsByKey(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const r of this.requests) counts[r.key] = (counts[r.key] ?? 0) + 1;
    return counts;
  }

  /** Stops the server, destroying open (e.g. hanging) sockets; resolves quickly. Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = new Promise<void>((resolve) => {
      for (const s of this.sleepers) {
        clearTimeout(s.timer);
        s.resolve();
      }
      this.sleepers.clear();
      this.server.close(() => resolve());
      for (const socket of this.sockets) socket.destroy();
      this.sockets.clear();
      this.server.closeAllConnections();
    });
    return this.closing;
  }

  // ---------------------------------------------------------------------------------------

  private sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.closing) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.sleepers.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      this.sleepers.add(entry);
    });
  }

  /** Headers are out already: the body follows one byte every `intervalMs`, until done or closed. */
  private async trickle(res: ServerResponse, bytes: Buffer, intervalMs: number): Promise<void> {
    res.flushHeaders();
    for (let i = 0; i < bytes.byteLength; i++) {
      await this.sleep(intervalMs);
      if (res.destroyed || this.closing) return;
      res.write(bytes.subarray(i, i + 1));
    }
    res.end();
  }

  private keyInfo(key: string): { project: string; status: NonNullable<FakeKey['status']> } {
    const k = this.keys.get(key);
    if (!k) return { project: key, status: this.rejectUnknownKeys ? 'invalid' : 'valid' };
    return { project: k.project ?? key, status: k.status ?? 'valid' };
  }

  private limitsFor(project: string, model: string): QuotaLimits | undefined {
    const q = this.quotas;
    if (!q) return undefined;
    return typeof q === 'function' ? q(project, model) : q;
  }

  private dayKey(t: number): string {
    if (this.dayMs !== undefined) return String(Math.floor(t / this.dayMs));
    return pacificDay(t);
  }

  private msToNextDay(t: number): number {
    if (this.dayMs !== undefined) return (Math.floor(t / this.dayMs) + 1) * this.dayMs - t;
    return nextPacificMidnight(t) - t;
  }

  private usageFor(project: string, model: string, t: number): Usage {
    const id = `${project}\u0000${model}`;
    let u = this.usage.get(id);
    const day = this.dayKey(t);
    if (!u) {
      u = { minute: [], tokens: [], day, dayCount: 0 };
      this.usage.set(id, u);
    }
    if (u.day !== day) {
      u.day = day;
      u.dayCount = 0;
    }
    const from = t - this.minuteMs;
    u.minute = u.minute.filter((at) => at > from);
    u.tokens = u.tokens.filter((e) => e.at > from);
    return u;
  }

  /** Delay until the minute window has room for `need` more requests. */
  private minuteDelay(u: Usage, limit: number, t: number): number {
    const idx = u.minute.length - limit;
    const at = u.minute[Math.max(0, Math.min(idx, u.minute.length - 1))];
    return at === undefined ? this.minuteMs : at + this.minuteMs - t;
  }

  private checkQuota(project: string, model: string, tokens: number, t: number): QuotaHit | undefined {
    const limits = this.limitsFor(project, model);
    if (!limits) return undefined;
    const u = this.usageFor(project, model, t);
    if (limits.rpd !== undefined && u.dayCount >= limits.rpd) {
      return { per: 'day', quotaValue: String(limits.rpd), retryDelay: durationText(this.msToNextDay(t)) };
    }
    if (limits.rpm !== undefined && u.minute.length >= limits.rpm) {
      return { per: 'minute', quotaValue: String(limits.rpm), retryDelay: durationText(this.minuteDelay(u, limits.rpm, t)) };
    }
    if (limits.tpm !== undefined) {
      let used = u.tokens.reduce((s, e) => s + e.n, 0);
      if (used + tokens > limits.tpm) {
        let delay = this.minuteMs;
        if (tokens <= limits.tpm) {
          for (const e of u.tokens) {
            used -= e.n;
            if (used + tokens <= limits.tpm) {
              delay = e.at + this.minuteMs - t;
              break;
            }
          }
        }
        return { per: 'tokens', quotaValue: String(limits.tpm), retryDelay: durationText(delay) };
      }
    }
    return undefined;
  }

  private recordUsage(project: string, model: string, tokens: number, t: number): void {
    const u = this.usageFor(project, model, t);
    u.minute.push(t);
    u.tokens.push({ at: t, n: tokens });
    u.dayCount += 1;
  }

  private faultFits(q: QueuedFault, key: string, model: string | null, route: Route): boolean {
    const m = q.match;
    if (m.key !== undefined && m.key !== key) return false;
    if (m.model !== undefined && stripModelPrefix(m.model) !== model) return false;
    if (m.route !== undefined && m.route !== route) return false;
    const type = q.fault.type;
    if ((type === 'cutStream' || type === 'sseComments') && route !== 'streamGenerateContent') return false;
    if ((type === 'blocked' || type === 'finishReason' || type === 'trickle' || type === 'usage' || type === 'empty') && !GENERATE_ROUTES.has(route)) return false;
    return true;
  }

  private consume(q: QueuedFault): void {
    q.remaining -= 1;
    if (q.remaining <= 0) this.faults = this.faults.filter((f) => f !== q);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = this.now();
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of req) chunks.push(chunk as Buffer);
    } catch {
      return; // client went away
    }
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = (req.method ?? 'GET').toUpperCase();
    const { apiVersion, route, model } = parseRoute(method, url.pathname);
    const headerKey = req.headers['x-goog-api-key'];
    const key = (Array.isArray(headerKey) ? headerKey[0] : headerKey) ?? url.searchParams.get('key') ?? '';

    let body: unknown = undefined;
    let bodyIsJson = true;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
        bodyIsJson = false;
      }
    }

    const info = key ? this.keyInfo(key) : { project: '', status: 'valid' as const };
    const entry: RequestLogEntry = { at, key, project: info.project, model, route, apiVersion, url: req.url ?? '/', status: 0, body };
    res.on('close', () => {
      if (!res.writableFinished && !this.closing && !this.cutByFake.has(res)) entry.clientClosed = true;
    });
    let decided: { outcome: Outcome; delay: number };
    try {
      decided = this.decide(entry, info.status, body, bodyIsJson);
    } catch {
      // A throwing reply() (or any bug here) answers like Google's 500.
      decided = { outcome: statusFault(500, undefined, model, apiVersion), delay: 0 };
    }
    const { outcome, delay } = decided;
    entry.status = outcome.kind === 'hang' || outcome.kind === 'reset' ? 0 : outcome.kind === 'stream' ? 200 : outcome.status;
    this.requests.push(entry);

    if (outcome.kind === 'hang') return;
    await this.sleep(this.latencyMs + delay);
    if (res.destroyed || this.closing) return;
    await this.send(req, res, outcome);
  }

  private decide(
    entry: RequestLogEntry,
    keyStatus: NonNullable<FakeKey['status']>,
    body: unknown,
    bodyIsJson: boolean,
  ): { outcome: Outcome; delay: number } {
    const { key, project, model, route, apiVersion } = entry;
    let delay = 0;
    const done = (outcome: Outcome): { outcome: Outcome; delay: number } => ({ outcome, delay });

    // 1. The key.
    if (!key) {
      return done({
        kind: 'json',
        status: 403,
        body: googleError(
          403,
          'PERMISSION_DENIED',
          "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
        ),
      });
    }
    if (keyStatus === 'invalid') {
      return done({
        kind: 'json',
        status: 400,
        body: googleError(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', [errorInfo('API_KEY_INVALID')]),
      });
    }
    if (keyStatus === 'suspended') {
      return done({
        kind: 'json',
        status: 403,
        body: googleError(403, 'PERMISSION_DENIED', `Permission denied: Consumer 'api_key:${key}' has been suspended.`, [
          errorInfo('CONSUMER_SUSPENDED', { consumer: `projects/${project}`, containerInfo: project }),
        ]),
      });
    }
    if (keyStatus === 'billing') return done(billingError());

    // 2. Faults: the first that fits.
    const queued = this.faults.find((q) => this.faultFits(q, key, model, route));
    let shape: Fault | undefined;
    if (queued) {
      const f = queued.fault;
      switch (f.type) {
        case 'status':
          this.consume(queued);
          entry.fault = f.type;
          return done(statusFault(f.status, f.message, model, apiVersion));
        case 'rateLimit': {
          this.consume(queued);
          entry.fault = f.type;
          return done(quotaError(model, this.injectedQuotaHit(f, project, model)));
        }
        case 'body':
          this.consume(queued);
          entry.fault = f.type;
          return done({ kind: 'raw', status: f.status, contentType: f.contentType ?? 'application/json; charset=UTF-8', body: f.body });
        case 'hang':
        case 'reset':
          this.consume(queued);
          entry.fault = f.type;
          return done({ kind: f.type });
        case 'latency':
          this.consume(queued);
          entry.fault = f.type;
          delay = f.ms;
          break;
        default:
          shape = f; // consumed once the request is accepted
      }
    }

    // 3. Route and model.
    if (route === 'unknown') {
      return done({ kind: 'json', status: 404, body: googleError(404, 'NOT_FOUND', 'Method not found.') });
    }
    if (route === 'listModels') {
      if (shape?.type === 'malformed' && queued) return done(this.acceptShape(queued, entry, { kind: 'raw', status: 200, contentType: 'application/json; charset=UTF-8', body: '{"models": [' }));
      return done({ kind: 'json', status: 200, body: { models: this.models.map(modelInfo) } });
    }
    const m = model ?? '';
    const known = this.models.includes(m);
    if (route === 'getModel') {
      if (!known) {
        return done({ kind: 'json', status: 404, body: googleError(404, 'NOT_FOUND', `Model is not found: models/${m} for api version ${apiVersion}`) });
      }
      if (shape?.type === 'malformed' && queued) return done(this.acceptShape(queued, entry, { kind: 'raw', status: 200, contentType: 'application/json; charset=UTF-8', body: '{"name": "models/' }));
      return done({ kind: 'json', status: 200, body: modelInfo(m) });
    }
    const embedRoute = route === 'embedContent' || route === 'batchEmbedContents';
    if (!known || (embedRoute && !isEmbeddingModel(m)) || (GENERATE_ROUTES.has(route) && isEmbeddingModel(m))) {
      return done(notFoundModel(m, apiVersion, route === 'streamGenerateContent' ? 'generateContent' : route));
    }
    if (!bodyIsJson || !body || typeof body !== 'object') {
      return done({
        kind: 'json',
        status: 400,
        body: googleError(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received. Unexpected token.'),
      });
    }
    const reqBody = body as Json;
    const unsigned = this.thoughtSignatures && GENERATE_ROUTES.has(route) ? missingSignature(reqBody) : undefined;
    if (unsigned) return done(unsigned);

    // 4. Quota (generate routes only).
    const promptTokens = Math.max(1, tokensOf(allText(reqBody)));
    if (GENERATE_ROUTES.has(route)) {
      const hit = this.checkQuota(project, m, promptTokens, entry.at);
      if (hit) return done(quotaError(m, hit));
      this.recordUsage(project, m, promptTokens, entry.at);
    }
    if (shape && queued) {
      this.consume(queued);
      entry.fault = shape.type;
    }

    // 5. The answer.
    const stream = route === 'streamGenerateContent';
    if (shape?.type === 'malformed') {
      if (stream) return done({ kind: 'stream', chunks: [], malformed: true });
      return done({ kind: 'raw', status: 200, contentType: 'application/json; charset=UTF-8', body: '{"candidates": [{"content": <html>oops' });
    }
    switch (route) {
      case 'countTokens':
        return done({
          kind: 'json',
          status: 200,
          body: { totalTokens: promptTokens, promptTokensDetails: [{ modality: 'TEXT', tokenCount: promptTokens }] },
        });
      case 'embedContent': {
        const dims = Number(reqBody.outputDimensionality) || 768;
        return done({ kind: 'json', status: 200, body: { embedding: { values: embed(partsText(reqBody.content), dims) } } });
      }
      case 'batchEmbedContents': {
        const requests = Array.isArray(reqBody.requests) ? (reqBody.requests as Json[]) : [];
        const embeddings = requests.map((r) => ({
          values: embed(partsText(r?.content), Number(r?.outputDimensionality) || 768),
        }));
        return done({ kind: 'json', status: 200, body: { embeddings } });
      }
      default:
        break;
    }
    return done(this.generate(entry, m, reqBody, promptTokens, stream, shape));
  }

  private acceptShape(queued: QueuedFault, entry: RequestLogEntry, outcome: Outcome): Outcome {
    this.consume(queued);
    entry.fault = queued.fault.type;
    return outcome;
  }

  private injectedQuotaHit(f: Extract<Fault, { type: 'rateLimit' }>, project: string, model: string | null): QuotaHit {
    const t = this.now();
    const limits = model ? this.limitsFor(project, model) : undefined;
    let computed: number;
    if (f.per === 'day') {
      computed = this.msToNextDay(t);
    } else if (model && limits?.rpm !== undefined) {
      const u = this.usageFor(project, model, t);
      computed = u.minute.length > 0 ? this.minuteDelay(u, Math.min(limits.rpm, u.minute.length), t) : this.minuteMs;
    } else {
      computed = this.minuteMs;
    }
    const configured = f.per === 'day' ? limits?.rpd : limits?.rpm;
    return {
      per: f.per,
      quotaValue: f.quotaValue ?? String(configured ?? (f.per === 'day' ? 250 : 10)),
      retryDelay: f.retryDelay === null ? null : (f.retryDelay ?? durationText(computed)),
    };
  }

  /** The fields every answer carries: the model and a fresh response id. */
  private responseBase(entry: RequestLogEntry, model: string): { modelVersion: string; responseId: string } {
    return { modelVersion: model, responseId: `fake-${(++this.responseSeq).toString(36)}-${entry.at.toString(36)}` };
  }

  private generate(
    entry: RequestLogEntry,
    model: string,
    body: Json,
    promptTokens: number,
    stream: boolean,
    shape: Fault | undefined,
  ): Outcome {
    if (shape?.type === 'blocked') {
      const base = this.responseBase(entry, model);
      const reason = shape.reason ?? 'SAFETY';
      const out: Json = {
        promptFeedback: { blockReason: reason, ...(reason === 'SAFETY' ? { safetyRatings: SAFETY_RATINGS } : {}) },
        usageMetadata: { promptTokenCount: promptTokens, totalTokenCount: promptTokens },
        ...base,
      };
      return stream ? { kind: 'stream', chunks: [out] } : { kind: 'json', status: 200, body: out };
    }

    const outcome = this.answer(entry, model, body, promptTokens, stream, shape);
    if (outcome.kind === 'json' || outcome.kind === 'stream') {
      if (shape?.type === 'trickle') outcome.trickleMs = shape.intervalMs;
      if (shape?.type === 'sseComments') outcome.comments = { count: shape.count, intervalMs: shape.intervalMs, data: shape.data ?? true };
    }
    return outcome;
  }

  private answer(
    entry: RequestLogEntry,
    model: string,
    body: Json,
    promptTokens: number,
    stream: boolean,
    shape: Fault | undefined,
  ): Outcome {
    const base = this.responseBase(entry, model);
    const ctx: ReplyContext = {
      key: entry.key,
      project: entry.project,
      model,
      contents: body.contents,
      lastUserText: lastUserTextOf(body.contents),
      requestBody: body,
    };
    if (body.systemInstruction !== undefined) ctx.systemInstruction = partsText(body.systemInstruction);
    const calls = shape?.type === 'finishReason' || shape?.type === 'empty' ? undefined : functionCallsFor(this.functionCallReply, ctx);
    if (calls) return this.callAnswer(calls, base, promptTokens, stream, shape);
    let text = this.reply(ctx);
    if (wantsJson(body)) text = asJsonText(text);
    let finishReason = 'STOP';
    let noContent = false;
    if (shape?.type === 'finishReason') {
      finishReason = shape.reason;
      if (SAFETY_LIKE.has(shape.reason)) noContent = true;
      else text = text.slice(0, Math.ceil(text.length / 2));
    }
    if (shape?.type === 'empty') {
      finishReason = shape.finishReason ?? 'STOP';
      noContent = true;
    }
    const candidatesTokens = noContent ? 0 : tokensOf(text.length);
    const usageMetadata: unknown =
      shape?.type === 'usage'
        ? shape.usageMetadata
        : {
            promptTokenCount: promptTokens,
            ...(noContent ? {} : { candidatesTokenCount: candidatesTokens }),
            totalTokenCount: promptTokens + candidatesTokens,
            promptTokensDetails: [{ modality: 'TEXT', tokenCount: promptTokens }],
          };
    const grounded = !noContent && searchRequested(body) ? groundingMetadata(this.grounding(ctx), ctx.lastUserText, text) : undefined;
    const finalExtras = (): Json => ({
      finishReason,
      index: 0,
      ...(finishReason === 'SAFETY' ? { safetyRatings: SAFETY_RATINGS } : {}),
      ...(grounded ? { groundingMetadata: grounded } : {}),
    });
    const content = (t: string): Json => ({ content: { parts: [{ text: t }], role: 'model' } });

    if (!stream) {
      const candidate = { ...(noContent ? {} : content(text)), ...finalExtras() };
      return { kind: 'json', status: 200, body: { candidates: [candidate], usageMetadata, ...base } };
    }

    const pieces: string[] = [];
    if (!noContent) {
      for (let i = 0; i < text.length; i += this.streamChunkChars) pieces.push(text.slice(i, i + this.streamChunkChars));
      if (pieces.length === 0) pieces.push('');
    }
    const chunks: Json[] = pieces.map((p) => ({ candidates: [{ ...content(p), index: 0 }], ...base }));
    if (noContent) chunks.push({ candidates: [finalExtras()], usageMetadata, ...base });
    else {
      const last = chunks[chunks.length - 1] as Json;
      last.candidates = [{ ...content(pieces[pieces.length - 1] ?? ''), ...finalExtras() }];
      last.usageMetadata = usageMetadata;
    }
    if (shape?.type === 'cutStream') {
      const n = Math.max(0, Math.min(shape.afterChunks, pieces.length));
      const sent = pieces.slice(0, n).map((p) => ({ candidates: [{ ...content(p), index: 0 }], ...base }));
      return { kind: 'stream', chunks: sent, cutAfter: n };
    }
    return { kind: 'stream', chunks };
  }

  /** An answer of function calls (one chunk when streamed: Gemini sends a call whole). */
  private callAnswer(calls: FunctionCallReply[], base: Json, promptTokens: number, stream: boolean, shape: Fault | undefined): Outcome {
    const parts = functionCallParts(calls, this.thoughtSignatures, this.responseSeq);
    const outputTokens = tokensOf(JSON.stringify(parts).length);
    const usageMetadata: unknown =
      shape?.type === 'usage'
        ? shape.usageMetadata
        : { promptTokenCount: promptTokens, candidatesTokenCount: outputTokens, totalTokenCount: promptTokens + outputTokens, promptTokensDetails: [{ modality: 'TEXT', tokenCount: promptTokens }] };
    const answer: Json = { candidates: [{ content: { parts, role: 'model' }, finishReason: 'STOP', index: 0 }], usageMetadata, ...base };
    return stream ? { kind: 'stream', chunks: [answer] } : { kind: 'json', status: 200, body: answer };
  }

  private async send(req: IncomingMessage, res: ServerResponse, outcome: Outcome): Promise<void> {
    switch (outcome.kind) {
      case 'hang':
        return;
      case 'reset':
        this.cutByFake.add(res);
        req.socket.destroy();
        return;
      case 'json': {
        const text = Buffer.from(JSON.stringify(outcome.body, null, 2));
        res.writeHead(outcome.status, {
          'content-type': 'application/json; charset=UTF-8',
          'content-length': text.byteLength,
        });
        if (outcome.trickleMs !== undefined) return this.trickle(res, text, outcome.trickleMs);
        res.end(text);
        return;
      }
      case 'raw': {
        const bytes = typeof outcome.body === 'string' ? Buffer.from(outcome.body) : Buffer.from(outcome.body);
        res.writeHead(outcome.status, {
          'content-type': outcome.contentType,
          'content-length': bytes.byteLength,
        });
        res.end(bytes);
        return;
      }
      case 'stream': {
        res.writeHead(200, {
          'content-type': 'text/event-stream',
          'content-disposition': 'attachment',
          'cache-control': 'no-cache',
        });
        res.flushHeaders();
        if (outcome.malformed) {
          res.end('data: {"candidates": [{"content": <html>oops\r\n\r\n');
          return;
        }
        if (outcome.comments) {
          for (let i = 0; i < outcome.comments.count; i++) {
            await this.sleep(outcome.comments.intervalMs);
            if (res.destroyed || this.closing) return;
            res.write(': keep-alive\r\n\r\n');
          }
          if (!outcome.comments.data) {
            res.end();
            return;
          }
        }
        if (outcome.trickleMs !== undefined) {
          const text = Buffer.from(outcome.chunks.map((c) => `data: ${JSON.stringify(c)}\r\n\r\n`).join(''));
          return this.trickle(res, text, outcome.trickleMs);
        }
        for (const chunk of outcome.chunks) {
          if (res.destroyed) return;
          await new Promise<void>((resolve) => res.write(`data: ${JSON.stringify(chunk)}\r\n\r\n`, () => resolve()));
        }
        if (outcome.cutAfter !== undefined) {
          // Give the client time to read what was sent, then drop the connection mid-body.
          await this.sleep(30);
          this.cutByFake.add(res);
          req.socket.destroy();
          return;
        }
        res.end();
        return;
      }
    }
  }
}
