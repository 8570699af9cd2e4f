/**
 * The gateway's request log on its way to the store: rows are batched (written every
 * `flushIntervalMs` and on close), kept without prompt or answer text unless `bodies` is
 * on, and pruned by age and row count at start and every `pruneIntervalMs`. While the
 * store cannot take them, rows wait in a bounded buffer; past it the oldest are dropped
 * and counted in a warning, so an outage costs log rows, never memory or requests.
 */
import type { Logger } from 'pino';
import { isStoreRejectedError } from '../store/errors.ts';
import type { GatewayStore, RequestLogRow } from '../store/gatewayTypes.ts';
import { assertLogRows } from '../store/gatewayValidate.ts';

const DAY_MS = 86_400_000;
/** Rows handed to the store in one call. */
const WRITE_BATCH = 1_000;

/** Options of {@link RequestLog}: the configuration's `gateway.requestLog`, plus timings. */
export interface RequestLogOptions {
  /** Rows older than this many days are deleted. */
  retentionDays: number;
  /** At most this many rows are kept, the newest. */
  maxRows: number;
  /** Keep prompt and answer text (`requestBody`, `responseBody`). */
  bodies: boolean;
  /**
   * How often buffered rows are written.
   * @default 1000
   */
  flushIntervalMs?: number;
  /**
   * How often old rows are pruned (also once at `start`).
   * @default 3600000 (1 h)
   */
  pruneIntervalMs?: number;
  /**
   * Rows kept in memory while the store cannot take them; past it the oldest are dropped.
   * @default 10000
   */
  maxBuffered?: number;
  /**
   * With `bodies`, longer texts are cut to this many characters.
   * @default 32768
   */
  maxBodyChars?: number;
  /**
   * The clock of the pruning.
   * @default Date.now
   */
  now?: () => number;
  logger?: Logger;
}

/** Batches, strips and prunes the request log: see the top of this file. */
export class RequestLog {
  private readonly flushIntervalMs: number;
  private readonly pruneIntervalMs: number;
  private readonly maxBuffered: number;
  private readonly maxBodyChars: number;
  private readonly now: () => number;
  private buffer: RequestLogRow[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private droppedTotal = 0;
  private droppedUnreported = 0;
  private storeDown = false;
  private closed = false;

  constructor(
    private readonly store: GatewayStore,
    private readonly options: RequestLogOptions,
  ) {
    this.flushIntervalMs = options.flushIntervalMs ?? 1_000;
    this.pruneIntervalMs = options.pruneIntervalMs ?? 3_600_000;
    this.maxBuffered = options.maxBuffered ?? 10_000;
    this.maxBodyChars = options.maxBodyChars ?? 32_768;
    this.now = options.now ?? Date.now;
    const checks: Array<[string, number, number]> = [
      ['retentionDays', options.retentionDays, 1],
      ['maxRows', options.maxRows, 1],
      ['flushIntervalMs', this.flushIntervalMs, 1],
      ['pruneIntervalMs', this.pruneIntervalMs, 1],
      ['maxBuffered', this.maxBuffered, 1],
      ['maxBodyChars', this.maxBodyChars, 0],
    ];
    for (const [name, v, min] of checks) {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new TypeError(`RequestLog: \`${name}\` must be an integer >= ${min} (got ${String(v)})`);
    }
  }

  /** Rows dropped so far: buffer full while the store was away, refused, or after close. */
  get dropped(): number {
    return this.droppedTotal;
  }

  /** Rows waiting to be written. */
  get buffered(): number {
    return this.buffer.length;
  }

  /** Prunes once (a failure is logged, not thrown) and starts the hourly prune. */
  async start(): Promise<void> {
    if (this.closed) return;
    this.pruneTimer ??= setInterval(() => void this.prune(), this.pruneIntervalMs);
    this.pruneTimer.unref();
    await this.prune();
  }

  /**
   * Queues one row: bodies stripped unless `bodies` is on, then written within
   * `flushIntervalMs`. Never throws: a row that is not of its shape is dropped with an
   * error line (it would make the store refuse its whole batch).
   */
  append(row: RequestLogRow): void {
    const r: RequestLogRow = { ...row };
    if (this.options.bodies) {
      if (r.requestBody !== undefined) r.requestBody = this.cut(r.requestBody);
      if (r.responseBody !== undefined) r.responseBody = this.cut(r.responseBody);
    } else {
      delete r.requestBody;
      delete r.responseBody;
    }
    try {
      assertLogRows([r]);
    } catch (e) {
      this.drop(1);
      this.options.logger?.error({ err: (e as Error).message }, 'request log row dropped: not of its shape');
      return;
    }
    if (this.closed) {
      this.drop(1);
      return;
    }
    this.buffer.push(r);
    this.trim();
    if (!this.flushTimer) {
      this.flushTimer = setInterval(() => void this.flush(), this.flushIntervalMs);
      this.flushTimer.unref();
    }
  }

  private cut(text: string): string {
    return text.length <= this.maxBodyChars ? text : `${text.slice(0, this.maxBodyChars)}... [${text.length - this.maxBodyChars} more characters]`;
  }

  private drop(n: number): void {
    this.droppedTotal += n;
    this.droppedUnreported += n;
  }

  /** Drops the oldest rows beyond `maxBuffered`. */
  private trim(): void {
    const excess = this.buffer.length - this.maxBuffered;
    if (excess <= 0) return;
    // Several at once when far over, so a long outage costs one splice per flush, not one per row.
    this.buffer.splice(0, excess);
    this.drop(excess);
  }

  /** Writes the buffered rows now. Never rejects: rows the store cannot take wait for the next flush. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.write());
    return this.flushing;
  }

  private async write(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch = this.buffer.splice(0, WRITE_BATCH);
      try {
        await this.store.appendRequestLog(batch, this.options.maxRows);
        if (this.storeDown) {
          this.storeDown = false;
          this.options.logger?.info('request log: the store takes rows again');
        }
      } catch (e) {
        const err = e instanceof Error ? e.message : String(e);
        if (isStoreRejectedError(e)) {
          this.drop(batch.length);
          this.options.logger?.error({ err, rows: batch.length }, 'request log rows refused by the store; dropped');
          continue;
        }
        // Back in front of what came meanwhile, in order; the buffer bound still holds.
        this.buffer.unshift(...batch);
        this.trim();
        if (!this.storeDown) {
          this.storeDown = true;
          this.options.logger?.warn({ err }, 'request log: the store cannot take rows; keeping them in memory');
        }
        break;
      }
    }
    this.reportDropped();
  }

  private reportDropped(): void {
    if (this.droppedUnreported === 0) return;
    this.options.logger?.warn(
      { dropped: this.droppedUnreported, droppedTotal: this.droppedTotal, maxBuffered: this.maxBuffered },
      `request log: ${this.droppedUnreported} rows dropped`,
    );
    this.droppedUnreported = 0;
  }

  /**
   * Deletes rows older than `retentionDays` and the oldest beyond `maxRows`; returns how
   * many went (0 when the store could not be reached, which is logged).
   */
  async prune(): Promise<number> {
    try {
      const n = await this.store.pruneRequestLog(this.now() - this.options.retentionDays * DAY_MS, this.options.maxRows);
      if (n > 0) this.options.logger?.info({ rows: n }, 'request log pruned');
      return n;
    } catch (e) {
      this.options.logger?.warn({ err: e instanceof Error ? e.message : String(e) }, 'request log: prune failed; trying again at the next one');
      return 0;
    }
  }

  /** Stops both timers and writes what is buffered (rows the store cannot take then are dropped and counted). Safe to call twice. */
  async close(): Promise<void> {
    if (this.flushTimer) clearInterval(this.flushTimer);
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.flushTimer = undefined;
    this.pruneTimer = undefined;
    this.closed = true;
    await this.flush();
    if (this.buffer.length > 0) {
      this.drop(this.buffer.length);
      this.buffer = [];
      this.reportDropped();
    }
  }
}
