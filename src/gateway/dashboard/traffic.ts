/**
 * The overview's traffic: requests a minute over the last hour and answers by kind, from
 * two sources. The gateway's request log (in the store: every process's gateway requests)
 * is read once for the hour, then only its last few minutes at each refresh, and at most
 * once per `refreshMs` whoever is watching. The pool's request counter (this process: the
 * bot's requests too) is sampled every few seconds while the dashboard runs.
 */
import type { GatewayStore, RequestLogRow } from '../../store/gatewayTypes.ts';

const MINUTE_MS = 60_000;
const HOUR_MINUTES = 60;
/** Minutes read again at each refresh: rows arrive up to a flush interval late. */
const REREAD_MINUTES = 2;
/** Most rows read for the first hour (a lower bound beyond it). */
const FIRST_READ_ROWS = 100_000;
const REREAD_ROWS = 20_000;

/** What the overview shows of the traffic. */
export interface TrafficSnapshot {
  /** Start of each minute, in seconds (uPlot's time axis), oldest first: 60 of them. */
  t: number[];
  /** Gateway requests a minute (the request log, all processes). */
  gateway: number[];
  /** Requests the pool of this process took a minute (null before it was watched). */
  pool: Array<number | null>;
  /** Answers of the last hour by kind (`ok`, or the error kind), most first. */
  kinds: Array<[string, number]>;
  /** Gateway requests in the current minute (so far) and in the hour. */
  thisMinute: number;
  lastHour: number;
}

/** The kind of an answer in the log: `ok`, the pool's error kind, or the status. */
export function answerKind(row: Pick<RequestLogRow, 'status' | 'kind'>): string {
  if (row.status < 400) return 'ok';
  return row.kind ?? `http_${row.status}`;
}

interface Bucket {
  total: number;
  kinds: Map<string, number>;
}

export class Traffic {
  /** Minute start (ms) -> gateway requests of that minute. */
  readonly #buckets = new Map<number, Bucket>();
  /** Minute start (ms) -> the pool's request total first seen in that minute. */
  readonly #poolSamples = new Map<number, number>();
  #loadedAt = Number.NEGATIVE_INFINITY;
  #loading: Promise<void> | undefined;
  #firstDone = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Pick<GatewayStore, 'queryRequestLog'>,
    private readonly poolTotal: () => number,
    private readonly now: () => number,
    private readonly refreshMs = 2_000,
  ) {}

  /** Samples the pool's counter every `sampleMs` (the timer does not keep the process alive). */
  start(sampleMs = 5_000): void {
    this.sample();
    this.#timer ??= setInterval(() => this.sample(), sampleMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Takes one sample of the pool's request total. */
  sample(): void {
    const minute = Math.floor(this.now() / MINUTE_MS) * MINUTE_MS;
    if (!this.#poolSamples.has(minute)) this.#poolSamples.set(minute, this.poolTotal());
    for (const m of this.#poolSamples.keys()) if (m < minute - HOUR_MINUTES * MINUTE_MS) this.#poolSamples.delete(m);
  }

  async #refresh(): Promise<void> {
    const now = this.now();
    const minute = Math.floor(now / MINUTE_MS) * MINUTE_MS;
    const since = this.#firstDone ? minute - REREAD_MINUTES * MINUTE_MS : minute - (HOUR_MINUTES - 1) * MINUTE_MS;
    const rows = await this.store.queryRequestLog({ since, limit: this.#firstDone ? REREAD_ROWS : FIRST_READ_ROWS });
    for (const m of [...this.#buckets.keys()]) if (m >= since || m < minute - (HOUR_MINUTES - 1) * MINUTE_MS) this.#buckets.delete(m);
    for (const r of rows) {
      const m = Math.floor(r.at / MINUTE_MS) * MINUTE_MS;
      if (m < since) continue;
      let b = this.#buckets.get(m);
      if (!b) this.#buckets.set(m, (b = { total: 0, kinds: new Map() }));
      b.total++;
      const kind = answerKind(r);
      b.kinds.set(kind, (b.kinds.get(kind) ?? 0) + 1);
    }
    this.#firstDone = true;
    this.#loadedAt = now;
  }

  /** The traffic now, reading the log again when the last reading is older than `refreshMs`. */
  async snapshot(): Promise<TrafficSnapshot> {
    if (this.now() - this.#loadedAt >= this.refreshMs) {
      this.#loading ??= this.#refresh().finally(() => (this.#loading = undefined));
      await this.#loading;
    }
    this.sample();
    const now = this.now();
    const current = Math.floor(now / MINUTE_MS) * MINUTE_MS;
    const t: number[] = [];
    const gateway: number[] = [];
    const pool: Array<number | null> = [];
    const kinds = new Map<string, number>();
    let lastHour = 0;
    for (let i = HOUR_MINUTES - 1; i >= 0; i--) {
      const m = current - i * MINUTE_MS;
      const b = this.#buckets.get(m);
      t.push(m / 1000);
      gateway.push(b?.total ?? 0);
      lastHour += b?.total ?? 0;
      for (const [k, n] of b?.kinds ?? []) kinds.set(k, (kinds.get(k) ?? 0) + n);
      const first = this.#poolSamples.get(m);
      const next = i === 0 ? this.poolTotal() : this.#poolSamples.get(m + MINUTE_MS);
      // A reset of the statistics makes the counter go back: never a negative minute.
      pool.push(first === undefined || next === undefined ? null : Math.max(0, next - first));
    }
    return {
      t,
      gateway,
      pool,
      kinds: [...kinds].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])),
      thisMinute: gateway[gateway.length - 1] ?? 0,
      lastHour,
    };
  }
}
