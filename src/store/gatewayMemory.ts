/**
 * The gateway's store in plain maps, for MemoryStore: tokens by name with an index by hash,
 * usage per client (its total and its last few days), and the request log as an array kept
 * in time order.
 */
import { StoreRejectedError } from './errors.ts';
import type { ClientUsage, GatewayStore, RequestLogQuery, RequestLogRow, StoredToken } from './gatewayTypes.ts';
import {
  applyTokenChange,
  assertLogRows,
  assertPrune,
  assertToken,
  assertTokenChange,
  assertUsage,
  byRequests,
  cleanRow,
  cleanToken,
  matchesQuery,
  queryLimit,
} from './gatewayValidate.ts';

/** Days of usage kept per client: today, and a late flush of yesterday. */
const DAYS_KEPT = 3;

const zero = (): ClientUsage => ({ requests: 0, tokens: 0, errors: 0 });

function add(into: ClientUsage, delta: ClientUsage): void {
  into.requests += delta.requests;
  into.tokens += delta.tokens;
  into.errors += delta.errors;
}

/** Index of the first row whose `at` is greater than `at` (rows sorted by `at`). */
function upperBound(rows: readonly RequestLogRow[], at: number): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (rows[mid]!.at <= at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first row whose `at` is at least `at`. */
function lowerBound(rows: readonly RequestLogRow[], at: number): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (rows[mid]!.at < at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** {@link GatewayStore} in memory. Nothing is shared with other processes. */
export class MemoryGatewayStore implements GatewayStore {
  private readonly tokens = new Map<string, StoredToken>();
  /** hash -> name. */
  private readonly byHash = new Map<string, string>();
  private readonly usage = new Map<string, { total: ClientUsage; days: Map<string, ClientUsage> }>();
  /** Sorted by `at`; rows of equal `at` in the order they came. */
  private readonly log: RequestLogRow[] = [];

  async createToken(token: StoredToken): Promise<void> {
    assertToken(token);
    if (this.tokens.has(token.name)) throw new StoreRejectedError(`a token named ${token.name} exists already`);
    if (this.byHash.has(token.hash)) throw new StoreRejectedError('a token with this hash exists already');
    this.tokens.set(token.name, cleanToken(token));
    this.byHash.set(token.hash, token.name);
  }

  async listTokens(): Promise<StoredToken[]> {
    // Map order is insertion order, which is creation order.
    return [...this.tokens.values()].map(cleanToken).sort((a, b) => a.createdAt - b.createdAt);
  }

  async tokenByHash(hash: string): Promise<StoredToken | undefined> {
    const name = this.byHash.get(hash);
    return name === undefined ? undefined : this.tokenByName(name);
  }

  async tokenByName(name: string): Promise<StoredToken | undefined> {
    const t = this.tokens.get(name);
    return t && cleanToken(t);
  }

  async revokeToken(name: string, at: number): Promise<boolean> {
    const t = this.tokens.get(name);
    if (!t || t.revokedAt !== undefined) return false;
    t.revokedAt = at;
    return true;
  }

  async updateToken(name: string, change: Partial<Pick<StoredToken, 'models' | 'limits' | 'expiresAt'>>): Promise<boolean> {
    assertTokenChange(change);
    const t = this.tokens.get(name);
    if (!t) return false;
    this.tokens.set(name, applyTokenChange(t, change));
    return true;
  }

  async addClientUsage(client: string, day: string, delta: ClientUsage): Promise<void> {
    assertUsage(client, day, delta);
    let u = this.usage.get(client);
    if (!u) this.usage.set(client, (u = { total: zero(), days: new Map() }));
    add(u.total, delta);
    let d = u.days.get(day);
    if (!d) {
      u.days.set(day, (d = zero()));
      const days = [...u.days.keys()].sort();
      for (const old of days.slice(0, Math.max(0, days.length - DAYS_KEPT))) u.days.delete(old);
    }
    add(d, delta);
  }

  async clientUsage(client: string, day: string): Promise<{ day: ClientUsage; total: ClientUsage }> {
    const u = this.usage.get(client);
    return { day: { ...(u?.days.get(day) ?? zero()) }, total: { ...(u?.total ?? zero()) } };
  }

  async topClients(day: string, prefix: string, limit: number): Promise<Array<{ client: string } & ClientUsage>> {
    const out: Array<{ client: string } & ClientUsage> = [];
    for (const [client, u] of this.usage) {
      const d = u.days.get(day);
      if (d && client.startsWith(prefix)) out.push({ client, ...d });
    }
    return byRequests(out, limit);
  }

  async appendRequestLog(rows: readonly RequestLogRow[], maxRows?: number): Promise<void> {
    assertLogRows(rows, maxRows);
    for (const r of rows) {
      const row = cleanRow(r);
      const last = this.log[this.log.length - 1];
      if (!last || last.at <= row.at) this.log.push(row);
      else this.log.splice(upperBound(this.log, row.at), 0, row);
    }
    if (maxRows !== undefined && this.log.length > maxRows) this.log.splice(0, this.log.length - maxRows);
  }

  async queryRequestLog(query: RequestLogQuery): Promise<RequestLogRow[]> {
    const limit = queryLimit(query);
    const out: RequestLogRow[] = [];
    const end = query.until === undefined ? this.log.length : lowerBound(this.log, query.until);
    for (let i = end - 1; i >= 0 && out.length < limit; i--) {
      const r = this.log[i]!;
      if (query.since !== undefined && r.at < query.since) break;
      if (matchesQuery(r, query)) out.push(cleanRow(r));
    }
    return out;
  }

  async pruneRequestLog(olderThan: number, maxRows: number): Promise<number> {
    assertPrune(olderThan, maxRows);
    const before = this.log.length;
    this.log.splice(0, lowerBound(this.log, olderThan));
    if (this.log.length > maxRows) this.log.splice(0, this.log.length - maxRows);
    return before - this.log.length;
  }
}
