/**
 * Telling a key's own overload from the model's. A 503 (model overloaded) usually means the
 * model is overloaded for everyone, and a timeout that Gemini is slow: neither is the key's
 * fault, so neither cools it. But when one key gets 503s (or times out) while other keys of
 * the same model answer at the same moment, the trouble is that key's: the policy then
 * counts it against the key and, after a few in a row, skips the key for a while (a soft
 * cooldown, see `policy.ts`).
 *
 * When every key of a model is overloaded, sending again at once only earns more 503s: the
 * model waits, once, for every request together ({@link ModelOverloads}), and the wait
 * doubles while the overload lasts.
 */
import type { ResolvedOptions } from './options.ts';
import { jittered, type Overload } from './policy.ts';
import type { PoolCounters } from './stats.ts';
import type { PoolError } from './types.ts';

/**
 * Whose fault a 503 or a timeout of key `index` for `model` at `now` is, from the latest
 * outcome of every other key for that model (see `Counters.latest`): `local` when another
 * key's latest attempt answered within `windowMs`; `global` when none did and at least one
 * other key's latest attempt was a 503 or a timeout within `windowMs` too (with a single
 * key, its own failure is all there is to go on); `unknown` otherwise (nothing recent: the
 * pool just started, or the other keys had other failures). Reads the counters; changes
 * nothing. Called on failures only: it looks at every key.
 */
export function judgeOverload(counters: PoolCounters, keyCount: number, index: number, model: string, now: number, windowMs: number): Overload {
  const since = now - windowMs;
  let othersBusy = 0;
  for (let i = 0; i < keyCount; i++) {
    if (i === index) continue;
    const c = counters.peek(i, model);
    if (c === undefined || c.latestAt < since) continue;
    if (c.latest === 'ok') return 'local';
    if (c.latest === 'busy') othersBusy++;
  }
  return othersBusy > 0 || keyCount === 1 ? 'global' : 'unknown';
}

/** The model-wide wait of one model. */
interface ModelWait {
  /** Requests for the model send nothing before this time. */
  until: number;
  /** Waits since the model last answered: the next lasts `2 ** waits` times the first. */
  waits: number;
}

/**
 * The wait of each model overloaded on every key: the first request that finds every key
 * overloaded sets a model-wide time, and every request for the model (new ones too) waits
 * for that same moment; no request adds a wait of its own. Each wait lasts twice the one
 * before (`overloadedBackoffMs`, jittered, capped at `maxCooldownMs`) until the model
 * answers again.
 */
export class ModelOverloads {
  readonly #waits = new Map<string, ModelWait>();

  constructor(private readonly options: Pick<ResolvedOptions, 'overloadedBackoffMs' | 'maxCooldownMs'>) {}

  /** A key answered `model`: the overload is over, for new requests at once. */
  answered(model: string): void {
    if (this.#waits.size > 0) this.#waits.delete(model);
  }

  /**
   * Every key of `model` is overloaded at `now`: starts the model's wait, or joins the one
   * under way. Returns when it ends, and whether this call started it.
   */
  overloaded(model: string, now: number, random: () => number): { until: number; started: boolean } {
    let w = this.#waits.get(model);
    if (w === undefined) this.#waits.set(model, (w = { until: 0, waits: 0 }));
    if (w.until > now) return { until: w.until, started: false };
    const ms = Math.min(jittered(this.options.overloadedBackoffMs * 2 ** w.waits, random), this.options.maxCooldownMs);
    w.waits++;
    w.until = now + ms;
    return { until: w.until, started: true };
  }

  /** How long a request for `model` must still wait at `now` (0 when it need not). */
  waitMs(model: string, now: number): number {
    const w = this.#waits.get(model);
    return w !== undefined && w.until > now ? w.until - now : 0;
  }

  /** What a request is told when its deadline comes before the model's wait ends. */
  failure(model: string, now: number): PoolError {
    const retryAfterMs = this.waitMs(model, now);
    return { kind: 'overloaded', message: 'Gemini is overloaded on every key; try again shortly', ...(retryAfterMs > 0 ? { retryAfterMs } : {}) };
  }
}
