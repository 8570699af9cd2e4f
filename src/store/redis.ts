/**
 * RedisStore: the StateStore several processes share (`STORE=redis`, sharded bots).
 *
 * Layout, every key under `prefix` (default `gpool:`):
 *
 * | key | type | what |
 * | --- | --- | --- |
 * | `state:{keyHash}:{model}` | string (JSON) | a cooldown (with PX = until - now) or a disabled state (no TTL) |
 * | `states:{keyHash}` | set | the models that may have a state, so a key's states load without SCAN |
 * | `ctr:{keyHash}` | hash | cumulative `usage:{model}`, `errors:{model}`, `latencyMs:{model}` |
 * | `day:{day}:{keyHash}` | hash, EXPIRE 2 days | `requests:{model}`, `tokens:{model}` of that Pacific day |
 * | `conv:{id}` | string (JSON) | a conversation |
 * | `meta:{name}` | string | meta values |
 * | `gw:...` | | the gateway's tokens, client usage and request log (see gatewayRedis.ts) |
 * | `dash:...` | | the dashboard's sessions and added keys (see dashboardRedis.ts) |
 *
 * Every setKeyState is also published on `${prefix}keystate`; a second connection in
 * subscriber mode hands other processes' changes to `subscribe` listeners.
 *
 * Failure model: the store never queues commands while Redis is away (no offline queue,
 * no retries per request, a command timeout), so a caller gets a rejection at once and
 * keeps serving from memory. The connection comes back by itself; the outage and the
 * return are logged once each, and `onReconnect` listeners run so the caller can resync.
 */
import { randomUUID } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import pino, { type Logger } from 'pino';
import type {
  CounterDelta,
  CounterRow,
  KeyStateChange,
  ModelScope,
  StateStore,
  StoredConversation,
  StoredKeyState,
  UsageReport,
} from './types.ts';
import { StoreUnavailableError } from './errors.ts';
import { RedisDashboardStore } from './dashboardRedis.ts';
import { DelegatesGatewayStore } from './gatewayDelegate.ts';
import { RedisGatewayStore } from './gatewayRedis.ts';
import { defineScripts, type ScriptedRedis } from './redisScripts.ts';
import { assertCounterDeltas, assertCounterRows } from './validate.ts';

export { StoreUnavailableError, isStoreUnavailableError } from './errors.ts';

/** Options of {@link RedisStore.connect}. */
export interface RedisStoreOptions {
  /**
   * Prepended to every key and to the channel, so several deployments (or tests) can
   * share one Redis.
   * @default 'gpool:'
   */
  prefix?: string;
  /**
   * Where the outage and recovery lines go.
   * @default a pino logger at level info
   */
  logger?: Logger;
  /**
   * How long `connect` waits for the first connection.
   * @default 3000
   */
  connectTimeoutMs?: number;
  /**
   * A command with no answer after this long rejects (a hung or unreachable server).
   * @default 1000
   */
  commandTimeoutMs?: number;
  /**
   * Lifetime of a per-day counter hash after its last write, in seconds.
   * @default 172800 (2 days)
   */
  dayTtlSeconds?: number;
}

/** The URL as it may be shown: any password replaced by `***`. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    // Not a URL we can parse: show nothing that could be a secret.
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}

/** Escapes the glob characters of a literal for SCAN MATCH. */
const globEscape = (s: string): string => s.replace(/[*?[\]\\]/g, '\\$&');

interface WireChange extends KeyStateChange {
  from: string;
}

const isKeyStateChange = (v: unknown): v is WireChange => {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o.from === 'string' && typeof o.keyHash === 'string' && typeof o.model === 'string' && typeof o.state === 'object';
};

/** Splits `field:model` at the first colon (model names may hold colons). */
function splitField(field: string): [string, string] | undefined {
  const i = field.indexOf(':');
  return i <= 0 ? undefined : [field.slice(0, i), field.slice(i + 1)];
}

export class RedisStore extends DelegatesGatewayStore implements StateStore {
  readonly kind = 'redis' as const;
  /** The key prefix in use. */
  readonly prefix: string;
  /** Identifies this process's messages on the channel. */
  readonly instanceId = randomUUID();

  private readonly channel: string;
  private readonly dayTtlSeconds: number;
  private readonly listeners = new Set<(change: KeyStateChange) => void>();
  private readonly usageChannel: string;
  private readonly usageListeners = new Set<(reports: UsageReport[]) => void>();
  private readonly reconnectListeners = new Set<() => void>();
  private down = false;
  private closing = false;
  private lastError: Error | undefined;
  /** Tokens, client usage and the request log: layout in gatewayRedis.ts. */
  protected readonly gateway: RedisGatewayStore;
  /** Sessions and added keys: layout in dashboardRedis.ts. */
  protected readonly dashboard: RedisDashboardStore;

  private constructor(
    private readonly redis: ScriptedRedis,
    private readonly sub: Redis,
    private readonly shownUrl: string,
    private readonly logger: Logger,
    options: RedisStoreOptions,
  ) {
    super();
    this.prefix = options.prefix ?? 'gpool:';
    this.channel = `${this.prefix}keystate`;
    this.usageChannel = `${this.prefix}usage`;
    this.dayTtlSeconds = options.dayTtlSeconds ?? 172_800;
    this.gateway = new RedisGatewayStore(redis, () => this.ready(), this.prefix, this.dayTtlSeconds);
    this.dashboard = new RedisDashboardStore(() => this.ready(), this.prefix);
  }

  /**
   * Connects to Redis (two connections: commands and subscriber).
   * @throws Error naming REDIS_URL (without its password) when Redis cannot be reached
   *   within `connectTimeoutMs`.
   */
  static async connect(url: string, options: RedisStoreOptions = {}): Promise<RedisStore> {
    const shownUrl = redactRedisUrl(url);
    const connectTimeoutMs = options.connectTimeoutMs ?? 3_000;
    const logger = options.logger ?? pino({ name: 'store' });
    const redisOptions: RedisOptions = {
      lazyConnect: true,
      connectTimeout: connectTimeoutMs,
      commandTimeout: options.commandTimeoutMs ?? 1_000,
      // Fail fast: no queue while disconnected, in-flight commands rejected on close.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      // Reconnect forever, 100 ms, 200 ms ... at most every 2 s.
      retryStrategy: (times) => Math.min(times * 100, 2_000),
    };
    const redis = defineScripts(new Redis(url, redisOptions));
    const sub = redis.duplicate();

    let firstError: Error | undefined;
    const onStartError = (e: Error) => {
      firstError ??= e;
    };
    redis.on('error', onStartError);
    sub.on('error', onStartError);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        (async () => {
          await redis.connect();
          await sub.connect();
          // Proves the connection is usable (AUTH, ACL) before we call it up.
          await redis.ping();
        })(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${connectTimeoutMs} ms`)), connectTimeoutMs + 500);
        }),
      ]);
    } catch (e) {
      // Late errors of the abandoned connections (a ready check cut short) go nowhere.
      const ignore = () => {};
      redis.on('error', ignore);
      sub.on('error', ignore);
      redis.disconnect();
      sub.disconnect();
      const cause = firstError ?? (e instanceof Error ? e : new Error(String(e)));
      throw new Error(`cannot reach Redis at REDIS_URL=${shownUrl}: ${cause.message}`, { cause });
    } finally {
      clearTimeout(timer);
      redis.off('error', onStartError);
      sub.off('error', onStartError);
    }

    const store = new RedisStore(redis, sub, shownUrl, logger, options);
    await store.start();
    return store;
  }

  private async start(): Promise<void> {
    for (const conn of [this.redis, this.sub]) {
      conn.on('error', (e: Error) => this.markDown(e));
      conn.on('close', () => this.markDown(undefined));
      conn.on('ready', () => this.markUp());
    }
    this.sub.on('message', (channel: string, message: string) => this.onMessage(channel, message));
    await this.sub.subscribe(this.channel, this.usageChannel);
  }

  private markDown(err: Error | undefined): void {
    if (err) this.lastError = err;
    if (this.closing || this.down) return;
    this.down = true;
    this.logger.warn(
      { redisUrl: this.shownUrl, err: err?.message ?? this.lastError?.message ?? 'connection closed' },
      'Redis is unreachable; serving from memory and reconnecting',
    );
  }

  private markUp(): void {
    if (this.closing || !this.down) return;
    if (this.redis.status !== 'ready' || this.sub.status !== 'ready') return;
    this.down = false;
    this.lastError = undefined;
    this.logger.info({ redisUrl: this.shownUrl }, 'Redis is back');
    // After ioredis has re-sent the SUBSCRIBE (same tick, just after 'ready').
    setImmediate(() => {
      for (const l of this.reconnectListeners) {
        try {
          l();
        } catch (e) {
          this.logger.error({ err: e instanceof Error ? e.message : String(e) }, 'onReconnect listener threw');
        }
      }
    });
  }

  private onMessage(channel: string, message: string): void {
    if (channel !== this.channel && channel !== this.usageChannel) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(message);
    } catch {
      return;
    }
    if (channel === this.usageChannel) {
      const wire = parsed as { from?: unknown; reports?: unknown };
      if (wire.from === this.instanceId || !Array.isArray(wire.reports)) return;
      const reports = (wire.reports as unknown[]).filter(isUsageReport);
      for (const l of this.usageListeners) {
        try {
          l(reports);
        } catch (e) {
          this.logger.error({ err: e instanceof Error ? e.message : String(e) }, 'usage listener threw');
        }
      }
      return;
    }
    if (!isKeyStateChange(parsed) || parsed.from === this.instanceId) return;
    const change: KeyStateChange = { keyHash: parsed.keyHash, model: parsed.model, state: parsed.state };
    for (const l of this.listeners) {
      try {
        l(change);
      } catch (e) {
        this.logger.error({ err: e instanceof Error ? e.message : String(e) }, 'subscribe listener threw');
      }
    }
  }

  /** Rejects at once, with a clear error, while Redis is away. */
  private ready(): ScriptedRedis {
    if (this.closing) throw new StoreUnavailableError('the Redis store is closed');
    if (this.redis.status !== 'ready') {
      throw new StoreUnavailableError(
        `Redis at REDIS_URL=${this.shownUrl} is unavailable (${this.lastError?.message ?? this.redis.status})`,
      );
    }
    return this.redis;
  }

  private k(...parts: string[]): string {
    return this.prefix + parts.join(':');
  }

  async loadKeyStates(keyHashes: readonly string[], now: number): Promise<Map<string, Map<ModelScope, StoredKeyState>>> {
    const out = new Map<string, Map<ModelScope, StoredKeyState>>();
    const hashes = [...new Set(keyHashes)];
    if (hashes.length === 0) return out;
    const redis = this.ready();
    const p = redis.pipeline();
    for (const h of hashes) (p as unknown as ScriptedRedis).gpoolLoadStates(this.k('states', h), this.k('state', h) + ':');
    const results = (await p.exec()) ?? [];
    results.forEach(([err, flat], i) => {
      if (err) throw err;
      const h = hashes[i]!;
      const list = flat as string[];
      for (let j = 0; j + 1 < list.length; j += 2) {
        let state: StoredKeyState;
        try {
          state = JSON.parse(list[j + 1]!) as StoredKeyState;
        } catch {
          continue;
        }
        // The TTL follows the real clock; the caller's `now` has the last word.
        if (state.status === 'cooling' && state.until <= now) continue;
        let m = out.get(h);
        if (!m) out.set(h, (m = new Map()));
        m.set(list[j]!, state);
      }
    });
    return out;
  }

  async setKeyState(keyHash: string, model: ModelScope, state: StoredKeyState | null): Promise<void> {
    const redis = this.ready();
    const key = this.k('state', keyHash, model);
    const index = this.k('states', keyHash);
    const m = redis.multi();
    const ttlMs = state?.status === 'cooling' ? Math.ceil(state.until - Date.now()) : undefined;
    if (state === null || (ttlMs !== undefined && ttlMs <= 0)) {
      m.del(key).srem(index, model);
    } else if (ttlMs !== undefined) {
      m.set(key, JSON.stringify(state), 'PX', ttlMs).sadd(index, model);
    } else {
      m.set(key, JSON.stringify(state)).sadd(index, model);
    }
    const wire: WireChange = { from: this.instanceId, keyHash, model, state };
    m.publish(this.channel, JSON.stringify(wire));
    const results = await m.exec();
    for (const [err] of results ?? []) if (err) throw err;
  }

  async addCounters(deltas: readonly CounterDelta[]): Promise<void> {
    // Refused before Redis is asked: HINCRBY would reject the whole script anyway, and a
    // batch that can never be written must not look like an unreachable Redis.
    assertCounterDeltas(deltas);
    if (deltas.length === 0) return;
    const redis = this.ready();
    const keys: string[] = [];
    const args: Array<string | number> = [this.dayTtlSeconds];
    for (const d of deltas) {
      keys.push(this.k('ctr', d.keyHash), this.k('day', d.day, d.keyHash));
      args.push(d.model, d.requests, d.tokens, d.usage, d.errors, d.latencyMs);
    }
    await redis.gpoolAddCounters(keys.length, ...keys, ...args);
  }

  async raiseCounters(rows: readonly CounterRow[]): Promise<void> {
    assertCounterRows(rows);
    if (rows.length === 0) return;
    const redis = this.ready();
    const keys: string[] = [];
    const args: Array<string | number> = [this.dayTtlSeconds];
    for (const r of rows) {
      // A row of an older day raises that day's hash, which "today" never reads.
      keys.push(this.k('ctr', r.keyHash), this.k('day', r.day, r.keyHash));
      args.push(r.model, r.usage, r.errors, r.latencyMs, r.requestsToday, r.tokensToday);
    }
    await redis.gpoolRaiseCounters(keys.length, ...keys, ...args);
  }

  async loadCounters(keyHashes: readonly string[], day: string): Promise<CounterRow[]> {
    const hashes = [...new Set(keyHashes)];
    if (hashes.length === 0) return [];
    const redis = this.ready();
    const p = redis.pipeline();
    for (const h of hashes) p.hgetall(this.k('ctr', h)).hgetall(this.k('day', day, h));
    const results = (await p.exec()) ?? [];
    const rows: CounterRow[] = [];
    hashes.forEach((h, i) => {
      const [e1, cumulative] = results[2 * i] ?? [null, {}];
      const [e2, today] = results[2 * i + 1] ?? [null, {}];
      if (e1) throw e1;
      if (e2) throw e2;
      const byModel = new Map<string, CounterRow>();
      const row = (model: string): CounterRow => {
        let r = byModel.get(model);
        if (!r) {
          r = { keyHash: h, model, usage: 0, errors: 0, latencyMs: 0, day, requestsToday: 0, tokensToday: 0 };
          byModel.set(model, r);
        }
        return r;
      };
      for (const [field, value] of Object.entries(cumulative as Record<string, string>)) {
        const f = splitField(field);
        if (!f) continue;
        const n = Number(value);
        if (f[0] === 'usage') row(f[1]).usage = n;
        else if (f[0] === 'errors') row(f[1]).errors = n;
        else if (f[0] === 'latencyMs') row(f[1]).latencyMs = n;
      }
      for (const [field, value] of Object.entries(today as Record<string, string>)) {
        const f = splitField(field);
        if (!f) continue;
        const n = Number(value);
        if (f[0] === 'requests') row(f[1]).requestsToday = n;
        else if (f[0] === 'tokens') row(f[1]).tokensToday = n;
      }
      rows.push(...byModel.values());
    });
    return rows;
  }

  async resetCounters(): Promise<void> {
    const redis = this.ready();
    const match = `${globEscape(this.prefix)}ctr:*`;
    let cursor = '0';
    // Bounded: SCAN ends when the cursor returns to 0; the guard only stops a runaway.
    for (let rounds = 0; rounds < 1_000_000; rounds++) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      if (keys.length > 0) {
        const p = redis.pipeline();
        for (const key of keys) (p as unknown as ScriptedRedis).gpoolZeroHash(key);
        for (const [err] of (await p.exec()) ?? []) if (err) throw err;
      }
      cursor = next;
      if (cursor === '0') break;
    }
  }

  async getConversation(id: string): Promise<StoredConversation | undefined> {
    const raw = await this.ready().get(this.k('conv', id));
    return raw === null ? undefined : (JSON.parse(raw) as StoredConversation);
  }

  async saveConversation(id: string, conversation: StoredConversation): Promise<void> {
    await this.ready().set(this.k('conv', id), JSON.stringify(conversation));
  }

  async deleteConversation(id: string): Promise<void> {
    await this.ready().del(this.k('conv', id));
  }

  async pruneConversations(olderThan: number): Promise<number> {
    const redis = this.ready();
    const match = `${globEscape(this.prefix)}conv:*`;
    let cursor = '0';
    let pruned = 0;
    // Bounded: SCAN ends when the cursor returns to 0; the guard only stops a runaway.
    for (let rounds = 0; rounds < 1_000_000; rounds++) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      const values = keys.length > 0 ? await redis.mget(keys) : [];
      const old = keys.filter((_, i) => {
        const raw = values[i];
        return raw != null && (JSON.parse(raw) as StoredConversation).updatedAt < olderThan;
      });
      if (old.length > 0) pruned += await redis.del(...old);
      cursor = next;
      if (cursor === '0') break;
    }
    return pruned;
  }

  async getMeta(name: string): Promise<string | undefined> {
    return (await this.ready().get(this.k('meta', name))) ?? undefined;
  }

  async setMeta(name: string, value: string): Promise<void> {
    await this.ready().set(this.k('meta', name), value);
  }

  async publishUsage(reports: readonly UsageReport[]): Promise<void> {
    if (reports.length === 0) return;
    await this.ready().publish(this.usageChannel, JSON.stringify({ from: this.instanceId, reports }));
  }

  subscribeUsage(listener: (reports: UsageReport[]) => void): () => void {
    this.usageListeners.add(listener);
    return () => {
      this.usageListeners.delete(listener);
    };
  }

  subscribe(listener: (change: KeyStateChange) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => {
      this.reconnectListeners.delete(listener);
    };
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.listeners.clear();
    this.reconnectListeners.clear();
    await Promise.all(
      [this.redis, this.sub].map(async (conn) => {
        try {
          if (conn.status === 'ready') await conn.quit();
          else conn.disconnect();
        } catch {
          conn.disconnect();
        }
      }),
    );
  }
}

function isUsageReport(v: unknown): v is UsageReport {
  const r = v as UsageReport;
  return (
    typeof r === 'object' && r !== null && typeof r.group === 'string' && typeof r.model === 'string' &&
    Number.isInteger(r.requests) && r.requests > 0 && r.requests < 1_000_000 && Number.isFinite(r.tokens) && r.tokens >= 0
  );
}
