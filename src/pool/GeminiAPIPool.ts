/**
 * GeminiAPIPool: many Gemini API keys spread over a pool of model instances. It picks the
 * healthiest instance, fails over on rate limits, dead keys and outages, and reports what
 * it is doing. Results are values; an API failure never throws.
 *
 * This file is the public API and the request loop; each part owns its own state
 * (docs/ARCHITECTURE.md has the picture):
 * - `options.ts`     defaults and validation
 * - `keyStates.ts`   disabled and cooling keys, told as one change event
 * - `policy.ts`      what a failure does (pure), and the retry backoff
 * - `localOverload.ts` a key's own overload told from the model's; the model-wide wait
 * - `failures.ts`    carries a policy decision out on the parts that own the state
 * - `instances.ts`   instances bound to keys, and the pick around `select.ts`
 * - `attempt.ts`     one attempt on one client, under its timer (`nativeAttempt.ts`: Gemini's JSON as is)
 * - `stats.ts`       counters and the key report
 * - `storeSync.ts`   the state store: load, write, flush, share
 * - `announcer.ts`   events and their log lines
 * - `maintenance.ts` sweep, rotation, re-checks
 * - `chat.ts`        PoolChat; `request.ts` request checks; `limiter.ts` + `waitQueue.ts` quota
 */
import pino, { type Logger } from 'pino';
import type { Agent } from 'undici';
import { sdkClientFactory, type AdapterRequest, type ClientFactory, type ClientOptions } from '../gemini/adapter.ts';
import type { Classified } from '../gemini/classify.ts';
import { classified, classifyFailure } from '../gemini/client.ts';
import type { PoolStateStore } from '../store/types.ts';
import { Announcer, unavailableMessage } from './announcer.ts';
import { answerAttempt, poolResult, sharedConnections, streamAttempt, timed, type Attempt, type AttemptOutcome, type RunOutcome, type RunSpec } from './attempt.ts';
import { PoolChat } from './chat.ts';
import { Instances, type Choice, type Instance } from './instances.ts';
import { KeyRing, parseKeySpec, redactSecrets, type KeySpec, type PoolKey } from './keys.ts';
import { KeyWatch, type KeyList } from './keyWatch.ts';
import { KeyStates } from './keyStates.ts';
import { QuotaLimiter } from './limiter.ts';
import { Maintenance } from './maintenance.ts';
import { checkNative, nativeAttempt, nativeResult, nativeStreamAttempt } from './nativeAttempt.ts';
import type { NativeBody, NativeFailure, NativeRequest, NativeResult, NativeStream } from './nativeTypes.ts';
import { generateBatch, type BatchOptions } from './batch.ts';
import { POOL_DEFAULTS, nonNegative, positiveInt, resolveOptions, type GeminiAPIPoolOptions, type ResolvedOptions } from './options.ts';
import { retryDelay } from './policy.ts';
import { attemptFailed, attemptSucceeded, checkAnswered, type FailureParts } from './failures.ts';
import { ModelOverloads } from './localOverload.ts';
import { PushQueue } from './queue.ts';
import { prepareRequest, requestTokens } from './request.ts';
import { findUnhealthyKeys } from './select.ts';
import { modelSlotTimes } from './slots.ts';
import { PoolCounters, quotaReport, type QuotaUsage } from './stats.ts';
import { StoreSync } from './storeSync.ts';
import { pacificDay, systemClock, type Clock } from './time.ts';
import type { ChatTurn, GenerateRequest, KeyState, KeyStatsReport, PoolError, PoolEvents, PoolFailure, PoolResult, PoolStatsReport, PoolStream, TokenUsage } from './types.ts';
import { WaitQueue } from './waitQueue.ts';

export type { GeminiAPIPoolOptions } from './options.ts';
export type { KeyList } from './keyWatch.ts';
export type { QuotaUsage } from './stats.ts';
export type { PoolStream } from './types.ts';
export type { NativeRequest, NativeResult, NativeStream } from './nativeTypes.ts';
export { PoolChat } from './chat.ts';

/** Fair-share weights as given, checked: each a finite number > 0. */
function clientWeights(weights: Readonly<Record<string, number>> | undefined): ReadonlyMap<string, number> {
  const out = new Map<string, number>();
  for (const [client, w] of Object.entries(weights ?? {})) {
    if (!(typeof w === 'number' && Number.isFinite(w) && w > 0)) throw new TypeError(`GeminiAPIPool: \`limits.clientWeights.${client}\` must be a number > 0 (got ${String(w)})`);
    out.set(client, w);
  }
  return out;
}

/** The pooled Gemini client. The failure policy it follows is `policy.ts` (and the README's table). */
export class GeminiAPIPool {
  readonly models: readonly string[];
  readonly defaultModel: string;
  readonly options: Readonly<ResolvedOptions>;
  readonly #ring: KeyRing;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #factory: ClientFactory;
  readonly #announcer: Announcer;
  readonly #instances: Instances;
  /** What a failure changes (see failures.ts). */
  readonly #core: FailureParts & { instances: Instances };
  readonly #counters: PoolCounters;
  /** Disabled and cooling keys: the only writer of key state, which tells every change. */
  readonly #states: KeyStates;
  readonly #maintenance: Maintenance;
  readonly #limiter: QuotaLimiter;
  /** Per model: requests waiting, in fair order across clients, for quota or a cooldown to end. */
  readonly #waiting = new Map<string, WaitQueue>();
  readonly #maxQueued: number;
  /** The longest a request is let into the queue to wait behind others (see `WaitQueue`). */
  readonly #maxWaitMs: number;
  /** Fair-share weights of named clients (others weigh 1). */
  readonly #weights: ReadonlyMap<string, number>;
  #inFlight = 0;
  #closed = false;
  #closing: Promise<void> | undefined;
  /** The store's side: loads, writes every state change, batches counters. */
  readonly #sync: StoreSync;
  /** Connections every instance shares (`sharedConnections`): a backstop behind each attempt's timer. */
  readonly #agent: Agent;
  readonly #fetch: typeof globalThis.fetch;
  /** Keys added while it runs, in step with a list (the store's). */
  readonly #keyWatch: KeyWatch;

  constructor(options: GeminiAPIPoolOptions) {
    if (!options || !Array.isArray(options.keys)) throw new TypeError('GeminiAPIPool: `keys` must be an array of API keys');
    this.#ring = new KeyRing(options.keys);
    this.options = resolveOptions(options);
    this.models = this.options.models;
    this.defaultModel = this.models[0]!;
    this.#clock = { ...systemClock, ...options.clock };
    this.#log = (options.logger ?? pino({ level: 'silent' })).child({ component: 'pool' });
    this.#factory = options.clientFactory ?? sdkClientFactory;
    ({ agent: this.#agent, fetch: this.#fetch } = sharedConnections(this.options.attemptTimeoutMs));
    this.#limiter = new QuotaLimiter(options.limits);
    this.#maxQueued = options.limits?.maxQueued ?? POOL_DEFAULTS.maxQueued;
    this.#maxWaitMs = nonNegative('limits.maxWaitMs', options.limits?.maxWaitMs ?? POOL_DEFAULTS.maxWaitMs);
    this.#weights = clientWeights(options.limits?.clientWeights);
    for (const model of this.models) this.#waiting.set(model, new WaitQueue(this.#clock, this.#maxQueued));
    this.#states = new KeyStates(this.#ring.keys, this.options.maxCooldownMs);
    this.#counters = new PoolCounters(this.#ring.keys.length);
    // What every part may read. Listeners of key-state changes run in the order the parts
    // are built: announcer (logs, events), instances (rebinding), store sync (writes).
    const core = { ring: this.#ring, models: this.models, options: this.options, clock: this.#clock, log: this.#log, states: this.#states, counters: this.#counters, limiter: this.#limiter, overloads: new ModelOverloads(this.options) };
    this.#announcer = new Announcer(core);
    this.#instances = new Instances(core);
    this.#core = { ...core, instances: this.#instances };
    this.#sync = new StoreSync({ ...core, backgroundFailed: (task, err) => this.#maintenance.failed(task, err) });
    this.#maintenance = new Maintenance({ ...core, rotate: () => this.rotate(), check: (index) => this.checkKey(index) });
    this.#keyWatch = new KeyWatch({ ring: this.#ring, log: this.#log, add: (spec) => this.addKey(spec), remove: (i) => this.removeKey(i), backgroundFailed: (task, err) => this.#maintenance.failed(task, err) });
    this.#log.info({ keys: this.#ring.keys.length, models: this.models, poolSize: this.options.poolSize, strategy: this.options.strategy }, 'pool ready');
  }

  /** The keys in use as the pool shows them (no secrets); removed keys are left out. */
  get keys(): readonly PoolKey[] {
    return this.#ring.live;
  }

  // ---------------------------------------------------------------- events

  on<E extends keyof PoolEvents>(event: E, listener: (payload: PoolEvents[E]) => void): this {
    this.#announcer.on(event, listener);
    return this;
  }

  off<E extends keyof PoolEvents>(event: E, listener: (payload: PoolEvents[E]) => void): this {
    this.#announcer.off(event, listener);
    return this;
  }

  // ---------------------------------------------------------------- public API

  /** One answer, with failover. Never throws for an API failure. */
  async generateContent(req: GenerateRequest): Promise<PoolResult> {
    const prepared = this.#prepare(req);
    if ('error' in prepared) return prepared.error;
    return poolResult(await this.#run({ ...req, model: prepared.adapter.model, tokens: requestTokens(prepared.adapter) }, answerAttempt(prepared.adapter)));
  }

  /**
   * A streamed answer: text deltas as they arrive, then `result`. Fails over to another key
   * only before the first delta; the iterator never throws.
   */
  generateContentStream(req: GenerateRequest): PoolStream {
    const queue = new PushQueue<string>();
    const prepared = this.#prepare(req);
    const result: Promise<PoolResult> =
      'error' in prepared
        ? Promise.resolve(prepared.error)
        : this.#run({ ...req, model: prepared.adapter.model, tokens: requestTokens(prepared.adapter) }, streamAttempt(prepared.adapter, queue)).then(poolResult);
    return queue.until(result);
  }

  /**
   * A Gemini-native call (the gateway's): `req.body` goes to Gemini as given, its JSON answer
   * comes back as it came; failover, quota, deadline and statistics as for every request.
   */
  async callNative(req: NativeRequest): Promise<NativeResult> {
    const checked = this.#checkNative(req);
    if ('error' in checked) return checked.error;
    return nativeResult(await this.#run(checked, nativeAttempt(req.method, checked.model, req.body)));
  }

  /** A Gemini-native streamGenerateContent: chunks as Gemini sends them, then `result`. Fails over only before the first. */
  streamNative(req: Omit<NativeRequest, 'method'>): NativeStream {
    const queue = new PushQueue<NativeBody>();
    const checked = this.#checkNative({ ...req, method: 'generateContent' });
    return queue.until('error' in checked ? Promise.resolve(checked.error) : this.#run(checked, nativeStreamAttempt(checked.model, req.body, queue)).then(nativeResult));
  }

  /** A chat whose history the pool keeps, so it survives the failure of any key. */
  createChat(options: { model?: string; history?: ChatTurn[]; systemInstruction?: string } = {}): PoolChat {
    return new PoolChat(this, options);
  }

  /** Many prompts at once, at most `concurrency` in flight; results in input order. */
  generateMany(prompts: ReadonlyArray<string | GenerateRequest>, options: BatchOptions = {}): Promise<PoolResult[]> {
    return generateBatch((req) => this.generateContent(req), prompts, options);
  }

  /**
   * Checks one key now with a cheap call (lists models), and what it learns becomes the key's
   * state, as if a request had learned it: an invalid or suspended key is disabled, a billing
   * failure disables its project, a 429 cools its project for every model, and a disabled
   * key that answers is enabled again (persisted, with events). A network failure or a
   * timeout says nothing about the key and changes nothing. Never throws (but a RangeError
   * for an index that is not a key).
   */
  async checkKey(index: number, timeoutMs = this.options.attemptTimeoutMs): Promise<{ ok: true; latencyMs: number } | { ok: false; latencyMs: number; error: Classified }> {
    const key = this.#liveKey(index);
    const started = this.#clock.now();
    const checked = await timed(timeoutMs, timeoutMs, undefined, async (signal) => {
      try {
        return await classified(this.#factory(this.#ring.secret(index), this.#clientOptions())).check(signal);
      } catch (err) {
        // The factory itself failed: no call was made.
        return { ok: false as const, error: classifyFailure(err, signal) };
      }
    });
    const latencyMs = this.#clock.now() - started;
    const result = checked.ok ? { ok: true as const, latencyMs } : { ok: false as const, latencyMs, error: { ...checked.error, message: this.#ring.redact(checked.error.message) } };
    try {
      checkAnswered(this.#core, key, this.defaultModel, result.ok ? undefined : result.error, this.#clock.now());
    } catch (err) {
      this.#maintenance.failed('key check', err);
    }
    return result;
  }

  /**
   * The key (`key#N`) and instance a request would be given now, or undefined when no
   * instance can take one. A query: it sends nothing, emits nothing and changes no state,
   * except that, like a real pick, it moves the round-robin cursor. (A request first lets due
   * cooldowns end and may move instances to spare keys; this looks at the pool as it is.)
   */
  nextKey(model?: string): { keyId: string; instance: number } | undefined {
    const m = this.#model(model);
    const choice = this.#instances.choose(m, new Set(), this.#clock.now());
    return choice.kind === 'instance' ? { keyId: this.#ring.keys[choice.instance.keyIndex]!.id, instance: choice.instance.slot } : undefined;
  }

  /** Re-checks every disabled key now; a key that answers again is re-enabled. */
  async recheckDisabledKeys(): Promise<void> {
    return this.#maintenance.recheck();
  }

  /** Runs the health rotation now (it also runs by itself every `rotationIntervalMs`). */
  rotate(): void {
    const now = this.#clock.now();
    this.#maintenance.rotated(now);
    const windows = this.#ring.live.map((k) => ({ index: k.index, ...this.#counters.window(k.index), usable: !this.#states.disabled(k.index) }));
    const unhealthy = findUnhealthyKeys(windows, this.options.rotationRules);
    this.#counters.resetWindow();
    this.#counters.decay();
    this.#instances.rotate(unhealthy, now);
  }

  /** Rebuilds the instances of one model, or of all, in the initial cycle. Cooldowns and disabled keys stay: they are Google's answers. */
  resetPool(model?: string): void {
    const models = model === undefined ? this.models : [this.#model(model)];
    for (const m of models) this.#instances.build(m);
    const all = this.#ring.keys.map((k) => k.index);
    this.#counters.resetStreaks(all, models);
    // A key's own cooldown (server errors) goes with its instances; a project's stays.
    this.#states.clear(all, models, 'local', 'reset', false);
    this.#log.info({ models }, 'pool reset');
  }

  /**
   * Ends cooldowns now: of one key (`keyIndex`, 0-based) or of every key, for one model or
   * for all. A cooldown of a project (a 429) is the project's: clearing it for one of its
   * keys clears it for all of them. Disabled keys stay disabled (a re-check decides), and
   * the known quota limits still hold. Written to the store; each key that is usable again
   * is announced with `keyRecovered`. Returns the ids (`key#N`) whose cooldown ended.
   */
  clearCooldowns(keyIndex?: number, model?: string): string[] {
    if (keyIndex !== undefined) this.#liveKey(keyIndex);
    const models = model === undefined ? this.models : [this.#model(model)];
    const targets = keyIndex === undefined ? this.#ring.live.map((k) => k.index) : [keyIndex];
    this.#counters.resetStreaks(targets, models);
    return [...this.#states.clear(targets, models, 'local')].map((i) => this.#ring.keys[i]!.id);
  }

  // ---------------------------------------------------------------- keys while it runs

  /**
   * Adds a key while the pool runs (`key` or `{ key, group }`): it gets the next `key#N` (ids
   * are never reused), takes instances from the most crowded keys (so it is used at once when
   * the pool has more instances than keys), and what the store remembers of it is loaded.
   * Emits `keyAdded`. Check it first (`probeKey`): a bad key is disabled by its first request.
   * @throws TypeError when the key is empty or already in use.
   */
  async addKey(spec: KeySpec | string): Promise<PoolKey> {
    if (this.#closed) throw new Error('GeminiAPIPool: the pool is closed');
    const k = this.#ring.add(typeof spec === 'string' ? parseKeySpec(spec) : spec);
    this.#counters.addKey();
    this.#states.addKey(k, 'local');
    await this.#sync.loadKeys([k.hash]);
    return k;
  }

  /**
   * Removes a key for good (any key but the last in use): its instances move to other keys,
   * requests on it finish, its `key#N` is never reused, its stored state stays under its hash.
   * Emits `keyRemoved`. Returns false when it was removed already.
   * @throws RangeError for an index that is not a key, or the last key in use.
   */
  removeKey(index: number): boolean {
    if (!this.#ring.keys[index]) throw new RangeError(`no key at index ${index}`);
    if (this.#ring.isRetired(index)) return false;
    if (this.#ring.live.length <= 1) throw new RangeError('the last key in use cannot be removed');
    this.#ring.retire(index);
    return this.#states.retire(index, 'local');
  }

  /**
   * Disables a key by hand: no request uses it, and no re-check enables it again; only
   * {@link enableKey} does. Stored and shared like every state. Returns false when it was
   * disabled by hand already.
   */
  disableKey(index: number, reason = 'disabled by an operator'): boolean {
    this.#liveKey(index);
    return this.#states.disable('key', index, { status: 'disabled', since: this.#clock.now(), reason, kind: 'auth', manual: true }, 'local');
  }

  /** Enables a disabled key by hand (whatever disabled it, its project's billing too). Returns false when it was not disabled. */
  enableKey(index: number): boolean {
    this.#liveKey(index);
    return this.#states.enable(index, 'local', true);
  }

  /**
   * Checks a key that is not in the pool with the cheap call of {@link checkKey}: whether it
   * would work, before it joins. Changes nothing. Never throws.
   */
  async probeKey(key: string, timeoutMs = this.options.attemptTimeoutMs): Promise<{ ok: true; latencyMs: number } | { ok: false; latencyMs: number; error: Classified }> {
    const started = this.#clock.now();
    const checked = await timed(timeoutMs, timeoutMs, undefined, async (signal) => {
      try {
        return await classified(this.#factory(key.trim(), this.#clientOptions())).check(signal);
      } catch (err) {
        return { ok: false as const, error: classifyFailure(err, signal) };
      }
    });
    const latencyMs = this.#clock.now() - started;
    if (checked.ok) return { ok: true, latencyMs };
    return { ok: false, latencyMs, error: { ...checked.error, message: redactSecrets(this.#ring.redact(checked.error.message), [key.trim()]) } };
  }

  /**
   * Keeps the keys added at runtime in step with `list` (the keys operators added, as the
   * store holds them): read now (awaited) and every `intervalMs` until {@link close}. What
   * it lists joins (`addKey`), what the pool added and it no longer lists leaves
   * (`removeKey`); keys of the configuration stay.
   */
  watchKeys(list: KeyList, intervalMs: number): Promise<void> {
    return this.#keyWatch.start(list, positiveInt('intervalMs', intervalMs));
  }

  /** Reads the list of {@link watchKeys} now (after any reading in progress). @throws what the list throws. */
  syncKeys(): Promise<void> {
    return this.#keyWatch.sync();
  }

  /** Today's requests per project and model against the limits in force (configured or learned). */
  getQuotaReport(): QuotaUsage[] {
    return quotaReport(this.#counters, this.#ring.live, this.models, (g, m) => this.#limiter.limitsFor(g, m), this.#clock.now());
  }

  #liveKey(index: number): PoolKey {
    const key = this.#ring.keys[index];
    if (!key || this.#ring.isRetired(index)) throw new RangeError(`no key at index ${index}`);
    return key;
  }

  /** Clears usage, error and latency counters. Today's request counts stay: they mirror Google's quota. */
  resetStats(): void {
    this.#counters.reset();
    this.#instances.resetCounts();
    this.#sync.resetCounters();
    this.#log.info('stats reset');
  }

  /** Stops timers, writes pending counters. Requests in flight finish; new ones are refused. Safe to call twice. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#keyWatch.stop();
    await this.#maintenance.stop();
    await this.#sync.close();
    // Lets requests in flight finish (their attempt timers bound them), then closes.
    await this.#agent.close();
  }

  // ---------------------------------------------------------------- persistence

  /**
   * Loads what the store remembers (disabled keys, cooldowns such as a day's exhausted
   * quota, today's counts) and from then on writes state changes at once and counters in
   * batches every `flushIntervalMs` (a crash loses at most that much). Shared stores also
   * deliver other processes' cooldowns and disabled keys within a moment.
   */
  async attachStore(store: PoolStateStore, options: { flushIntervalMs?: number } = {}): Promise<void> {
    await this.#sync.attach(store, positiveInt('flushIntervalMs', options.flushIntervalMs ?? POOL_DEFAULTS.flushIntervalMs));
  }

  /** Writes pending counters to the store now (and reports usage to shared stores). Never throws. */
  flush(): Promise<void> {
    return this.#sync.flush();
  }

  // ---------------------------------------------------------------- stats

  getPoolStats(): PoolStatsReport {
    const now = this.#clock.now();
    const models: PoolStatsReport['models'] = {};
    for (const model of this.models) models[model] = this.#instances.modelStats(model, now);
    return {
      models,
      strategy: this.options.strategy,
      totalRequests: this.#counters.totalRequests,
      failedRequests: this.#counters.failedRequests,
      inFlight: this.#inFlight,
      waiting: [...this.#waiting.values()].reduce((n, q) => n + q.length, 0),
    };
  }

  getKeyStats(): KeyStatsReport {
    return this.#counters.keyReport(this.#ring.live, this.models, this.#states, this.#clock.now());
  }

  /** State of one key for one model at `now`. */
  keyState(index: number, model: string, now = this.#clock.now()): KeyState {
    const k = this.#liveKey(index);
    return this.#states.state(k.index, model, now);
  }

  // ---------------------------------------------------------------- the request loop

  #model(model: string | undefined): string {
    const m = model ?? this.defaultModel;
    if (!this.models.includes(m)) throw new TypeError(`GeminiAPIPool: model ${m} is not served (configured: ${this.models.join(', ')})`);
    return m;
  }

  #prepare(req: GenerateRequest): { adapter: AdapterRequest } | { error: PoolFailure } {
    if (this.#closed) throw new Error('GeminiAPIPool: the pool is closed');
    return prepareRequest(req, this.models, this.defaultModel);
  }

  #checkNative(req: NativeRequest): RunSpec | { error: NativeFailure } {
    if (this.#closed) throw new Error('GeminiAPIPool: the pool is closed');
    return checkNative(req, this.models, this.defaultModel);
  }

  #clientOptions(): ClientOptions {
    return { ...(this.options.baseUrl !== undefined ? { baseUrl: this.options.baseUrl } : {}), apiVersion: this.options.apiVersion, fetch: this.#fetch };
  }

  #weightOf(client: string | undefined): number {
    return client === undefined ? 1 : (this.#weights.get(client) ?? 1);
  }

  /** The request loop of every request; `attempt` is what one attempt does (text, stream, native call). */
  async #run<T extends { usage: TokenUsage }>(req: RunSpec, attempt: Attempt<T>): Promise<RunOutcome<T>> {
    const { model, tokens, countsQuota = true } = req;
    const clock = this.#clock;
    const started = clock.now();
    const deadlineAt = started + (req.deadlineMs ?? this.options.deadlineMs);
    const tried = new Set<number>();
    let attempts = 0;
    let lastKey = -1;
    let lastKeyId: string | undefined;
    let lastError: Classified | undefined;
    let sameKeyRetries = 0;
    /** When the current attempt's quota slot was taken, to give it back if Gemini never saw it. */
    let slotAt = started;
    const takeSlot = (keyIndex: number, at: number): void => {
      slotAt = at;
      if (countsQuota) this.#sync.takeSlot(this.#ring.keys[keyIndex]!.group, model, at, tokens);
    };
    this.#counters.totalRequests++;
    this.#inFlight++;
    // `status`: Gemini's HTTP status, when the error came from an answer (a Classified).
    const fail = (error: PoolError & { status?: number }, extra: { partialText?: string | undefined; body?: NativeBody | undefined; status?: number } = {}): RunOutcome<T> => {
      this.#counters.failedRequests++;
      const failure: PoolFailure = { ok: false, error: { ...error, message: this.#ring.redact(error.message) }, attempts, model };
      if (extra.partialText) failure.partialText = extra.partialText;
      const status = extra.status ?? error.status;
      return { ok: false, failure, ...(status !== undefined ? { status } : {}), ...(lastKeyId ? { keyId: lastKeyId } : {}), ...(extra.body ? { body: extra.body } : {}) };
    };
    try {
      while (attempts < this.options.maxAttempts) {
        if (req.signal?.aborted) return fail({ kind: 'timeout', message: 'the request was cancelled' });
        const now = clock.now();
        this.#maintenance.run(now);
        const queue = this.#waiting.get(model)!;
        let choice = this.#pick(model, tried, now, tokens);
        // Waiters are served in their fair order: a newcomer queues with them even when a
        // slot looks free.
        if (choice.kind === 'none' || queue.length > 0) {
          if (choice.kind === 'none' && choice.retryAt === undefined) {
            this.#announcer.markUnavailable(model, choice.errorKind);
            return fail({ kind: choice.errorKind, message: unavailableMessage(choice.errorKind, undefined) });
          }
          if (choice.kind === 'none' && !choice.throttled) this.#announcer.markUnavailable(model, choice.errorKind, Math.max(0, choice.retryAt! - now));
          let picked: Instance | undefined;
          let last = choice;
          const waited = await queue.wait(
            () => {
              last = this.#pick(model, tried, clock.now(), tokens);
              if (last.kind === 'instance') {
                picked = last.instance;
                // Take the slot now, before the next waiter looks: it must not see it free.
                takeSlot(picked.keyIndex, clock.now());
                return 'ready';
              }
              return last.retryAt ?? Infinity;
            },
            deadlineAt,
            req.signal,
            {
              client: req.client,
              weight: this.#weightOf(req.client),
              maxWaitMs: this.#maxWaitMs,
              schedule: (k) => modelSlotTimes(this.#core, model, k, clock.now()),
              onWait: req.onWait && ((at) => req.onWait!(Math.max(0, at - clock.now()))),
            },
          );
          if (!waited.ok) {
            if (waited.reason === 'cancelled') return fail({ kind: 'timeout', message: 'the request was cancelled' });
            const errorKind = last.kind === 'none' ? last.errorKind : 'rate_limited';
            const later = waited.reason === 'deadline' || waited.reason === 'later';
            const retryAfterMs = later && Number.isFinite(waited.retryAt) ? Math.max(0, waited.retryAt - clock.now()) : undefined;
            if (later && retryAfterMs === undefined) {
              return fail({ kind: errorKind, message: unavailableMessage('auth', undefined) });
            }
            return fail({
              kind: errorKind,
              message: waited.reason === 'full' ? 'too many requests are waiting for quota; try again shortly' : unavailableMessage(errorKind, retryAfterMs),
              ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
            });
          }
          choice = { kind: 'instance', instance: picked! };
          // The wait was the backoff: the key it found needs no second one.
          lastKey = -1;
        } else {
          // Counted in the same step as the pick, so no other request can take the slot.
          takeSlot(choice.instance.keyIndex, now);
          // A slot taken counts as its client's use, for the fair order of later waits.
          if (countsQuota) queue.took(req.client, this.#weightOf(req.client));
        }
        const inst = choice.instance;
        const key = this.#ring.keys[inst.keyIndex]!;
        // Switching keys needs no sleep; retrying the same key (single-key pools) backs off, and
        // a model overloaded on every key makes every request wait for the same moment.
        const sameKey = inst.keyIndex === lastKey;
        const waitMs = Math.max(retryDelay({ sameKey, sameKeyRetries }, this.options, clock.random), this.#core.overloads.waitMs(model, clock.now()));
        if (sameKey) sameKeyRetries++;
        if (waitMs > 0) {
          if (clock.now() + waitMs >= deadlineAt) {
            this.#sync.releaseSlot(key.group, model, slotAt, tokens);
            return fail(lastError ?? this.#core.overloads.failure(model, clock.now()));
          }
          await clock.sleep(waitMs, req.signal);
          if (req.signal?.aborted) return fail({ kind: 'timeout', message: 'the request was cancelled' });
        }
        const remaining = deadlineAt - clock.now();
        if (remaining <= 0) return fail(lastError ?? { kind: 'timeout', message: 'deadline reached' });
        attempts++;
        lastKeyId = key.id;
        const outcome = await this.#attemptOn(inst, key, Math.min(this.options.attemptTimeoutMs, remaining), req.signal, attempt, countsQuota);
        if (outcome.ok) {
          this.#announcer.serviceBack(model);
          return { ok: true, value: outcome.value, keyId: key.id, model, attempts, latencyMs: clock.now() - started };
        }
        const err = outcome.error;
        if (err.unanswered && countsQuota) this.#sync.releaseSlot(key.group, model, slotAt, tokens);
        if (err.reason === 'CANCELLED') return fail({ kind: 'timeout', message: 'the request was cancelled' });
        if (err.kind === 'bad_request' || err.kind === 'blocked' || outcome.committed) {
          const error = { kind: err.kind, message: err.message, ...(err.reason && err.kind === 'blocked' ? { reason: err.reason } : {}) };
          return fail(error, { partialText: outcome.partialText, body: outcome.body, status: err.status });
        }
        tried.add(inst.keyIndex);
        lastKey = inst.keyIndex;
        lastError = err;
        if (attempts < this.options.maxAttempts) {
          this.#log.info({ model, key: key.id, kind: err.kind, attempt: attempts }, `retrying after ${err.kind}`);
        }
      }
      return fail(lastError ?? { kind: 'transient', message: 'no attempt was made' });
    } finally {
      this.#inFlight--;
    }
  }

  async #attemptOn<T extends { usage: TokenUsage }>(inst: Instance, key: PoolKey, timeoutMs: number, outer: AbortSignal | undefined, attempt: Attempt<T>, countsQuota: boolean): Promise<AttemptOutcome<T>> {
    const model = inst.model;
    const started = this.#clock.now();
    const c = this.#counters.attemptStarted(inst.keyIndex, model);
    inst.inFlight++;
    inst.attempts++;
    let outcome = await timed(timeoutMs, this.options.attemptTimeoutMs, outer, async (signal, progress): Promise<AttemptOutcome<T>> => {
      try {
        inst.client ??= classified(this.#factory(this.#ring.secret(inst.keyIndex), this.#clientOptions()));
        return await attempt(inst.client, signal, progress);
      } catch (err) {
        // Only the factory can throw here (the client's calls return values).
        return { ok: false, error: classifyFailure(err, signal), committed: false };
      }
    });
    inst.inFlight--;
    if (!outcome.ok) outcome = { ...outcome, error: { ...outcome.error, message: this.#ring.redact(outcome.error.message) } };
    const now = this.#clock.now();
    const errorsBefore = c.errors;
    const tokens = outcome.ok ? outcome.value.usage.totalTokens : 0;
    // Today's counts mirror Google's: an attempt that never got an answer, or a call Gemini
    // counts against no quota, is not one of them.
    const reached = countsQuota && (outcome.ok || !outcome.error.unanswered);
    this.#counters.attemptEnded(c, started, now, reached, outcome.ok, tokens);
    if (outcome.ok) {
      inst.consecutiveFailures = 0;
      attemptSucceeded(this.#core, key, model);
    } else if (outcome.error.reason !== 'CANCELLED') {
      attemptFailed(this.#core, inst, key, outcome.error, now);
    }
    if (this.#sync.attached) {
      this.#sync.countAttempt({ keyHash: key.hash, model, day: pacificDay(started), requests: reached ? 1 : 0, tokens, usage: 1, errors: c.errors - errorsBefore, latencyMs: now - started });
    }
    return outcome;
  }

  /**
   * A request's pick: first what is due (expired cooldowns end, with their events), then the
   * choice; when no instance can take it, soft cooldowns of the model give way, instances on
   * keys out of quota move to spare keys that are within it, and the choice runs once more.
   */
  #pick(model: string, tried: ReadonlySet<number>, now: number, tokens: number): Choice {
    this.#states.sweep(now);
    const choice = this.#instances.choose(model, tried, now, tokens);
    if (choice.kind === 'instance') return choice;
    const released = this.#states.releaseSoft(model, now).length;
    if (this.#instances.rebind(model, (k) => !this.#instances.canServe(k, model, now, tokens)) === 0 && released === 0) return choice;
    return this.#instances.choose(model, tried, now, tokens);
  }
}
