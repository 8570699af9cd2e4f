/**
 * What the pool counts: attempts, errors, latency and today's requests and tokens per key and
 * model, the rotation window per key, and the pool's request totals; and the reports built
 * from them (`getKeyStats`). Words: an *attempt* is one try with one key (shown as `usage`
 * in the public stats); a *request* is what a caller asked, over all its attempts; *tokens*
 * are Gemini's token counts.
 */
import type { CounterRow } from '../store/types.ts';
import { isSoft, type Cooling } from './cooldown.ts';
import type { KeyStates } from './keyStates.ts';
import type { PoolKey } from './keys.ts';
import { pacificDay } from './time.ts';
import type { KeyModelStats, KeyStats, KeyStatsReport, SoftCooldown } from './types.ts';

/** How a soft cooldown is shown: `overloaded` after 503s, `slow` after timeouts. */
const softLabel = (c: Cooling): SoftCooldown => (c.kind === 'timeout' ? 'slow' : 'overloaded');

/** A key's state in words: `active`, `cooling`, `cooling (overloaded)`, `cooling (slow)`, `disabled`. */
export function stateLabel(k: Pick<KeyStats, 'state' | 'softCooldown'>): string {
  return k.state === 'cooling' && k.softCooldown ? `cooling (${k.softCooldown})` : k.state;
}

/** Counters of one key for one model. */
export interface Counters {
  attempts: number;
  completed: number;
  errors: number;
  totalLatencyMs: number;
  /** Server errors in a row (the policy's streak). */
  consecutiveFailures: number;
  /**
   * The latest outcome of an attempt on the key for the model (an answer, a 503 or timeout,
   * another failure) and when it came: whether other keys answer right now tells a key's
   * own overload from the model's.
   */
  latest: 'ok' | 'busy' | 'failed' | undefined;
  latestAt: number;
  /** 503s and timeouts in a row that were the key's own (other keys answered meanwhile), since its last answer. */
  localBusy: number;
  /** Soft cooldowns since the key's last answer: each lasts twice the one before. */
  softCooldowns: number;
  /** Decaying counts behind the health score: halved at every rotation, so a blip fades
   * and a key back from a long cooldown does not take every request to catch up. */
  scoreAttempts: number;
  scoreCompleted: number;
  scoreErrors: number;
  /** The Pacific day `requestsToday` and `tokensToday` belong to. */
  day: string;
  requestsToday: number;
  tokensToday: number;
}

/**
 * Error rate for the health score, with one imaginary success added: a single failure is
 * weak evidence, so one blip halves a key's score instead of shutting it out for good.
 */
export const smoothedErrorRate = (c: Counters): number => c.scoreErrors / (c.scoreCompleted + 1);

/** Counters per key (by index) and model, the rotation window, and the request totals. */
export class PoolCounters {
  readonly #perKey: Map<string, Counters>[];
  /** Attempts and errors per key in the current rotation window. */
  #window: { requests: number; errors: number }[] = [];
  totalRequests = 0;
  failedRequests = 0;

  constructor(private keyCount: number) {
    this.#perKey = Array.from({ length: keyCount }, () => new Map());
    this.resetWindow();
  }

  /** Room for one more key (the next index), added while the pool runs. */
  addKey(): void {
    this.keyCount++;
    this.#perKey.push(new Map());
    this.#window.push({ requests: 0, errors: 0 });
  }

  /** The counters of a key and model, created on first use. */
  of(index: number, model: string): Counters {
    const perModel = this.#perKey[index]!;
    let c = perModel.get(model);
    if (!c) {
      c = { attempts: 0, completed: 0, errors: 0, totalLatencyMs: 0, consecutiveFailures: 0, latest: undefined, latestAt: 0, localBusy: 0, softCooldowns: 0, scoreAttempts: 0, scoreCompleted: 0, scoreErrors: 0, day: '', requestsToday: 0, tokensToday: 0 };
      perModel.set(model, c);
    }
    return c;
  }

  /** The counters of a key and model, if it has any yet. Allocates nothing. */
  peek(index: number, model: string): Counters | undefined {
    return this.#perKey[index]!.get(model);
  }

  window(index: number): { requests: number; errors: number } {
    return this.#window[index]!;
  }

  resetWindow(): void {
    this.#window = Array.from({ length: this.keyCount }, () => ({ requests: 0, errors: 0 }));
  }

  /** Ends the server-error and overload streaks of these keys for these models (after a reset or a cleared cooldown). */
  resetStreaks(indexes: readonly number[], models: readonly string[]): void {
    for (const i of indexes) {
      for (const m of models) {
        const c = this.peek(i, m);
        if (c) (c.consecutiveFailures = 0), (c.localBusy = 0), (c.softCooldowns = 0);
      }
    }
  }

  /** Halves the health-score counts (at every rotation). */
  decay(): void {
    for (const perModel of this.#perKey) {
      for (const c of perModel.values()) {
        c.scoreAttempts /= 2;
        c.scoreCompleted /= 2;
        c.scoreErrors /= 2;
      }
    }
  }

  /** Clears attempts, errors, latency and the totals; today's counts stay (they mirror Google's quota). */
  reset(): void {
    for (const perModel of this.#perKey) {
      for (const c of perModel.values()) {
        c.attempts = 0;
        c.completed = 0;
        c.errors = 0;
        c.totalLatencyMs = 0;
        c.scoreAttempts = 0;
        c.scoreCompleted = 0;
        c.scoreErrors = 0;
      }
    }
    this.totalRequests = 0;
    this.failedRequests = 0;
    this.resetWindow();
  }

  /** An attempt goes out on this key and model: returns its counters. */
  attemptStarted(index: number, model: string): Counters {
    const c = this.of(index, model);
    c.attempts++;
    c.scoreAttempts++;
    this.#window[index]!.requests++;
    return c;
  }

  /**
   * An attempt came back after `started`: its latency, and today's counts when it reached
   * Gemini (a request at `started`; an answer's tokens at `now`). Success ends the
   * server-error and overload streaks.
   */
  attemptEnded(c: Counters, started: number, now: number, reached: boolean, ok: boolean, tokens: number): void {
    c.completed++;
    c.scoreCompleted++;
    c.totalLatencyMs += now - started;
    if (reached) this.countToday(c, started, 1, 0);
    if (!ok) return;
    c.consecutiveFailures = 0;
    c.latest = 'ok';
    c.latestAt = now;
    c.localBusy = 0;
    c.softCooldowns = 0;
    this.countToday(c, now, 0, tokens);
  }

  /** A failure that counts against the key (see the policy's `penalize`). */
  penalize(c: Counters, index: number): void {
    c.errors++;
    c.scoreErrors++;
    this.#window[index]!.errors++;
  }

  /** Adds to today's counts (Pacific day of `now`), starting a new day when it changed. */
  countToday(c: Counters, now: number, requests: number, tokens: number): void {
    const day = pacificDay(now);
    if (c.day !== day) {
      c.day = day;
      c.requestsToday = 0;
      c.tokensToday = 0;
    }
    c.requestsToday += requests;
    c.tokensToday += tokens;
  }

  /**
   * Takes counts a store kept (at load, or after the store came back): the larger of each,
   * since the live counts may already be ahead. Today's load also seeds the health score, so
   * a restarted process keeps spreading requests instead of starting over at key#1.
   */
  merge(index: number, row: CounterRow, today: string): void {
    const c = this.of(index, row.model);
    c.attempts = Math.max(c.attempts, row.usage);
    c.completed = Math.max(c.completed, row.usage);
    c.errors = Math.max(c.errors, row.errors);
    c.totalLatencyMs = Math.max(c.totalLatencyMs, row.latencyMs);
    if (row.day !== today) return;
    if (c.day !== today) Object.assign(c, { day: today, requestsToday: 0, tokensToday: 0 });
    c.requestsToday = Math.max(c.requestsToday, row.requestsToday);
    c.tokensToday = Math.max(c.tokensToday, row.tokensToday);
    c.scoreAttempts = Math.max(c.scoreAttempts, row.requestsToday);
    c.scoreCompleted = Math.max(c.scoreCompleted, row.requestsToday);
  }

  /** The per-key report of `getKeyStats`. */
  keyReport(keys: readonly PoolKey[], models: readonly string[], states: KeyStates, now: number): KeyStatsReport {
    const today = pacificDay(now);
    const report: KeyStats[] = [];
    const totals: KeyStatsReport['totals'] = {
      keys: keys.length,
      active: 0,
      cooling: 0,
      disabled: 0,
      totalRequests: this.totalRequests,
      failedRequests: this.failedRequests,
      usage: 0,
      errors: 0,
      requestsToday: 0,
      tokensToday: 0,
    };
    for (const k of keys) {
      const perModel: Record<string, KeyModelStats> = {};
      let attempts = 0;
      let errors = 0;
      let completed = 0;
      let latencyMs = 0;
      let requestsToday = 0;
      let tokensToday = 0;
      let cooldownRemainingMs = 0;
      let anyCooling = false;
      let anyHardCooling = false;
      let soft: { label: SoftCooldown; remaining: number } | undefined;
      for (const model of models) {
        const c = this.peek(k.index, model);
        const st = states.state(k.index, model, now);
        const countedToday = c && c.day === today ? c : undefined;
        const remaining = st.status === 'cooling' ? Math.max(0, st.until - now) : 0;
        const label = st.status === 'cooling' && isSoft(st) ? softLabel(st) : undefined;
        if (st.status === 'cooling') anyCooling = true;
        if (st.status === 'cooling' && !label) anyHardCooling = true;
        if (label && (!soft || remaining > soft.remaining)) soft = { label, remaining };
        cooldownRemainingMs = Math.max(cooldownRemainingMs, remaining);
        const m: KeyModelStats = {
          state: st.status,
          cooldownRemainingMs: remaining,
          usage: c?.attempts ?? 0,
          errors: c?.errors ?? 0,
          requestsToday: countedToday?.requestsToday ?? 0,
          tokensToday: countedToday?.tokensToday ?? 0,
        };
        if (st.status !== 'active') m.reason = st.reason;
        if (label) m.softCooldown = label;
        perModel[model] = m;
        attempts += m.usage;
        errors += m.errors;
        completed += c?.completed ?? 0;
        latencyMs += c?.totalLatencyMs ?? 0;
        requestsToday += m.requestsToday;
        tokensToday += m.tokensToday;
      }
      const disabled = states.disabled(k.index);
      const state = disabled ? 'disabled' : anyCooling ? 'cooling' : 'active';
      const s: KeyStats = {
        id: k.id,
        hint: k.hint,
        group: k.groupLabel,
        state,
        cooldownRemainingMs,
        usage: attempts,
        errors,
        errorRate: completed > 0 ? errors / completed : 0,
        avgTimeMs: completed > 0 ? Math.round(latencyMs / completed) : 0,
        requestsToday,
        tokensToday,
        models: perModel,
      };
      if (disabled) s.disabledReason = disabled.reason;
      else if (soft && !anyHardCooling) s.softCooldown = soft.label;
      if (disabled?.manual) s.disabledByOperator = true;
      if (k.source === 'added') s.added = true;
      report.push(s);
      totals[state]++;
      totals.usage += attempts;
      totals.errors += errors;
      totals.requestsToday += requestsToday;
      totals.tokensToday += tokensToday;
    }
    return { keys: report, totals };
  }
}

/** Requests of one project (quota group) and model today, against its known limits. */
export interface QuotaUsage {
  /** The project's name, or the key's `key#N` for a key that is its own project. */
  group: string;
  /** The keys in use of that project. */
  keyIds: string[];
  model: string;
  /** Requests that reached Gemini today (Pacific day), as this process counts them. */
  requestsToday: number;
  /** Limits configured or learned from Gemini's 429s; absent: unknown. */
  limits: { rpm?: number; rpd?: number; tpm?: number };
}

/**
 * Today's requests per project and model, with the limits in force (`limitsFor`): what a
 * quota view shows. Keys of one project share one quota, so their counts add up.
 */
export function quotaReport(
  counters: PoolCounters,
  keys: readonly PoolKey[],
  models: readonly string[],
  limitsFor: (group: string, model: string) => QuotaUsage['limits'],
  now: number,
): QuotaUsage[] {
  const today = pacificDay(now);
  const groups = new Map<string, PoolKey[]>();
  for (const k of keys) {
    const list = groups.get(k.group);
    if (list) list.push(k);
    else groups.set(k.group, [k]);
  }
  const out: QuotaUsage[] = [];
  for (const [group, members] of groups) {
    const label = members[0]!.groupLabel === 'own' ? members[0]!.id : members[0]!.groupLabel;
    for (const model of models) {
      let requestsToday = 0;
      for (const k of members) {
        const c = counters.peek(k.index, model);
        if (c && c.day === today) requestsToday += c.requestsToday;
      }
      out.push({ group: label, keyIds: members.map((k) => k.id), model, requestsToday, limits: { ...limitsFor(group, model) } });
    }
  }
  return out;
}
