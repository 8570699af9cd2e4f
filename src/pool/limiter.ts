/**
 * Quota-aware scheduling. Gemini counts quota per Google Cloud project (our quota group)
 * and model: requests per minute in a sliding window, requests per day until Pacific
 * midnight, and input tokens per minute. The limiter counts what we send the same way and
 * says whether one more request fits, so the pool stays under the limits instead of
 * learning them from 429s. Limits are configured, or learned from a 429's QuotaFailure.
 */
import type { SlotSource } from './slots.ts';
import { nextPacificMidnight } from './time.ts';

/** Known quota of one group for one model. Missing means unknown (not enforced). */
export interface QuotaLimits {
  rpm?: number;
  rpd?: number;
  tpm?: number;
}

export interface LimiterOptions {
  /** Limits of every model unless `perModel` names it. */
  defaults?: QuotaLimits;
  perModel?: Record<string, QuotaLimits>;
  /** Length of the per-minute window. Only benchmarks and tests change it. @default 60_000 */
  minuteMs?: number;
  /** Slack added to the window (see {@link QuotaLimiter.marginMs}). @default 2% of `minuteMs`, at most 1 s */
  marginMs?: number;
}

interface QuotaUse {
  /** Send times in the current minute window, oldest first. */
  times: number[];
  /** Estimated input tokens of each send in `times`. */
  tokens: number[];
  tokenSum: number;
  /** End of the Pacific day `dayCount` belongs to. */
  dayEnd: number;
  dayCount: number;
  /** Limits learned from 429s; they override configured ones. */
  learned: QuotaLimits;
  /** Configured and learned limits merged, kept up to date by `learn`. */
  limits: QuotaLimits;
}

/** Outcome of a capacity check: fits now, or fits first at `retryAt`. */
export type Capacity = { ok: true } | { ok: false; retryAt: number; scope: 'minute' | 'day' | 'tokens' };

const OK: Capacity = Object.freeze({ ok: true });

const isEmpty = (l: QuotaLimits): boolean => l.rpm === undefined && l.rpd === undefined && l.tpm === undefined;

/** Counts sends per quota group and model and checks them against known limits. */
export class QuotaLimiter {
  readonly minuteMs: number;
  /**
   * Slack added to the window: Gemini counts a request when it arrives, a little after we
   * count it, so a slot is taken as free slightly later than our own clock says.
   */
  readonly marginMs: number;
  readonly #defaults: QuotaLimits;
  readonly #perModel: Record<string, QuotaLimits>;
  /** model -> group -> what was sent in the windows: nested, so the hot path builds no lookup strings. */
  readonly #use = new Map<string, Map<string, QuotaUse>>();
  #learnedAny = false;

  constructor(options: LimiterOptions = {}) {
    this.minuteMs = options.minuteMs ?? 60_000;
    if (!(this.minuteMs > 0)) throw new TypeError(`QuotaLimiter: \`minuteMs\` must be > 0 (got ${this.minuteMs})`);
    this.marginMs = options.marginMs ?? Math.min(1_000, Math.round(this.minuteMs * 0.02));
    if (!(this.marginMs >= 0)) throw new TypeError(`QuotaLimiter: \`marginMs\` must be >= 0 (got ${this.marginMs})`);
    this.#defaults = { ...options.defaults };
    this.#perModel = { ...options.perModel };
    for (const [where, l] of [['defaults', this.#defaults], ...Object.entries(this.#perModel)] as Array<[string, QuotaLimits]>) {
      for (const [name, v] of Object.entries(l)) {
        if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new TypeError(`QuotaLimiter: \`${where}.${name}\` must be an integer >= 1 (got ${v})`);
      }
    }
  }

  /** The limits in force for a group and model: learned values win over configured ones. */
  limitsFor(group: string, model: string): QuotaLimits {
    return this.#use.get(model)?.get(group)?.limits ?? this.#configured(model);
  }

  #configured(model: string): QuotaLimits {
    return this.#perModel[model] ?? this.#defaults;
  }

  #get(group: string, model: string, now: number): QuotaUse {
    let perGroup = this.#use.get(model);
    if (!perGroup) this.#use.set(model, (perGroup = new Map()));
    let u = perGroup.get(group);
    if (!u) {
      u = { times: [], tokens: [], tokenSum: 0, dayEnd: nextPacificMidnight(now), dayCount: 0, learned: {}, limits: this.#configured(model) };
      perGroup.set(group, u);
    }
    this.#prune(u, now);
    return u;
  }

  #prune(u: QuotaUse, now: number): void {
    const from = now - this.minuteMs - this.marginMs;
    let drop = 0;
    while (drop < u.times.length && u.times[drop]! <= from) {
      u.tokenSum -= u.tokens[drop]!;
      drop++;
    }
    if (drop > 0) {
      u.times.splice(0, drop);
      u.tokens.splice(0, drop);
    }
    if (now >= u.dayEnd) {
      u.dayEnd = nextPacificMidnight(now);
      u.dayCount = 0;
    }
  }

  /** Whether one more request (of `tokens` estimated input tokens) fits now. */
  check(group: string, model: string, now: number, tokens = 0): Capacity {
    // Nothing known about this model's quota: nothing to check.
    if (!this.#learnedAny && isEmpty(this.#configured(model))) return OK;
    const u = this.#get(group, model, now);
    const limits = u.limits;
    if (isEmpty(limits)) return OK;
    if (limits.rpd !== undefined && u.dayCount >= limits.rpd) return { ok: false, retryAt: nextPacificMidnight(now), scope: 'day' };
    if (limits.rpm !== undefined && u.times.length >= limits.rpm) {
      // The window frees a slot when its oldest send (at index length - rpm) leaves it.
      return { ok: false, retryAt: u.times[u.times.length - limits.rpm]! + this.minuteMs + this.marginMs, scope: 'minute' };
    }
    if (limits.tpm !== undefined && u.tokenSum + tokens > limits.tpm && u.times.length > 0) {
      let sum = u.tokenSum;
      for (let i = 0; i < u.times.length; i++) {
        sum -= u.tokens[i]!;
        if (sum + tokens <= limits.tpm) return { ok: false, retryAt: u.times[i]! + this.minuteMs + this.marginMs, scope: 'tokens' };
      }
    }
    return OK;
  }

  /**
   * The slots of one group for `model` as `slotSchedule` reads them, from `from` on (when a
   * key of the group is usable again). The send times are this limiter's own: read them
   * before anything is sent again.
   */
  slotSource(group: string, model: string, from: number, now: number): SlotSource {
    if (!this.#learnedAny && isEmpty(this.#configured(model))) return { kind: 'unlimited', from };
    const u = this.#get(group, model, now);
    const { rpm, rpd } = u.limits;
    const dayLeft = rpd === undefined ? Infinity : rpd - u.dayCount;
    if (rpm === undefined) return { kind: 'unlimited', from: dayLeft > 0 ? from : Math.max(from, u.dayEnd) };
    return { kind: 'window', from, rpm, windowMs: this.minuteMs + this.marginMs, times: u.times, dayLeft, dayEnd: u.dayEnd };
  }

  /** Counts one request sent now. */
  record(group: string, model: string, now: number, tokens = 0): void {
    const u = this.#get(group, model, now);
    u.times.push(now);
    u.tokens.push(tokens);
    u.tokenSum += tokens;
    u.dayCount++;
    // Without a per-minute or token limit nothing reads old sends: keep memory flat.
    if (u.limits.rpm === undefined && u.limits.tpm === undefined && u.times.length > 4096) {
      u.times.splice(0, 2048);
      u.tokenSum -= u.tokens.splice(0, 2048).reduce((a, b) => a + b, 0);
    }
  }

  /**
   * Takes back a request counted by {@link record} at `sentAt` that never reached Gemini (the
   * connection failed): Gemini did not count it, so neither do we.
   */
  release(group: string, model: string, sentAt: number, tokens = 0, now = sentAt): void {
    const u = this.#use.get(model)?.get(group);
    if (!u) return;
    this.#prune(u, now);
    const at = u.times.lastIndexOf(sentAt);
    if (at >= 0) {
      u.times.splice(at, 1);
      u.tokenSum -= u.tokens.splice(at, 1)[0] ?? tokens;
    }
    // Only a send of the day still being counted comes off the day's count.
    if (nextPacificMidnight(sentAt) === u.dayEnd && u.dayCount > 0) u.dayCount--;
  }

  /** Counts requests another process sent now (a shared store reported them). */
  recordRemote(group: string, model: string, now: number, requests: number, tokens: number): void {
    for (let i = 0; i < requests; i++) this.record(group, model, now, i === 0 ? tokens : 0);
  }

  /** Restores today's count (e.g. from the store after a restart). */
  seedDay(group: string, model: string, now: number, requestsToday: number): void {
    const u = this.#get(group, model, now);
    u.dayCount = Math.max(u.dayCount, requestsToday);
  }

  /**
   * Adopts a limit Gemini told us in a 429 (QuotaFailure quotaValue). Returns true when it
   * changed what is enforced, so the caller logs it once.
   */
  learn(group: string, model: string, scope: 'minute' | 'day', unit: 'requests' | 'tokens', value: number, now: number): boolean {
    if (!(Number.isFinite(value) && value >= 1)) return false;
    const u = this.#get(group, model, now);
    const field: keyof QuotaLimits = unit === 'tokens' ? 'tpm' : scope === 'day' ? 'rpd' : 'rpm';
    if (unit === 'tokens' && scope === 'day') return false;
    if (u.learned[field] === value) return false;
    u.learned[field] = Math.floor(value);
    u.limits = { ...this.#configured(model), ...u.learned };
    this.#learnedAny = true;
    if (field === 'rpd') u.dayCount = Math.max(u.dayCount, Math.floor(value));
    return true;
  }
}

/** Estimated input tokens of a request: about four characters a token. */
export function estimateTokens(chars: number): number {
  return Math.ceil(chars / 4);
}
