/**
 * The instances of each model and the keys they are bound to: building them, moving them
 * off keys that cannot serve (rebind), spreading them after a rotation (balance), rebuilding
 * one that keeps failing, and the pick around the pure `select.ts`. The pick is a query: it
 * changes nothing but the round-robin cursor; whoever picks for a request first lets due
 * cooldowns end and may rebind (see `GeminiAPIPool`).
 */
import type { Logger } from 'pino';
import type { ClassifiedClient } from '../gemini/client.ts';
import type { ErrorKind } from '../gemini/types.ts';
import type { KeyRing } from './keys.ts';
import type { KeyStates, StateChange } from './keyStates.ts';
import type { QuotaLimiter } from './limiter.ts';
import type { ResolvedOptions } from './options.ts';
import { healthScore, selectInstance, type InstanceView } from './select.ts';
import { smoothedErrorRate, type PoolCounters } from './stats.ts';
import { nextPacificMidnight, type Clock } from './time.ts';
import type { ModelPoolStats } from './types.ts';

/** One model instance: a client bound to one key. */
export interface Instance {
  model: string;
  slot: number;
  keyIndex: number;
  /** Built on first use after each (re)binding. */
  client: ClassifiedClient | undefined;
  inFlight: number;
  /** Attempts sent on this instance (`usageDistribution` in the stats). */
  attempts: number;
  errors: number;
  consecutiveFailures: number;
  rebuilds: number;
}

/** What a pick found: an instance, or why none and when one may be free. */
export type Choice = { kind: 'instance'; instance: Instance } | { kind: 'none'; retryAt: number | undefined; errorKind: ErrorKind; throttled: boolean };

/** What the instances read. */
export interface InstanceParts {
  ring: KeyRing;
  models: readonly string[];
  options: Pick<ResolvedOptions, 'poolSize' | 'strategy'>;
  states: KeyStates;
  counters: PoolCounters;
  limiter: QuotaLimiter;
  clock: Clock;
  log: Logger;
}

export class Instances {
  readonly #lists = new Map<string, Instance[]>();
  /** Round-robin cursor per model: the one piece of state a pick moves. */
  readonly #cursor = new Map<string, number>();
  // The parts the pick reads, held directly: the pick is the hot path of every request.
  readonly #states: KeyStates;
  readonly #limiter: QuotaLimiter;
  readonly #counters: PoolCounters;
  readonly #keys: InstanceParts['ring']['keys'];

  constructor(private readonly parts: InstanceParts) {
    this.#states = parts.states;
    this.#limiter = parts.limiter;
    this.#counters = parts.counters;
    this.#keys = parts.ring.keys;
    for (const model of parts.models) this.build(model);
    parts.states.onChange((change) => this.#stateChanged(change));
  }

  /**
   * Instances leave the keys a cooldown or a disable took away, for spare keys; a removed
   * key's instances go to the best usable keys; a key that joins takes instances from the
   * most crowded keys, so it is used at once.
   */
  #stateChanged(change: StateChange): void {
    if (change.type === 'added') {
      const now = this.parts.clock.now();
      for (const model of this.parts.models) this.balance(model, new Set(), now);
      return;
    }
    if (change.type === 'retired') {
      const off = new Set(change.keys);
      for (const model of this.parts.models) this.rebind(model, (i) => off.has(i), new Set(), false);
      return;
    }
    if (change.type !== 'cooling' && change.type !== 'disabled') return;
    const off = new Set(change.keys);
    for (const model of change.type === 'cooling' ? [change.model] : this.parts.models) this.rebind(model, (i) => off.has(i));
  }

  /** The instances of a served model. */
  list(model: string): readonly Instance[] {
    return this.#lists.get(model)!;
  }

  /** The choice alone: changes nothing but the round-robin cursor. */
  choose(model: string, tried: ReadonlySet<number>, now: number, tokens = 0): Choice {
    const list = this.#lists.get(model)!;
    const views = this.#views(list, model, tried, now, tokens);
    if (views.length === 0) return { kind: 'none', ...this.#earliestRecovery(model, now, tokens) };
    const cursor = this.#cursor.get(model) ?? 0;
    const pos = selectInstance(this.parts.options.strategy, views, cursor, this.parts.clock.random);
    const slot = views[pos]!.slot;
    this.#cursor.set(model, (slot + 1) % list.length);
    return { kind: 'instance', instance: list[slot]! };
  }

  /**
   * Can take a request now: usable (neither disabled nor cooling, see {@link KeyStates.usable})
   * and within its project's known quota for `tokens` more.
   */
  canServe(index: number, model: string, now: number, tokens: number): boolean {
    return this.#states.usable(index, model, now) && this.#limiter.check(this.#keys[index]!.group, model, now, tokens).ok;
  }

  #views(list: Instance[], model: string, tried: ReadonlySet<number>, now: number, tokens: number): InstanceView[] {
    const views: InstanceView[] = [];
    for (const inst of list) {
      if (!this.canServe(inst.keyIndex, model, now, tokens)) continue;
      const c = this.#counters.peek(inst.keyIndex, model);
      views.push({
        slot: inst.slot,
        inFlight: inst.inFlight,
        keyAttempts: c?.scoreAttempts ?? 0,
        keyErrorRate: c ? smoothedErrorRate(c) : 0,
        tried: tried.has(inst.keyIndex),
      });
    }
    return views;
  }

  /**
   * When no instance can take the request: the earliest time a key is usable and within
   * quota again, what kind of outage it is, and whether it is only our own quota limit.
   */
  #earliestRecovery(model: string, now: number, tokens: number): { retryAt: number | undefined; errorKind: ErrorKind; throttled: boolean } {
    let retryAt: number | undefined;
    let errorKind: ErrorKind = 'auth';
    let throttled = false;
    const groupsSeen = new Map<string, number>();
    for (const k of this.parts.ring.live) {
      const disabled = this.parts.states.disabled(k.index);
      if (disabled) {
        if (retryAt === undefined) errorKind = disabled.kind;
        continue;
      }
      const st = this.parts.states.state(k.index, model, now);
      let at: number;
      let kind: ErrorKind;
      let isThrottle = false;
      if (st.status === 'cooling') {
        at = st.until;
        // Say why the key is away: a day's quota, server errors, or a rate limit.
        kind = st.kind === 'quota_exhausted' || st.kind === 'transient' ? st.kind : 'rate_limited';
      } else {
        let cap = groupsSeen.get(k.group);
        if (cap === undefined) {
          const c = this.parts.limiter.check(k.group, model, now, tokens);
          cap = c.ok ? now : c.retryAt;
          groupsSeen.set(k.group, cap);
        }
        at = cap;
        kind = cap >= nextPacificMidnight(now) ? 'quota_exhausted' : 'rate_limited';
        isThrottle = true;
      }
      if (retryAt === undefined || at < retryAt) {
        retryAt = at;
        errorKind = kind;
        throttled = isThrottle;
      }
    }
    return { retryAt, errorKind, throttled };
  }

  /** The instances of a model in the initial cycle: instance i on the i-th key in use (mod their number). */
  build(model: string): void {
    const live = this.parts.ring.live;
    const list: Instance[] = [];
    for (let slot = 0; slot < this.parts.options.poolSize; slot++) {
      list.push({ model, slot, keyIndex: live[slot % live.length]!.index, client: undefined, inFlight: 0, attempts: 0, errors: 0, consecutiveFailures: 0, rebuilds: 0 });
    }
    this.#lists.set(model, list);
    this.#cursor.set(model, 0);
  }

  /**
   * Moves instances whose key matches `off` to the best usable keys: with `spareOnly`, only
   * to keys that have no instance of this model yet. Returns how many moved.
   */
  rebind(model: string, off: (keyIndex: number) => boolean, avoid: ReadonlySet<number> = new Set(), spareOnly = true): number {
    const list = this.#lists.get(model)!;
    const now = this.parts.clock.now();
    const bound = new Map<number, number>();
    for (const inst of list) bound.set(inst.keyIndex, (bound.get(inst.keyIndex) ?? 0) + 1);
    let moved = 0;
    for (const inst of list) {
      if (!off(inst.keyIndex)) continue;
      // Outside rotation only spare keys (no instance of this model yet) take an instance:
      // piling onto busy keys would leave the cooled key idle once it recovers.
      const target = this.#bestKey(model, now, bound, (k) => !off(k) && !avoid.has(k) && (spareOnly ? !bound.get(k) : true));
      if (target === undefined || target === inst.keyIndex) continue;
      bound.set(inst.keyIndex, bound.get(inst.keyIndex)! - 1);
      bound.set(target, (bound.get(target) ?? 0) + 1);
      this.#bind(inst, target);
      moved++;
    }
    return moved;
  }

  /** The usable key with the fewest instances of this model, then the best health score. */
  #bestKey(model: string, now: number, bound: ReadonlyMap<number, number>, allowed: (k: number) => boolean): number | undefined {
    let best: number | undefined;
    let bestBound = Infinity;
    let bestScore = -Infinity;
    for (const k of this.parts.ring.live) {
      if (!allowed(k.index) || !this.parts.states.usable(k.index, model, now)) continue;
      const n = bound.get(k.index) ?? 0;
      const c = this.parts.counters.peek(k.index, model);
      const score = c ? healthScore(c.scoreAttempts, smoothedErrorRate(c)) : 1;
      if (n < bestBound || (n === bestBound && score > bestScore)) {
        best = k.index;
        bestBound = n;
        bestScore = score;
      }
    }
    return best;
  }

  /** After rotation: a healthy key left with no instance takes one from the most crowded key. */
  balance(model: string, unhealthy: ReadonlySet<number>, now: number): void {
    const list = this.#lists.get(model)!;
    for (let guard = 0; guard < list.length; guard++) {
      const bound = new Map<number, number>();
      for (const inst of list) bound.set(inst.keyIndex, (bound.get(inst.keyIndex) ?? 0) + 1);
      const idle = this.#bestKey(model, now, bound, (k) => !unhealthy.has(k) && !bound.has(k));
      if (idle === undefined) return;
      let crowded: Instance | undefined;
      for (const inst of list) if (bound.get(inst.keyIndex)! >= 2 && (!crowded || bound.get(inst.keyIndex)! > bound.get(crowded.keyIndex)!)) crowded = inst;
      if (!crowded) return;
      this.#bind(crowded, idle);
    }
  }

  #bind(inst: Instance, keyIndex: number): void {
    inst.keyIndex = keyIndex;
    inst.client = undefined;
    inst.consecutiveFailures = 0;
  }

  /** An instance that keeps failing gets a fresh client (on a usable key if its own is not). */
  rebuild(inst: Instance, now: number): void {
    inst.rebuilds++;
    const from = this.parts.ring.keys[inst.keyIndex]!.id;
    if (!this.parts.states.usable(inst.keyIndex, inst.model, now)) this.rebind(inst.model, (k) => k === inst.keyIndex);
    inst.client = undefined;
    inst.consecutiveFailures = 0;
    this.parts.log.warn({ model: inst.model, instance: inst.slot, from, to: this.parts.ring.keys[inst.keyIndex]!.id }, 'instance rebuilt after repeated failures');
  }

  /** After a health rotation: instances leave unhealthy and unusable keys, then spread over idle ones. */
  rotate(unhealthy: ReadonlySet<number>, now: number): void {
    const { ring, states, log } = this.parts;
    for (const model of this.parts.models) {
      const moved = this.rebind(model, (k) => unhealthy.has(k) || !states.usable(k, model, now), unhealthy, false);
      if (moved > 0) log.info({ model, moved, unhealthy: [...unhealthy].map((i) => ring.keys[i]!.id) }, 'rotation moved instances off unhealthy keys');
      this.balance(model, unhealthy, now);
    }
  }

  /** The per-model part of `getPoolStats`. */
  modelStats(model: string, now: number): ModelPoolStats {
    const list = this.#lists.get(model)!;
    const keyDistribution: Record<string, number> = {};
    let active = 0;
    for (const inst of list) {
      const id = this.parts.ring.keys[inst.keyIndex]!.id;
      keyDistribution[id] = (keyDistribution[id] ?? 0) + 1;
      if (this.parts.states.usable(inst.keyIndex, model, now) && inst.consecutiveFailures === 0) active++;
    }
    return {
      poolSize: list.length,
      activeInstances: active,
      errorInstances: list.length - active,
      totalUsage: list.reduce((s, i) => s + i.attempts, 0),
      usageDistribution: list.map((i) => i.attempts),
      keyDistribution,
    };
  }

  /** Zeroes the attempt and error counts of every instance. */
  resetCounts(): void {
    for (const list of this.#lists.values()) for (const i of list) (i.attempts = 0), (i.errors = 0);
  }
}
