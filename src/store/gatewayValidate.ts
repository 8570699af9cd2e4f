/**
 * What every store checks before it writes the gateway's data, and the parts of a request
 * log query every store reads the same way. A bad value (a limit of "10" or -1, a row
 * without a status) is refused as a whole with a StoreRejectedError, never half written.
 */
import { StoreRejectedError } from './errors.ts';
import type { ClientUsage, RequestLogQuery, RequestLogRow, StoredToken, TokenLimits } from './gatewayTypes.ts';

/** Rows a query returns when it does not say. */
export const DEFAULT_LOG_LIMIT = 100;

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const LIMIT_NAMES = ['rpm', 'rpd', 'tpd'] as const;

/** A value as an error message may show it: its type, and a short form of a number. */
function shown(v: unknown): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return `a string of ${v.length} characters`;
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const isText = (v: unknown): v is string => typeof v === 'string' && v !== '';

function limitsProblem(limits: unknown): string | undefined {
  if (typeof limits !== 'object' || limits === null || Array.isArray(limits)) return `limits must be an object (got ${shown(limits)})`;
  for (const name of LIMIT_NAMES) {
    const v = (limits as Record<string, unknown>)[name];
    if (v !== undefined && !(isCount(v) && v > 0)) return `limits.${name} must be a positive integer (got ${shown(v)})`;
  }
  return undefined;
}

function modelsProblem(models: unknown): string | undefined {
  if (models === undefined) return undefined;
  if (!Array.isArray(models) || models.length === 0 || !models.every(isText)) return 'models must be a non-empty list of model names';
  return undefined;
}

/**
 * Checks a token before it is stored.
 * @throws StoreRejectedError naming the first bad field.
 */
export function assertToken(t: StoredToken): void {
  if (typeof t !== 'object' || t === null) throw new StoreRejectedError(`token refused: is ${shown(t)}, not an object`);
  const problem =
    (!isText(t.name) && `name must be a non-empty string (got ${shown(t.name)})`) ||
    (!(typeof t.hash === 'string' && SHA256_HEX.test(t.hash)) && 'hash must be a SHA-256 in lower-case hex') ||
    (!isText(t.prefix) && 'prefix must be a non-empty string') ||
    modelsProblem(t.models) ||
    limitsProblem(t.limits) ||
    (!isTime(t.createdAt) && `createdAt must be epoch ms (got ${shown(t.createdAt)})`) ||
    (t.expiresAt !== undefined && !isTime(t.expiresAt) && `expiresAt must be epoch ms (got ${shown(t.expiresAt)})`) ||
    (t.revokedAt !== undefined && !isTime(t.revokedAt) && `revokedAt must be epoch ms (got ${shown(t.revokedAt)})`);
  if (problem) throw new StoreRejectedError(`token refused: ${problem}`);
}

/**
 * Checks a change of a token before it is applied.
 * @throws StoreRejectedError naming the first bad field.
 */
export function assertTokenChange(change: Partial<Pick<StoredToken, 'models' | 'limits' | 'expiresAt'>>): void {
  const problem =
    ((typeof change !== 'object' || change === null) && 'a change must be an object') ||
    modelsProblem(change.models) ||
    (change.limits !== undefined && limitsProblem(change.limits)) ||
    (change.expiresAt !== undefined && !isTime(change.expiresAt) && `expiresAt must be epoch ms (got ${shown(change.expiresAt)})`);
  if (problem) throw new StoreRejectedError(`token change refused: ${problem}`);
}

/**
 * Checks a usage increment before it is added.
 * @throws StoreRejectedError naming the bad field.
 */
export function assertUsage(client: string, day: string, delta: ClientUsage): void {
  let problem: string | undefined;
  if (!isText(client)) problem = `client must be a non-empty string (got ${shown(client)})`;
  else if (typeof day !== 'string' || !DAY.test(day)) problem = 'day must be YYYY-MM-DD';
  else {
    for (const f of ['requests', 'tokens', 'errors'] as const) {
      if (!isCount(delta?.[f])) {
        problem = `${f} must be a non-negative integer (got ${shown(delta?.[f])})`;
        break;
      }
    }
  }
  if (problem) throw new StoreRejectedError(`usage refused: ${problem}`);
}

function rowProblem(r: RequestLogRow): string | undefined {
  if (typeof r !== 'object' || r === null) return `is ${shown(r)}, not an object`;
  if (!isTime(r.at)) return `at must be epoch ms (got ${shown(r.at)})`;
  for (const f of ['token', 'route', 'model'] as const) if (typeof r[f] !== 'string') return `${f} must be a string (got ${shown(r[f])})`;
  for (const f of ['keyId', 'kind', 'requestBody', 'responseBody'] as const) {
    if (r[f] !== undefined && typeof r[f] !== 'string') return `${f} must be a string when present (got ${shown(r[f])})`;
  }
  if (!(Number.isInteger(r.status) && r.status >= 100 && r.status <= 599)) return `status must be an HTTP status (got ${shown(r.status)})`;
  for (const f of ['attempts', 'tokensIn', 'tokensOut'] as const) if (!isCount(r[f])) return `${f} must be a non-negative integer (got ${shown(r[f])})`;
  if (!isTime(r.latencyMs)) return `latencyMs must be a finite number >= 0 (got ${shown(r.latencyMs)})`;
  if (typeof r.streamed !== 'boolean') return `streamed must be a boolean (got ${shown(r.streamed)})`;
  return undefined;
}

/**
 * Checks request log rows before any is written.
 * @throws StoreRejectedError naming the first bad row and field.
 */
export function assertLogRows(rows: readonly RequestLogRow[], maxRows?: number): void {
  if (!Array.isArray(rows)) throw new StoreRejectedError(`request log rows must be an array (got ${shown(rows)})`);
  if (maxRows !== undefined && !(isCount(maxRows) && maxRows > 0)) throw new StoreRejectedError(`maxRows must be a positive integer (got ${shown(maxRows)})`);
  for (let i = 0; i < rows.length; i++) {
    const p = rowProblem(rows[i]!);
    if (p) throw new StoreRejectedError(`request log rows refused: row ${i + 1} of ${rows.length}: ${p}`);
  }
}

/**
 * Checks the arguments of a prune.
 * @throws StoreRejectedError when `olderThan` is not a time or `maxRows` not a count.
 */
export function assertPrune(olderThan: number, maxRows: number): void {
  if (typeof olderThan !== 'number' || Number.isNaN(olderThan)) throw new StoreRejectedError(`olderThan must be epoch ms (got ${shown(olderThan)})`);
  if (!isCount(maxRows)) throw new StoreRejectedError(`maxRows must be a non-negative integer (got ${shown(maxRows)})`);
}

/** How many rows a query asks for. @throws StoreRejectedError when `limit` is not a positive integer. */
export function queryLimit(q: RequestLogQuery): number {
  const limit = q.limit ?? DEFAULT_LOG_LIMIT;
  if (!(isCount(limit) && limit > 0)) throw new StoreRejectedError(`limit must be a positive integer (got ${shown(limit)})`);
  return limit;
}

/** Whether a row passes every filter of a query (limit aside). */
export function matchesQuery(r: RequestLogRow, q: RequestLogQuery): boolean {
  return (
    (q.token === undefined || r.token === q.token) &&
    (q.keyId === undefined || r.keyId === q.keyId) &&
    (q.model === undefined || r.model === q.model) &&
    (q.status === undefined || r.status === q.status) &&
    (q.kind === undefined || r.kind === q.kind) &&
    (q.since === undefined || r.at >= q.since) &&
    (q.until === undefined || r.at < q.until)
  );
}

/** A row with only the fields it has (no `undefined` values), as every store returns it. */
export function cleanRow(r: RequestLogRow): RequestLogRow {
  const out: RequestLogRow = {
    at: r.at,
    token: r.token,
    route: r.route,
    model: r.model,
    status: r.status,
    attempts: r.attempts,
    latencyMs: r.latencyMs,
    tokensIn: r.tokensIn,
    tokensOut: r.tokensOut,
    streamed: r.streamed,
  };
  if (r.keyId !== undefined) out.keyId = r.keyId;
  if (r.kind !== undefined) out.kind = r.kind;
  if (r.requestBody !== undefined) out.requestBody = r.requestBody;
  if (r.responseBody !== undefined) out.responseBody = r.responseBody;
  return out;
}

/** Limits with only the limits they set (no unknown fields, no `undefined` values). */
export function cleanLimits(limits: TokenLimits): TokenLimits {
  const out: TokenLimits = {};
  for (const name of LIMIT_NAMES) if (limits[name] !== undefined) out[name] = limits[name];
  return out;
}

/** A token with only the fields it has, limits copied, as every store returns it. */
export function cleanToken(t: StoredToken): StoredToken {
  const out: StoredToken = { name: t.name, hash: t.hash, prefix: t.prefix, limits: cleanLimits(t.limits), createdAt: t.createdAt };
  if (t.models !== undefined) out.models = [...t.models];
  if (t.expiresAt !== undefined) out.expiresAt = t.expiresAt;
  if (t.revokedAt !== undefined) out.revokedAt = t.revokedAt;
  return out;
}

/** `token` with `change` applied (see `GatewayStore.updateToken`). */
export function applyTokenChange(token: StoredToken, change: Partial<Pick<StoredToken, 'models' | 'limits' | 'expiresAt'>>): StoredToken {
  const next = { ...token };
  if ('models' in change) {
    if (change.models === undefined) delete next.models;
    else next.models = [...change.models];
  }
  if (change.limits !== undefined) next.limits = { ...change.limits };
  if ('expiresAt' in change) {
    if (change.expiresAt === undefined) delete next.expiresAt;
    else next.expiresAt = change.expiresAt;
  }
  return cleanToken(next);
}

/** Usage rows, most requests first (then by name), at most `limit`. */
export function byRequests<T extends { client: string; requests: number }>(rows: T[], limit: number): T[] {
  return rows.sort((a, b) => b.requests - a.requests || (a.client < b.client ? -1 : a.client > b.client ? 1 : 0)).slice(0, Math.max(0, Math.floor(limit)));
}
