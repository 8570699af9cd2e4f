/**
 * The pool's side of a state store: loads what the store remembers, writes every key-state
 * change this process makes (it listens to {@link KeyStates}), batches counters and flushes
 * them, applies what other processes write, shares quota usage, and after an outage writes
 * back everything the store may have lost. See docs/ARCHITECTURE.md, "How stores sync".
 */
import type { Logger } from 'pino';
import { isStoreRejectedError } from '../store/errors.ts';
import { MemoryStore } from '../store/memory.ts';
import type { CounterDelta, KeyStateChange, PoolStateStore, StoredKeyState, UsageReport } from '../store/types.ts';
import { coolingScope, type Cooling } from './cooldown.ts';
import type { KeyRing } from './keys.ts';
import type { Disabled, KeyStates, StateChange } from './keyStates.ts';
import type { QuotaLimiter } from './limiter.ts';
import type { PoolCounters } from './stats.ts';
import { pacificDay, type Clock } from './time.ts';
import { ERROR_KINDS } from './types.ts';

/** The parts of the pool the store sync reads and writes. */
export interface StoreSyncParts {
  ring: KeyRing;
  models: readonly string[];
  clock: Clock;
  log: Logger;
  states: KeyStates;
  counters: PoolCounters;
  limiter: QuotaLimiter;
  /** Reports a failed background task (one log line). */
  backgroundFailed(task: string, err: unknown): void;
}

/**
 * The kind an operator's disable is stored with. Stores keep kinds as text; code that does
 * not know this one takes it as a key's own disable, which it is.
 */
export const MANUAL_KIND = 'manual';

/** A state as the store keeps it: an operator's disable under its own kind. */
function toStored(state: Disabled | Cooling | null): StoredKeyState | null {
  if (state?.status !== 'disabled') return state;
  const { manual, ...rest } = state;
  return manual ? { ...rest, kind: MANUAL_KIND } : rest;
}

/** Per project, per model: a value of this process's since the last flush. */
type PerGroupModel<T> = Map<string, Map<string, T>>;

export class StoreSync {
  #store: PoolStateStore | undefined;
  #down = false;
  /** Counter deltas not yet written: per key hash, model and day. */
  readonly #pending = new Map<string, Map<string, Map<string, CounterDelta>>>();
  /**
   * The counters as the store holds them as far as this process knows (loaded, plus the
   * batches it accepted), to write back to a shared store that comes back empty.
   */
  readonly #synced = new MemoryStore();
  /** Requests and tokens this process sent since the last flush, for shared stores. */
  readonly #sent: PerGroupModel<UsageReport> = new Map();
  #sharesUsage = false;
  #unsubscribe: Array<() => void> = [];
  #timer: NodeJS.Timeout | undefined;
  readonly #byHash = new Map<string, number>();

  constructor(private readonly parts: StoreSyncParts) {
    for (const k of parts.ring.keys) this.#byHash.set(k.hash, k.index);
    parts.states.onChange((change) => {
      if (change.type === 'added') for (const i of change.keys) this.#byHash.set(parts.ring.keys[i]!.hash, i);
      else if (change.type === 'retired') {
        for (const i of change.keys) if (this.#byHash.get(parts.ring.keys[i]!.hash) === i) this.#byHash.delete(parts.ring.keys[i]!.hash);
      } else this.#persistChange(change);
    });
  }

  /** Whether a store is attached. */
  get attached(): boolean {
    return this.#store !== undefined;
  }

  /** See `GeminiAPIPool.attachStore`. */
  async attach(store: PoolStateStore, flushIntervalMs: number): Promise<void> {
    const { clock, limiter, models } = this.parts;
    this.#store = store;
    await this.#load();
    this.#unsubscribe.push(store.subscribe((change) => this.#applyStored(change, true)));
    if (store.publishUsage && store.subscribeUsage) {
      // Shared quota: what the other processes send counts against our limits too.
      this.#sharesUsage = true;
      this.#unsubscribe.push(
        store.subscribeUsage((reports) => {
          const now = clock.now();
          for (const r of reports) if (models.includes(r.model)) limiter.recordRemote(r.group, r.model, now, r.requests, r.tokens);
        }),
      );
    }
    if (store.onReconnect) {
      this.#unsubscribe.push(
        store.onReconnect(() => {
          // Both ways: learn what others wrote meanwhile, and write back everything we know
          // (a Redis that restarted empty has forgotten every cooldown and counter, not
          // only what changed while it was away).
          void this.#load()
            .then(() => {
              for (const e of this.parts.states.entries(clock.now())) this.#persist(e.keys, e.model, e.state);
              return this.#writeBackCounters();
            })
            .then(() => this.flush())
            .catch((err: unknown) => this.#failed(err));
        }),
      );
    }
    // A background task must not reject: one log line, and the next tick tries again.
    this.#timer = setInterval(() => this.flush().catch((err: unknown) => this.parts.backgroundFailed('flush', err)), flushIntervalMs);
    this.#timer.unref();
  }

  /** Stops the flush timer and the subscriptions, then writes what is pending. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    for (const off of this.#unsubscribe) off();
    this.#unsubscribe = [];
    await this.flush();
  }

  /** Writes pending counters to the store now (and reports usage to shared stores). Never throws. */
  async flush(): Promise<void> {
    const store = this.#store;
    if (store?.publishUsage && this.#sent.size > 0) {
      const reports = [...this.#sent.values()].flatMap((perModel) => [...perModel.values()]);
      this.#sent.clear();
      // Usage is news for the others' next second, not a count: a lost report is not retried.
      await store.publishUsage(reports).then(
        () => this.#up(),
        (err: unknown) => this.#failed(err),
      );
    }
    if (!store || this.#pending.size === 0) return;
    const batch = [...this.#pending.values()].flatMap((perModel) => [...perModel.values()].flatMap((perDay) => [...perDay.values()]));
    this.#pending.clear();
    try {
      await store.addCounters(batch);
      await this.#synced.addCounters(batch);
      this.#up();
    } catch (err) {
      if (isStoreRejectedError(err)) {
        // The store is up and said no: the same batch would be refused forever.
        this.parts.log.error({ store: store.kind, rows: batch.length, err: this.parts.ring.redact(err.message) }, 'state store refused a counter batch; dropped it');
        return;
      }
      // Keep them for the next flush: nothing counted is lost while the store is away.
      for (const d of batch) this.countAttempt(d);
      this.#failed(err);
    }
  }

  /** Adds one attempt's counts to the next batch (nothing without a store). */
  countAttempt(d: CounterDelta): void {
    if (!this.#store) return;
    let perModel = this.#pending.get(d.keyHash);
    if (!perModel) this.#pending.set(d.keyHash, (perModel = new Map()));
    let perDay = perModel.get(d.model);
    if (!perDay) perModel.set(d.model, (perDay = new Map()));
    const p = perDay.get(d.day);
    if (!p) perDay.set(d.day, { ...d });
    else {
      p.requests += d.requests;
      p.tokens += d.tokens;
      p.usage += d.usage;
      p.errors += d.errors;
      p.latencyMs += d.latencyMs;
    }
  }

  /** Counts one request against its project's quota now; shared stores hear of it at the next flush. */
  takeSlot(group: string, model: string, now: number, tokens: number): void {
    this.parts.limiter.record(group, model, now, tokens);
    if (!this.#sharesUsage) return;
    let perModel = this.#sent.get(group);
    if (!perModel) this.#sent.set(group, (perModel = new Map()));
    const r = perModel.get(model);
    if (r) {
      r.requests++;
      r.tokens += tokens;
    } else perModel.set(model, { group, model, requests: 1, tokens });
  }

  /** Gives back a slot {@link takeSlot} took for an attempt that never reached Gemini. */
  releaseSlot(group: string, model: string, sentAt: number, tokens: number): void {
    this.parts.limiter.release(group, model, sentAt, tokens, this.parts.clock.now());
    const r = this.#sent.get(group)?.get(model);
    // Only while not yet reported: once flushed, the other processes have counted it.
    if (r && r.requests > 0) {
      r.requests--;
      r.tokens = Math.max(0, r.tokens - tokens);
    }
  }

  /** Zeroes attempts, errors and latency, pending and stored (today's counts stay). */
  resetCounters(): void {
    for (const perModel of this.#pending.values()) for (const perDay of perModel.values()) for (const d of perDay.values()) (d.usage = 0), (d.errors = 0), (d.latencyMs = 0);
    void this.#synced.resetCounters();
    this.#store?.resetCounters().then(
      () => this.#up(),
      (err: unknown) => this.#failed(err),
    );
  }

  /**
   * Loads what the store remembers of keys that just joined (a key removed and added again,
   * or one another process disabled). Never throws; nothing to do without a store.
   */
  async loadKeys(hashes: readonly string[]): Promise<void> {
    if (!this.#store) return;
    await this.#load(hashes).catch((err: unknown) => this.#failed(err));
  }

  async #load(only?: readonly string[]): Promise<void> {
    const { ring, clock, counters, limiter, models, log } = this.parts;
    const store = this.#store!;
    const now = clock.now();
    const hashes = only ?? ring.live.map((k) => k.hash);
    try {
      const states = await store.loadKeyStates(hashes, now);
      for (const [keyHash, perModel] of states) {
        for (const [model, state] of perModel) this.#applyStored({ keyHash, model, state }, false);
      }
      const day = pacificDay(now);
      /** Today's requests per project and model, which count against the day's quota. */
      const requestsToday: PerGroupModel<number> = new Map();
      const rows = await store.loadCounters(hashes, day);
      // A row the store holds but cannot be counted is simply not written back later.
      await this.#synced.raiseCounters(rows).catch(() => undefined);
      for (const row of rows) {
        const index = this.#byHash.get(row.keyHash);
        if (index === undefined || !models.includes(row.model)) continue;
        counters.merge(index, row, day);
        if (row.day !== day) continue;
        const group = ring.keys[index]!.group;
        let perModel = requestsToday.get(group);
        if (!perModel) requestsToday.set(group, (perModel = new Map()));
        perModel.set(row.model, (perModel.get(row.model) ?? 0) + row.requestsToday);
      }
      for (const [group, perModel] of requestsToday) for (const [model, n] of perModel) limiter.seedDay(group, model, now, n);
      this.#up();
      log.info({ store: store.kind, states: states.size }, 'state loaded from the store');
    } catch (err) {
      this.#failed(err);
      if (this.#down && this.#unsubscribe.length === 0) throw err;
    }
  }

  /**
   * Raises the store's counters to what this process knows the store held: after a
   * restart that lost them this restores them, and where the store still has them (or
   * more, from other processes) it changes nothing, so nothing is counted twice.
   */
  async #writeBackCounters(): Promise<void> {
    const { ring, clock, log } = this.parts;
    const store = this.#store!;
    const rows = await this.#synced.loadCounters(ring.live.map((k) => k.hash), pacificDay(clock.now()));
    try {
      await store.raiseCounters(rows);
      this.#up();
    } catch (err) {
      if (isStoreRejectedError(err)) log.error({ store: store.kind, err: ring.redact(err.message) }, 'state store refused the counters written back after an outage');
      else this.#failed(err);
    }
  }

  /** Applies a stored or remote state of one key. Only a cooldown cut to the maximum is written back. */
  #applyStored(change: KeyStateChange, remote: boolean): void {
    const { states, models, clock, log, ring } = this.parts;
    const index = this.#byHash.get(change.keyHash);
    if (index === undefined) return;
    const now = clock.now();
    const stored = change.state;
    // The store keeps kinds as text. One this code does not know (another version wrote it)
    // still counts: as a key's own disable, or as its group's cooldown.
    const st: Disabled | Cooling | null =
      stored?.status === 'disabled' && stored.kind === MANUAL_KIND
        ? { status: 'disabled', since: stored.since, reason: stored.reason, kind: 'auth', manual: true }
        : stored === null || (ERROR_KINDS as readonly string[]).includes(stored.kind)
          ? (stored as Disabled | Cooling | null)
          : { ...stored, kind: stored.status === 'disabled' ? 'auth' : 'rate_limited' };
    const source = remote ? 'remote' : 'stored';
    if (change.model === '*') {
      if (st === null) states.enable(index, source);
      else if (st.status === 'disabled') states.disable(st.kind === 'billing' ? 'group' : 'key', index, st, source);
    } else if (models.includes(change.model)) {
      const model = change.model;
      // The store keeps one state per key and model: none means the key is usable for the
      // model, so its project's cooldown (written for every key of it) is over too.
      if (st === null) states.clear([index], [model], source);
      // A key's own cooldown (server errors, a soft one) stays the key's: never its project's.
      else if (st.status === 'cooling' && st.until > now) states.cool(coolingScope(st.kind), index, model, st, now, source);
    }
    if (remote) log.debug({ key: ring.keys[index]!.id, model: change.model, state: st?.status ?? 'active' }, 'state change from another process');
  }

  /** Writes a change this process made (or a stored cooldown it had to cut) to the store. */
  #persistChange(change: StateChange): void {
    if (!this.#store) return;
    const local = change.source === 'local';
    switch (change.type) {
      case 'cooling':
        if (local || change.capped) this.#persist(change.keys, change.model, change.cooling);
        break;
      case 'disabled':
        if (local) this.#persist(change.keys, '*', change.disabled);
        break;
      case 'enabled':
        if (local) this.#persist(change.keys, '*', null);
        break;
      case 'ended':
        // An expired cooldown expires in the store too; one ended early must be written. The
        // store keeps one state per key and model, so a key whose own cooldown ended while its
        // project still cools is written as cooling: a null would end the project's cooldown
        // in every other process.
        if (local && change.cause !== 'expired') {
          const now = this.parts.clock.now();
          for (const i of change.keys) this.#persist([i], change.model, this.parts.states.cooling(i, change.model, now) ?? null);
        }
        break;
    }
  }

  #persist(indexes: readonly number[], model: string, state: Disabled | Cooling | null): void {
    const store = this.#store!;
    const stored = toStored(state);
    for (const i of indexes) {
      store.setKeyState(this.parts.ring.keys[i]!.hash, model, stored).then(
        () => this.#up(),
        (err: unknown) => this.#failed(err),
      );
    }
  }

  #failed(err: unknown): void {
    if (this.#down) return;
    this.#down = true;
    this.parts.log.error({ store: this.#store?.kind, err: this.parts.ring.redact(err instanceof Error ? err.message : String(err)) }, 'state store unavailable; serving from the in-memory view');
  }

  #up(): void {
    if (!this.#down) return;
    this.#down = false;
    this.parts.log.info({ store: this.#store?.kind }, 'state store back');
  }
}
