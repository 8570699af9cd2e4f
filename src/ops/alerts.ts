/**
 * Alerts to an operators' channel: a key disabled, every key unavailable, service
 * recovered. Keys appear as `key#N` only. Rate-limited so a storm makes one message, not
 * hundreds: the first event goes out at once, later ones within `minIntervalMs` are
 * summarized in ONE message when the interval has passed.
 */
import type { ErrorKind, PoolEvents } from '../pool/types.ts';
import { truncate } from '../text.ts';

/** An event worth telling operators about. */
export type AlertEvent =
  | { type: 'keyDisabled'; keyIds: string[]; kind: ErrorKind; reason: string }
  | {
      type: 'allKeysUnavailable';
      model: string;
      kind: ErrorKind;
      retryAfterMs?: number;
      /** Every key refused with the same auth answer within `withinMs`: suspect the path, not the keys. */
      sameFailure?: { withinMs: number; reason: string };
    }
  | { type: 'serviceRecovered'; model: string };

/** Pool events as alert events. */
export const fromPool = {
  keyDisabled: (e: PoolEvents['keyDisabled']): AlertEvent => ({
    type: 'keyDisabled',
    keyIds: e.keyIds.length > 0 ? e.keyIds : [e.keyId],
    kind: e.kind,
    reason: e.reason,
  }),
  allKeysUnavailable: (e: PoolEvents['allKeysUnavailable']): AlertEvent => {
    const a: AlertEvent = { type: 'allKeysUnavailable', model: e.model, kind: e.kind };
    if (e.retryAfterMs !== undefined) a.retryAfterMs = e.retryAfterMs;
    if (e.sameFailure) a.sameFailure = { ...e.sameFailure };
    return a;
  },
  serviceRecovered: (e: PoolEvents['serviceRecovered']): AlertEvent => ({ type: 'serviceRecovered', model: e.model }),
};

const MAX_ALERT_CHARS = 1900;

const oneLine = (s: string, max: number): string => truncate(s.replace(/\s+/g, ' ').trim(), max);

const listIds = (ids: readonly string[], max = 12): string =>
  ids.length <= max ? ids.join(', ') : `${ids.slice(0, max).join(', ')} and ${ids.length - max} more`;

/** Why no key can serve, in words: the kind alone ("rate_limited") misleads when it is Gemini's servers failing. */
const UNAVAILABLE_WHY: { readonly [K in ErrorKind]: string } = {
  rate_limited: 'every key is rate-limited',
  quota_exhausted: "today's quota is used up on every key",
  auth: 'every key is disabled (invalid or suspended)',
  billing: "every key's project has a billing problem",
  overloaded: 'Gemini is overloaded',
  transient: 'Gemini is failing with server errors',
  timeout: 'Gemini is not answering in time',
  bad_request: 'Gemini refuses the requests',
  blocked: 'Gemini blocks the requests',
};

/** The hint when every key was refused at once: the path, not the keys. */
function pathHint(f: { withinMs: number; reason: string }): string {
  const s = Math.max(1, Math.ceil(f.withinMs / 1000));
  return `Every key was refused within ${s} s with the same answer (${oneLine(f.reason, 120)}): check GEMINI_BASE_URL or the proxy; Google revoking every key at once is unlikely.`;
}

/** The message for one event. */
export function alertText(e: AlertEvent): string {
  switch (e.type) {
    case 'keyDisabled':
      return `🔴 ${listIds(e.keyIds)} disabled (${e.kind}: ${oneLine(e.reason, 160)}). It is re-checked periodically; check it with \`/api-key-stats\`.`;
    case 'allKeysUnavailable': {
      const wait = e.retryAfterMs !== undefined ? `; the first should be back in ~${Math.max(1, Math.ceil(e.retryAfterMs / 1000))} s` : '';
      const hint = e.sameFailure ? ` ${pathHint(e.sameFailure)}` : '';
      return `⚠️ Every key is unavailable for \`${e.model}\`: ${UNAVAILABLE_WHY[e.kind] ?? e.kind} (${e.kind})${wait}.${hint} Users are told to try again later.`;
    }
    case 'serviceRecovered':
      return `✅ Service recovered for \`${e.model}\`: keys are answering again.`;
  }
}

/** One message for several events: counts by type, key ids, models. */
export function summaryText(events: readonly AlertEvent[], windowMs: number): string {
  if (events.length === 1) return alertText(events[0]!);
  const disabled = events.filter((e): e is Extract<AlertEvent, { type: 'keyDisabled' }> => e.type === 'keyDisabled');
  const unavailable = events.filter((e): e is Extract<AlertEvent, { type: 'allKeysUnavailable' }> => e.type === 'allKeysUnavailable');
  const recovered = events.filter((e): e is Extract<AlertEvent, { type: 'serviceRecovered' }> => e.type === 'serviceRecovered');
  const lines = [`🔔 ${events.length} alerts in the last ~${Math.max(1, Math.round(windowMs / 1000))} s:`];
  if (disabled.length > 0) {
    const ids = [...new Set(disabled.flatMap((e) => e.keyIds))];
    const kinds = [...new Set(disabled.map((e) => e.kind))].join(', ');
    lines.push(`• 🔴 ${ids.length} key${ids.length === 1 ? '' : 's'} disabled (${kinds}): ${listIds(ids, 30)}`);
  }
  const byModel = (list: ReadonlyArray<{ model: string }>): string =>
    [...new Set(list.map((e) => e.model))].map((m) => `\`${m}\` ×${list.filter((e) => e.model === m).length}`).join(', ');
  if (unavailable.length > 0) {
    const why = [...new Set(unavailable.map((e) => UNAVAILABLE_WHY[e.kind] ?? e.kind))].join('; ');
    lines.push(`• ⚠️ every key unavailable: ${byModel(unavailable)} (${why})`);
    const suspect = unavailable.find((e) => e.sameFailure)?.sameFailure;
    if (suspect) lines.push(`• 🧭 ${pathHint(suspect)}`);
  }
  if (recovered.length > 0) lines.push(`• ✅ service recovered: ${byModel(recovered)}`);
  const last = events[events.length - 1]!;
  lines.push(`Latest: ${alertText(last)}`);
  const text = lines.join('\n');
  return truncate(text, MAX_ALERT_CHARS);
}

/** Timers, injectable for tests. */
export interface AlertTimers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: AlertTimers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Options of {@link AlertThrottle}. */
export interface AlertThrottleOptions {
  /** At most one message per this many ms. @default 60_000 */
  minIntervalMs?: number;
  /** Posts one message; failures are reported to `onError`, never thrown. */
  send(text: string): Promise<void>;
  onError?(err: unknown): void;
  timers?: AlertTimers;
}

/** Posts alerts at most once per `minIntervalMs`, summarizing what came in between. */
export class AlertThrottle {
  readonly #minIntervalMs: number;
  readonly #send: (text: string) => Promise<void>;
  readonly #onError: (err: unknown) => void;
  readonly #timers: AlertTimers;
  #lastSentAt = Number.NEGATIVE_INFINITY;
  #pending: AlertEvent[] = [];
  #timer: unknown;
  #closed = false;
  /** Sends in progress, so `flush` can wait for them. */
  readonly #sending = new Set<Promise<void>>();

  constructor(options: AlertThrottleOptions) {
    const minIntervalMs = options.minIntervalMs ?? 60_000;
    if (!Number.isFinite(minIntervalMs) || minIntervalMs < 0) {
      throw new TypeError(`AlertThrottle: \`minIntervalMs\` must be a number >= 0 (got ${minIntervalMs})`);
    }
    this.#minIntervalMs = minIntervalMs;
    this.#send = options.send;
    this.#onError = options.onError ?? (() => undefined);
    this.#timers = options.timers ?? realTimers;
  }

  /** Events waiting for the next summary. */
  get pending(): number {
    return this.#pending.length;
  }

  push(event: AlertEvent): void {
    if (this.#closed) return;
    const now = this.#timers.now();
    if (this.#timer === undefined && now - this.#lastSentAt >= this.#minIntervalMs) {
      this.#lastSentAt = now;
      this.#post(alertText(event));
      return;
    }
    this.#pending.push(event);
    if (this.#timer === undefined) {
      const dueInMs = Math.max(0, this.#lastSentAt + this.#minIntervalMs - now);
      this.#timer = this.#timers.setTimeout(() => {
        this.#timer = undefined;
        // A timer callback that throws would take the process down: report instead.
        try {
          this.#sendPending();
        } catch (err) {
          this.#report(err);
        }
      }, dueInMs);
    }
  }

  /** Sends what is pending now (at shutdown) and waits for sends in progress. */
  async flush(): Promise<void> {
    if (this.#timer !== undefined) {
      this.#timers.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#sendPending();
    await Promise.all([...this.#sending]);
  }

  /** Stops: pending events are dropped, nothing more is sent. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending = [];
  }

  #sendPending(): void {
    if (this.#pending.length === 0) return;
    const events = this.#pending;
    this.#pending = [];
    const now = this.#timers.now();
    const windowMs = Math.max(this.#minIntervalMs, now - this.#lastSentAt);
    this.#lastSentAt = now;
    this.#post(summaryText(events, Number.isFinite(windowMs) ? windowMs : this.#minIntervalMs));
  }

  #post(text: string): void {
    let sent: Promise<void>;
    try {
      // A send that throws at once, or returns no promise, is a failure like any other.
      sent = Promise.resolve(this.#send(text));
    } catch (err) {
      sent = Promise.reject(err);
    }
    const p = sent.catch((err: unknown) => this.#report(err));
    this.#sending.add(p);
    void p.finally(() => this.#sending.delete(p));
  }

  /** Hands a failure to `onError`; an `onError` that throws is ignored, never a crash. */
  #report(err: unknown): void {
    try {
      this.#onError(err);
    } catch {
      // Nothing left to tell: the alert channel and its error handler both failed.
    }
  }
}
