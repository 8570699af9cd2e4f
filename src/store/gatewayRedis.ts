/**
 * The gateway's store in Redis, for RedisStore. Layout, every key under the store's prefix:
 *
 * | key | type | what |
 * | --- | --- | --- |
 * | `gw:token:{name}` | hash | `name`, `hash`, `prefix`, `models` (JSON, absent: every model), `limits` (JSON), `createdAt`, `expiresAt`?, `revokedAt`? |
 * | `gw:tokens` | sorted set | token names by creation time |
 * | `gw:tokenhash` | hash | token hash -> name |
 * | `gw:total:{client}` | hash | a client's `requests`, `tokens`, `errors` in total |
 * | `gw:day:{day}:{client}` | hash, EXPIRE 2 days | the same for one Pacific day |
 * | `gw:log` | sorted set | request log row ids (16 digits, so equal times keep their order) by time |
 * | `gw:logrows` | hash | row id -> the row as JSON |
 * | `gw:logseq` | string | the last row id |
 *
 * Tokens are read from Redis on every lookup (callers cache for at most a second), so every
 * process sees a new or revoked token at once. The log is capped on every append (when
 * given a row cap) and pruned by age and cap in bounded steps, so Redis never holds more
 * than the cap for long and is never blocked by one huge deletion.
 */
import type { Redis } from 'ioredis';
import { StoreRejectedError } from './errors.ts';
import type { ClientUsage, GatewayStore, RequestLogQuery, RequestLogRow, StoredToken, TokenLimits } from './gatewayTypes.ts';
import {
  assertLogRows,
  assertPrune,
  assertToken,
  assertTokenChange,
  assertUsage,
  byRequests,
  cleanLimits,
  cleanRow,
  cleanToken,
  matchesQuery,
  queryLimit,
} from './gatewayValidate.ts';

/** Rows deleted by one script call, so a big prune never blocks Redis for long. */
const DELETE_BATCH = 5_000;
/** Row ids read per step of a query. */
const QUERY_PAGE = 1_000;

/** Deletes the oldest rows beyond ARGV max (at most `batch`); shared by append and prune. */
const TRIM_LUA = `
local function trim(max, batch)
  local excess = redis.call('ZCARD', KEYS[1]) - max
  if excess <= 0 then return 0 end
  if excess > batch then excess = batch end
  local old = redis.call('ZRANGE', KEYS[1], 0, excess - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, excess - 1)
  for i = 1, #old, 1000 do redis.call('HDEL', KEYS[2], unpack(old, i, math.min(i + 999, #old))) end
  return #old
end
`;

/**
 * Appends rows. KEYS: log, logrows, logseq. ARGV[1] the row cap ('' for none), ARGV[2] the
 * delete batch; then per row its time and JSON.
 */
const APPEND_LOG_LUA = `${TRIM_LUA}
for i = 3, #ARGV, 2 do
  local member = string.format('%016d', redis.call('INCR', KEYS[3]))
  redis.call('ZADD', KEYS[1], ARGV[i], member)
  redis.call('HSET', KEYS[2], member, ARGV[i + 1])
end
local max = tonumber(ARGV[1])
if max then return trim(max, tonumber(ARGV[2])) end
return 0
`;

/**
 * One step of a prune: rows older than ARGV[1], then rows beyond the cap ARGV[2], at most
 * ARGV[3] in all. KEYS: log, logrows. Returns how many went.
 */
const PRUNE_LOG_LUA = `${TRIM_LUA}
local batch = tonumber(ARGV[3])
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, batch)
if #old > 0 then
  redis.call('ZREM', KEYS[1], unpack(old))
  for i = 1, #old, 1000 do redis.call('HDEL', KEYS[2], unpack(old, i, math.min(i + 999, #old))) end
end
if #old >= batch then return #old end
return #old + trim(tonumber(ARGV[2]), batch - #old)
`;

/** Creates a token unless its name or hash is taken. KEYS: token, tokens, tokenhash. ARGV: name, hash, createdAt, fields... */
const CREATE_TOKEN_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('HEXISTS', KEYS[3], ARGV[2]) == 1 then return -1 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[1])
return 1
`;

/** The token of a hash. KEYS[1] tokenhash; ARGV[1] the hash, ARGV[2] the `gw:token:` prefix. */
const TOKEN_BY_HASH_LUA = `
local name = redis.call('HGET', KEYS[1], ARGV[1])
if not name then return {} end
return redis.call('HGETALL', ARGV[2] .. name)
`;

/** Revokes a live token. KEYS[1] the token; ARGV[1] the time. */
const REVOKE_TOKEN_LUA = `
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'revokedAt') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'revokedAt', ARGV[1])
return 1
`;

/** Changes an existing token. KEYS[1] the token; ARGV[1] n, then n field/value pairs, then fields to delete. */
const UPDATE_TOKEN_LUA = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = tonumber(ARGV[1])
if n > 0 then redis.call('HSET', KEYS[1], unpack(ARGV, 2, 1 + 2 * n)) end
for i = 2 + 2 * n, #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]) end
return 1
`;

interface GatewayRedis extends Redis {
  gwAppendLog(log: string, rows: string, seq: string, ...args: Array<string | number>): Promise<number>;
  gwPruneLog(log: string, rows: string, olderThan: number | string, maxRows: number, batch: number): Promise<number>;
  gwCreateToken(token: string, tokens: string, byHash: string, ...args: Array<string | number>): Promise<number>;
  gwTokenByHash(byHash: string, hash: string, tokenPrefix: string): Promise<string[]>;
  gwRevokeToken(token: string, at: number): Promise<number>;
  gwUpdateToken(token: string, ...args: Array<string | number>): Promise<number>;
}

function toToken(h: Record<string, string>): StoredToken | undefined {
  if (!h.name || !h.hash) return undefined;
  const t: StoredToken = { name: h.name, hash: h.hash, prefix: h.prefix ?? '', limits: JSON.parse(h.limits ?? '{}') as TokenLimits, createdAt: Number(h.createdAt) };
  if (h.models !== undefined) t.models = JSON.parse(h.models) as string[];
  if (h.expiresAt !== undefined) t.expiresAt = Number(h.expiresAt);
  if (h.revokedAt !== undefined) t.revokedAt = Number(h.revokedAt);
  return cleanToken(t);
}

const zero = (): ClientUsage => ({ requests: 0, tokens: 0, errors: 0 });

function toUsage(h: Record<string, string>): ClientUsage {
  return { requests: Number(h.requests ?? 0), tokens: Number(h.tokens ?? 0), errors: Number(h.errors ?? 0) };
}

/** {@link GatewayStore} over a RedisStore's command connection. */
export class RedisGatewayStore implements GatewayStore {
  /**
   * @param connection the store's command connection (the scripts are defined on it).
   * @param ready returns that connection, or throws StoreUnavailableError while Redis is away.
   */
  constructor(
    connection: Redis,
    private readonly ready: () => Redis,
    private readonly prefix: string,
    private readonly dayTtlSeconds: number,
  ) {
    connection.defineCommand('gwAppendLog', { numberOfKeys: 3, lua: APPEND_LOG_LUA });
    connection.defineCommand('gwPruneLog', { numberOfKeys: 2, lua: PRUNE_LOG_LUA });
    connection.defineCommand('gwCreateToken', { numberOfKeys: 3, lua: CREATE_TOKEN_LUA });
    connection.defineCommand('gwTokenByHash', { numberOfKeys: 1, lua: TOKEN_BY_HASH_LUA });
    connection.defineCommand('gwRevokeToken', { numberOfKeys: 1, lua: REVOKE_TOKEN_LUA });
    connection.defineCommand('gwUpdateToken', { numberOfKeys: 1, lua: UPDATE_TOKEN_LUA });
  }

  private get redis(): GatewayRedis {
    return this.ready() as GatewayRedis;
  }

  private k(...parts: string[]): string {
    return `${this.prefix}gw:${parts.join(':')}`;
  }

  async createToken(token: StoredToken): Promise<void> {
    assertToken(token);
    const t = cleanToken(token);
    const fields: Array<string | number> = ['name', t.name, 'hash', t.hash, 'prefix', t.prefix, 'limits', JSON.stringify(t.limits), 'createdAt', t.createdAt];
    if (t.models) fields.push('models', JSON.stringify(t.models));
    if (t.expiresAt !== undefined) fields.push('expiresAt', t.expiresAt);
    if (t.revokedAt !== undefined) fields.push('revokedAt', t.revokedAt);
    const r = await this.redis.gwCreateToken(this.k('token', t.name), this.k('tokens'), this.k('tokenhash'), t.name, t.hash, t.createdAt, ...fields);
    if (r === 0) throw new StoreRejectedError(`a token named ${t.name} exists already`);
    if (r === -1) throw new StoreRejectedError('a token with this hash exists already');
  }

  async listTokens(): Promise<StoredToken[]> {
    const redis = this.redis;
    const names = await redis.zrange(this.k('tokens'), 0, -1);
    if (names.length === 0) return [];
    const p = redis.pipeline();
    for (const n of names) p.hgetall(this.k('token', n));
    const out: StoredToken[] = [];
    for (const [err, h] of (await p.exec()) ?? []) {
      if (err) throw err;
      const t = toToken(h as Record<string, string>);
      if (t) out.push(t);
    }
    return out;
  }

  async tokenByHash(hash: string): Promise<StoredToken | undefined> {
    const flat = await this.redis.gwTokenByHash(this.k('tokenhash'), hash, this.k('token', ''));
    const h: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) h[flat[i]!] = flat[i + 1]!;
    return toToken(h);
  }

  async tokenByName(name: string): Promise<StoredToken | undefined> {
    return toToken(await this.redis.hgetall(this.k('token', name)));
  }

  async revokeToken(name: string, at: number): Promise<boolean> {
    return (await this.redis.gwRevokeToken(this.k('token', name), at)) === 1;
  }

  async updateToken(name: string, change: Partial<Pick<StoredToken, 'models' | 'limits' | 'expiresAt'>>): Promise<boolean> {
    assertTokenChange(change);
    const set: Array<string | number> = [];
    const del: string[] = [];
    if ('models' in change) {
      if (change.models === undefined) del.push('models');
      else set.push('models', JSON.stringify(change.models));
    }
    if (change.limits !== undefined) set.push('limits', JSON.stringify(cleanLimits(change.limits)));
    if ('expiresAt' in change) {
      if (change.expiresAt === undefined) del.push('expiresAt');
      else set.push('expiresAt', change.expiresAt);
    }
    return (await this.redis.gwUpdateToken(this.k('token', name), set.length / 2, ...set, ...del)) === 1;
  }

  async addClientUsage(client: string, day: string, delta: ClientUsage): Promise<void> {
    assertUsage(client, day, delta);
    const total = this.k('total', client);
    const daily = this.k('day', day, client);
    const m = this.redis.multi();
    for (const f of ['requests', 'tokens', 'errors'] as const) m.hincrby(total, f, delta[f]).hincrby(daily, f, delta[f]);
    m.expire(daily, this.dayTtlSeconds);
    for (const [err] of (await m.exec()) ?? []) if (err) throw err;
  }

  async clientUsage(client: string, day: string): Promise<{ day: ClientUsage; total: ClientUsage }> {
    const results = (await this.redis.pipeline().hgetall(this.k('day', day, client)).hgetall(this.k('total', client)).exec()) ?? [];
    const [d, t] = results.map(([err, h]) => {
      if (err) throw err;
      return toUsage(h as Record<string, string>);
    });
    return { day: d ?? zero(), total: t ?? zero() };
  }

  async topClients(day: string, prefix: string, limit: number): Promise<Array<{ client: string } & ClientUsage>> {
    // An admin's query, not the request path: a SCAN over the day's keys of that prefix.
    const from = this.k('day', day, '');
    const pattern = `${from}${prefix}*`.replace(/[*?[\]\\]/g, (c) => `\\${c}`).replace(/\\\*$/, '*');
    const keys = new Set<string>();
    let cursor = '0';
    for (let guard = 0; guard < 100_000; guard++) {
      const [next, found] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
      for (const key of found) keys.add(key);
      cursor = next;
      if (cursor === '0') break;
    }
    const names = [...keys];
    const results = (await names.reduce((p, key) => p.hgetall(key), this.redis.pipeline()).exec()) ?? [];
    const out = names.map((key, i) => {
      const [err, h] = results[i]!;
      if (err) throw err;
      return { client: key.slice(from.length), ...toUsage(h as Record<string, string>) };
    });
    return byRequests(out, limit);
  }

  async appendRequestLog(rows: readonly RequestLogRow[], maxRows?: number): Promise<void> {
    assertLogRows(rows, maxRows);
    if (rows.length === 0) return;
    const args: Array<string | number> = [maxRows ?? '', DELETE_BATCH];
    for (const r of rows) args.push(r.at, JSON.stringify(cleanRow(r)));
    await this.redis.gwAppendLog(this.k('log'), this.k('logrows'), this.k('logseq'), ...args);
  }

  async queryRequestLog(query: RequestLogQuery): Promise<RequestLogRow[]> {
    const limit = queryLimit(query);
    const redis = this.redis;
    const max = query.until === undefined ? '+inf' : `(${query.until}`;
    const min = query.since === undefined ? '-inf' : String(query.since);
    const out: RequestLogRow[] = [];
    // Without a filter beyond time every row read is returned: read no more than asked for.
    const filtered = [query.token, query.keyId, query.model, query.status, query.kind].some((v) => v !== undefined);
    const page = filtered ? QUERY_PAGE : Math.min(QUERY_PAGE, limit);
    // Rows appended while we page push older ones down: a row may come twice, never be missed.
    const seen = new Set<string>();
    for (let offset = 0; out.length < limit; offset += page) {
      const ids = await redis.zrevrangebyscore(this.k('log'), max, min, 'LIMIT', offset, page);
      const fresh = ids.filter((id) => !seen.has(id));
      for (const id of fresh) seen.add(id);
      const values = fresh.length > 0 ? await redis.hmget(this.k('logrows'), ...fresh) : [];
      for (const raw of values) {
        if (raw === null) continue; // pruned meanwhile
        const row = JSON.parse(raw) as RequestLogRow;
        if (matchesQuery(row, query)) out.push(cleanRow(row));
        if (out.length >= limit) break;
      }
      if (ids.length < page) break;
    }
    return out;
  }

  async pruneRequestLog(olderThan: number, maxRows: number): Promise<number> {
    assertPrune(olderThan, maxRows);
    // Redis's own spelling of an endless bound.
    const before = Number.isFinite(olderThan) ? olderThan : olderThan > 0 ? '+inf' : '-inf';
    let pruned = 0;
    // Bounded: every step deletes up to a batch; the log holds finitely many rows.
    for (let steps = 0; steps < 100_000; steps++) {
      const n = await this.redis.gwPruneLog(this.k('log'), this.k('logrows'), before, maxRows, DELETE_BATCH);
      pruned += n;
      if (n < DELETE_BATCH) break;
    }
    return pruned;
  }
}
