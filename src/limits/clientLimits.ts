/**
 * Per-client limits (`rpm`, `rpd`, `tpd`), decided in one place for every front door: the
 * gateway's client tokens, and the bot's users and servers (`discord:user:ID`,
 * `discord:guild:ID`). Their usage goes to the store's client usage (per Pacific day and in
 * total), under the client's name.
 *
 * Where the counts come from:
 * - Requests and tokens of the day (Pacific day, Google's quota day): from the store, so
 *   they are shared by every process on it, read at most once per `refreshMs` per client,
 *   plus what this process counted since (written to the store every `flushIntervalMs`).
 *   Another process's requests are seen within about `refreshMs + flushIntervalMs`.
 * - Requests of the last minute: per process (a sliding window of admitted requests). A
 *   client spread over several gateway processes gets `rpm` from each.
 *
 * A request counts from the moment it is admitted (a reservation), so a burst of requests
 * at once cannot all pass a limit that only the first fits under; `record` then counts
 * what it really used. When the store cannot be reached, the last counts read stand and
 * this process keeps counting on its own.
 */
import type { Logger } from 'pino';
import { nextPacificMidnight, pacificDay } from '../pool/time.ts';
import { isStoreRejectedError } from '../store/errors.ts';
import type { ClientUsage, GatewayStore, TokenLimits } from '../store/gatewayTypes.ts';

/** Limits of one client; absent means no limit of that kind. */
export type Limits = TokenLimits;

/** Which limit a refused request is over. */
export type LimitName = 'rpm' | 'rpd' | 'tpd';

/** What {@link ClientLimits.admit} decided. */
export type Admission = { ok: true } | { ok: false; limit: LimitName; retryAfterMs: number };

/** What {@link ClientLimits.admitAll} decided: when refused, also whose limit it is. */
export type JointAdmission = { ok: true } | { ok: false; client: string; limit: LimitName; retryAfterMs: number };

/** The part of the store the limits use: client usage per day and in total. */
export type ClientUsageStore = Pick<GatewayStore, 'addClientUsage' | 'clientUsage'>;

/** The counts a decision needs. */
export interface ClientCounts {
  /** Times (epoch ms) of the requests admitted recently, oldest first. */
  minute: readonly number[];
  /** Requests of the current Pacific day, those admitted and not yet recorded included. */
  dayRequests: number;
  /** Tokens (in + out) of the current Pacific day. */
  dayTokens: number;
}

const MINUTE_MS = 60_000;

/**
 * Whether one more request fits under `limits` at `now`. Pure. When several limits are
 * reached, the one that frees last is named, with how long until it does: `rpm` when the
 * oldest request that must leave the sliding minute has left it, `rpd` and `tpd` at the
 * next midnight in Los Angeles.
 */
export function decideAdmission(counts: ClientCounts, limits: TokenLimits, now: number): Admission {
  let worst: Admission = { ok: true };
  const consider = (limit: 'rpm' | 'rpd' | 'tpd', retryAfterMs: number) => {
    const ms = Math.max(1, Math.ceil(retryAfterMs));
    if (worst.ok || ms > worst.retryAfterMs) worst = { ok: false, limit, retryAfterMs: ms };
  };
  if (limits.tpd !== undefined && counts.dayTokens >= limits.tpd) consider('tpd', nextPacificMidnight(now) - now);
  if (limits.rpd !== undefined && counts.dayRequests >= limits.rpd) consider('rpd', nextPacificMidnight(now) - now);
  if (limits.rpm !== undefined) {
    const recent = counts.minute.filter((t) => t > now - MINUTE_MS && t <= now);
    // The request that must leave the window for one more to fit.
    if (recent.length >= limits.rpm) consider('rpm', recent[recent.length - limits.rpm]! + MINUTE_MS - now);
  }
  return worst;
}

/** Options of {@link ClientLimits}. */
export interface ClientLimitsOptions {
  /**
   * The clock, when `admit` and `record` are not given a time.
   * @default Date.now
   */
  now?: () => number;
  /**
   * How old a client's day counts read from the store may be.
   * @default 1000
   */
  refreshMs?: number;
  /**
   * How often counted usage is written to the store.
   * @default 1000
   */
  flushIntervalMs?: number;
  /**
   * A reservation never recorded (a request that went missing) stops counting after this.
   * @default 600000 (10 min)
   */
  reservationMs?: number;
  /**
   * A read of the day counts that takes longer is not waited for: the decision is made on
   * the counts known (the read still lands for the next one).
   * @default 1000
   */
  readTimeoutMs?: number;
  /** Where the store's failures go, once per outage. */
  logger?: Logger;
}

interface Pair {
  requests: number;
  tokens: number;
}

/** What this process knows of one client. */
interface ClientState {
  /** Pacific day of the day counts below. */
  day: string;
  /** Day counts as last read from the store (zeros before the first read). */
  stored: Pair;
  /** When they were read; -Infinity: never. */
  readAt: number;
  /** Everything this process recorded for `day`. */
  recorded: Pair;
  /** What of `recorded` had been handed to the store when the last read was sent (so the read holds it). */
  sentAtRead: Pair;
  /** What of `recorded` has been handed to the store. */
  sent: Pair;
  /** Times of admitted requests not yet recorded, oldest first. */
  reserved: number[];
  /** Times of admitted requests in the last minute, oldest first. */
  minute: number[];
  refreshing: Promise<void> | undefined;
}

const zero = (): Pair => ({ requests: 0, tokens: 0 });

function assertUsage(usage: ClientUsage): void {
  for (const f of ['requests', 'tokens', 'errors'] as const) {
    const v = usage?.[f];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new TypeError(`ClientLimits.record: ${f} must be a whole number >= 0 (got ${String(v)})`);
  }
}

/** Per-client limits and usage over the store's client usage: see the top of this file. */
export class ClientLimits {
  private readonly now: () => number;
  private readonly refreshMs: number;
  private readonly flushIntervalMs: number;
  private readonly reservationMs: number;
  private readonly readTimeoutMs: number;
  private readonly clients = new Map<string, ClientState>();
  /** `client \0 day` -> usage not yet written. */
  private readonly pending = new Map<string, { client: string; day: string; usage: ClientUsage }>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private storeDown = false;
  private closed = false;

  constructor(
    private readonly store: ClientUsageStore,
    private readonly options: ClientLimitsOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.refreshMs = options.refreshMs ?? 1_000;
    this.flushIntervalMs = options.flushIntervalMs ?? 1_000;
    this.reservationMs = options.reservationMs ?? 600_000;
    this.readTimeoutMs = options.readTimeoutMs ?? 1_000;
    for (const [name, v] of [
      ['refreshMs', this.refreshMs],
      ['flushIntervalMs', this.flushIntervalMs],
      ['reservationMs', this.reservationMs],
      ['readTimeoutMs', this.readTimeoutMs],
    ] as const) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new TypeError(`ClientLimits: \`${name}\` must be a number >= 0 (got ${String(v)})`);
    }
  }

  /** The state of a client for the day of `now`; a new day starts from zero. */
  private state(client: string, now: number): ClientState {
    const day = pacificDay(now);
    let st = this.clients.get(client);
    if (!st) {
      st = { day, stored: zero(), readAt: -Infinity, recorded: zero(), sentAtRead: zero(), sent: zero(), reserved: [], minute: [], refreshing: undefined };
      this.clients.set(client, st);
    } else if (st.day < day) {
      Object.assign(st, { day, stored: zero(), readAt: -Infinity, recorded: zero(), sentAtRead: zero(), sent: zero(), refreshing: undefined });
    }
    // Old entries leave, so neither list grows past what the limits can use.
    const minuteStart = st.minute.findIndex((t) => t > now - MINUTE_MS);
    st.minute.splice(0, minuteStart === -1 ? st.minute.length : minuteStart);
    const reservedStart = st.reserved.findIndex((t) => t > now - this.reservationMs);
    st.reserved.splice(0, reservedStart === -1 ? st.reserved.length : reservedStart);
    return st;
  }

  private refresh(client: string, st: ClientState, now: number): Promise<void> {
    st.refreshing ??= (async () => {
      const day = st.day;
      const sent = { ...st.sent };
      try {
        const u = await this.store.clientUsage(client, day);
        if (st.day === day) {
          st.stored = { requests: u.day.requests, tokens: u.day.tokens };
          st.sentAtRead = sent;
        }
      } catch (e) {
        this.storeFailed(e);
      } finally {
        // Also after a failure: the next try waits its turn instead of hammering a store that is away.
        if (st.day === day) st.readAt = now;
        st.refreshing = undefined;
      }
    })();
    return st.refreshing;
  }

  /** The counts of a client as this process knows them now. */
  private counts(st: ClientState): ClientCounts {
    return {
      minute: st.minute,
      dayRequests: st.stored.requests + (st.recorded.requests - st.sentAtRead.requests) + st.reserved.length,
      dayTokens: st.stored.tokens + (st.recorded.tokens - st.sentAtRead.tokens),
    };
  }

  /**
   * Whether one more request of `client` fits under `limits` at `now`; when it does, it
   * counts from now on (a reservation that `record` takes). A client without limits is
   * always admitted and nothing is read.
   */
  async admit(client: string, limits: Limits, now: number = this.now()): Promise<Admission> {
    const joint = await this.admitAll([{ client, limits }], now);
    return joint.ok ? joint : { ok: false, limit: joint.limit, retryAfterMs: joint.retryAfterMs };
  }

  /**
   * Whether one more request fits under the limits of every client named (a user and their
   * server, say); when it does, it counts for each of them from now on (reservations that
   * `record` takes). When one is over, none is counted, and the refusal names the client
   * whose limit frees last.
   */
  async admitAll(entries: ReadonlyArray<{ client: string; limits: Limits }>, now: number = this.now()): Promise<JointAdmission> {
    const limited = entries.filter(({ limits: l }) => l.rpm !== undefined || l.rpd !== undefined || l.tpd !== undefined);
    if (limited.length === 0) return { ok: true };
    const reads: Promise<void>[] = [];
    for (const { client, limits } of limited) {
      const st = this.state(client, now);
      if ((limits.rpd !== undefined || limits.tpd !== undefined) && now - st.readAt >= this.refreshMs) reads.push(this.refresh(client, st, now));
    }
    if (reads.length > 0) await this.bounded(Promise.all(reads));
    // Decided and reserved in one synchronous step: concurrent admits cannot both take the last slot.
    let worst: JointAdmission = { ok: true };
    const states = limited.map(({ client, limits }) => {
      const st = this.state(client, now);
      const d = decideAdmission(this.counts(st), limits, now);
      if (!d.ok && (worst.ok || d.retryAfterMs > worst.retryAfterMs)) worst = { ok: false, client, limit: d.limit, retryAfterMs: d.retryAfterMs };
      return st;
    });
    if (!worst.ok) return worst;
    for (const st of states) {
      st.minute.push(now);
      st.reserved.push(now);
    }
    return worst;
  }

  /** Waits for `work`, but no longer than `readTimeoutMs`. */
  private async bounded(work: Promise<unknown>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([work, new Promise<void>((resolve) => (timer = setTimeout(resolve, this.readTimeoutMs)))]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Gives back a reservation of `client` that will never be recorded (the request was
   * admitted but never sent): it no longer counts toward the day. It stays in the sliding
   * minute: it was asked for.
   */
  release(client: string, now: number = this.now()): void {
    this.state(client, now).reserved.pop();
  }

  /**
   * Counts what a request of `client` used: in this process at once, in the store (the
   * Pacific day of `now`, and the total) within `flushIntervalMs`. `requests` takes as
   * many of the client's reservations.
   * @throws TypeError when a count is not a whole number >= 0.
   */
  record(client: string, usage: ClientUsage, now: number = this.now()): void {
    assertUsage(usage);
    if (this.closed) throw new Error('ClientLimits.record: closed');
    const st = this.state(client, now);
    const day = pacificDay(now);
    st.reserved.splice(0, Math.min(usage.requests, st.reserved.length));
    // A late record of a day already over goes to that day in the store, not to today's counts.
    if (day === st.day) {
      st.recorded.requests += usage.requests;
      st.recorded.tokens += usage.tokens;
    }
    const key = `${client}\u0000${day}`;
    const p = this.pending.get(key);
    if (p) {
      p.usage.requests += usage.requests;
      p.usage.tokens += usage.tokens;
      p.usage.errors += usage.errors;
    } else {
      this.pending.set(key, { client, day, usage: { requests: usage.requests, tokens: usage.tokens, errors: usage.errors } });
    }
    if (!this.timer && this.flushIntervalMs > 0) {
      this.timer = setInterval(() => void this.flush(), this.flushIntervalMs);
      this.timer.unref();
    }
  }

  /** Writes what was recorded to the store now. Never rejects: what cannot be written waits for the next flush. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.writePending());
    return this.flushing;
  }

  private async writePending(): Promise<void> {
    const batch = [...this.pending.values()];
    this.pending.clear();
    for (const { client, day, usage } of batch) {
      const st = this.clients.get(client);
      const counted = st?.day === day;
      if (counted) {
        st.sent.requests += usage.requests;
        st.sent.tokens += usage.tokens;
      }
      try {
        await this.store.addClientUsage(client, day, usage);
        if (this.storeDown) {
          this.storeDown = false;
          this.options.logger?.info('client usage reaches the store again');
        }
      } catch (e) {
        if (counted) {
          st.sent.requests -= usage.requests;
          st.sent.tokens -= usage.tokens;
        }
        if (isStoreRejectedError(e)) {
          this.options.logger?.error({ client, err: e.message }, 'client usage refused by the store; dropped');
          continue;
        }
        this.storeFailed(e);
        const key = `${client}\u0000${day}`;
        const later = this.pending.get(key);
        if (later) {
          later.usage.requests += usage.requests;
          later.usage.tokens += usage.tokens;
          later.usage.errors += usage.errors;
        } else {
          this.pending.set(key, { client, day, usage });
        }
      }
    }
  }

  private storeFailed(e: unknown): void {
    if (this.storeDown) return;
    this.storeDown = true;
    this.options.logger?.warn({ err: e instanceof Error ? e.message : String(e) }, 'client usage: the store cannot be reached; counting in this process');
  }

  /** Stops the flush timer and writes what is pending. Safe to call twice. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.closed = true;
    await this.flush();
  }
}
