/**
 * The gateway's store in SQLite, for SqliteStore: three tables on the same connection,
 * built by {@link gatewaySchema} (migration 2). Statements are prepared on first use, so a
 * file opened with an older migration list (a test building an old database) still opens.
 */
import type Database from 'better-sqlite3';
import { StoreRejectedError } from './errors.ts';
import type { ClientUsage, GatewayStore, RequestLogQuery, RequestLogRow, StoredToken, TokenLimits } from './gatewayTypes.ts';
import {
  applyTokenChange,
  assertLogRows,
  assertPrune,
  assertToken,
  assertTokenChange,
  assertUsage,
  cleanRow,
  cleanToken,
  queryLimit,
} from './gatewayValidate.ts';

/** The `day` of a client's all-time row in `client_usage`. */
const TOTAL = 'total';

/** Migration 2: client tokens, their usage, the request log. */
export function gatewaySchema(db: Database.Database): void {
  db.exec(`
    CREATE TABLE gateway_tokens (
      name        TEXT PRIMARY KEY,
      hash        TEXT NOT NULL UNIQUE,      -- SHA-256 of the token, hex; never the token
      prefix      TEXT NOT NULL,
      models      TEXT,                      -- JSON string[]; NULL: every model
      limits      TEXT NOT NULL,             -- JSON { rpm?, rpd?, tpd? }
      created_at  INTEGER NOT NULL,
      expires_at  INTEGER,
      revoked_at  INTEGER
    );

    CREATE TABLE client_usage (
      client    TEXT NOT NULL,
      day       TEXT NOT NULL,               -- Pacific YYYY-MM-DD, or 'total'
      requests  INTEGER NOT NULL DEFAULT 0,
      tokens    INTEGER NOT NULL DEFAULT 0,
      errors    INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY (client, day)
    ) WITHOUT ROWID;

    CREATE TABLE request_log (
      id             INTEGER PRIMARY KEY,
      at             INTEGER NOT NULL,
      token          TEXT NOT NULL,
      route          TEXT NOT NULL,
      model          TEXT NOT NULL,
      key_id         TEXT,
      status         INTEGER NOT NULL,
      kind           TEXT,
      attempts       INTEGER NOT NULL,
      latency_ms     REAL NOT NULL,
      tokens_in      INTEGER NOT NULL,
      tokens_out     INTEGER NOT NULL,
      streamed       INTEGER NOT NULL,
      request_body   TEXT,
      response_body  TEXT
    );
    CREATE INDEX request_log_at ON request_log (at, id);
  `);
}

interface TokenDbRow {
  name: string;
  hash: string;
  prefix: string;
  models: string | null;
  limits: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
}

interface LogDbRow {
  at: number;
  token: string;
  route: string;
  model: string;
  key_id: string | null;
  status: number;
  kind: string | null;
  attempts: number;
  latency_ms: number;
  tokens_in: number;
  tokens_out: number;
  streamed: number;
  request_body: string | null;
  response_body: string | null;
}

function toToken(r: TokenDbRow): StoredToken {
  const t: StoredToken = { name: r.name, hash: r.hash, prefix: r.prefix, limits: JSON.parse(r.limits) as TokenLimits, createdAt: r.created_at };
  if (r.models !== null) t.models = JSON.parse(r.models) as string[];
  if (r.expires_at !== null) t.expiresAt = r.expires_at;
  if (r.revoked_at !== null) t.revokedAt = r.revoked_at;
  return cleanToken(t);
}

function toRow(r: LogDbRow): RequestLogRow {
  const row: RequestLogRow = {
    at: r.at,
    token: r.token,
    route: r.route,
    model: r.model,
    status: r.status,
    attempts: r.attempts,
    latencyMs: r.latency_ms,
    tokensIn: r.tokens_in,
    tokensOut: r.tokens_out,
    streamed: r.streamed === 1,
  };
  if (r.key_id !== null) row.keyId = r.key_id;
  if (r.kind !== null) row.kind = r.kind;
  if (r.request_body !== null) row.requestBody = r.request_body;
  if (r.response_body !== null) row.responseBody = r.response_body;
  return row;
}

const LOG_COLUMNS = 'at, token, route, model, key_id, status, kind, attempts, latency_ms, tokens_in, tokens_out, streamed, request_body, response_body';
const TOKEN_COLUMNS = 'name, hash, prefix, models, limits, created_at, expires_at, revoked_at';

/** The statements and transactions, prepared once the tables exist. */
function prepare(db: Database.Database) {
  const s = {
    insertToken: db.prepare(`INSERT INTO gateway_tokens (${TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
    tokenNamed: db.prepare<[string]>(`SELECT ${TOKEN_COLUMNS} FROM gateway_tokens WHERE name = ?`),
    tokenHashed: db.prepare<[string]>(`SELECT ${TOKEN_COLUMNS} FROM gateway_tokens WHERE hash = ?`),
    tokens: db.prepare(`SELECT ${TOKEN_COLUMNS} FROM gateway_tokens ORDER BY created_at, rowid`),
    revoke: db.prepare<[number, string]>('UPDATE gateway_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL'),
    update: db.prepare<[string | null, string, number | null, string]>(
      'UPDATE gateway_tokens SET models = ?, limits = ?, expires_at = ? WHERE name = ?',
    ),
    addUsage: db.prepare<[string, string, number, number, number]>(
      `INSERT INTO client_usage (client, day, requests, tokens, errors) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (client, day) DO UPDATE SET
         requests = requests + excluded.requests, tokens = tokens + excluded.tokens, errors = errors + excluded.errors`,
    ),
    usage: db.prepare<[string, string]>('SELECT requests, tokens, errors FROM client_usage WHERE client = ? AND day = ?'),
    top: db.prepare<[string, number, string, number]>(
      'SELECT client, requests, tokens, errors FROM client_usage WHERE day = ? AND substr(client, 1, ?) = ? ORDER BY requests DESC, client LIMIT ?',
    ),
    insertRow: db.prepare(`INSERT INTO request_log (${LOG_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    // Every filter is optional: NULL matches every row. Newest first.
    query: db.prepare(
      `SELECT ${LOG_COLUMNS} FROM request_log
       WHERE (@token IS NULL OR token = @token) AND (@keyId IS NULL OR key_id = @keyId)
         AND (@model IS NULL OR model = @model) AND (@status IS NULL OR status = @status)
         AND (@kind IS NULL OR kind = @kind) AND (@since IS NULL OR at >= @since)
         AND (@until IS NULL OR at < @until)
       ORDER BY at DESC, id DESC LIMIT @limit`,
    ),
    count: db.prepare('SELECT count(*) FROM request_log').pluck(),
    deleteOld: db.prepare<[number]>('DELETE FROM request_log WHERE at < ?'),
    deleteOldest: db.prepare<[number]>('DELETE FROM request_log WHERE id IN (SELECT id FROM request_log ORDER BY at, id LIMIT ?)'),
  };
  /** Deletes the oldest rows beyond `maxRows`; returns how many. */
  const cap = (maxRows: number): number => {
    const excess = (s.count.get() as number) - maxRows;
    return excess > 0 ? s.deleteOldest.run(excess).changes : 0;
  };
  return {
    ...s,
    append: db.transaction((rows: readonly RequestLogRow[], maxRows: number | undefined) => {
      for (const r of rows) {
        s.insertRow.run(
          r.at, r.token, r.route, r.model, r.keyId ?? null, r.status, r.kind ?? null, r.attempts, r.latencyMs,
          r.tokensIn, r.tokensOut, r.streamed ? 1 : 0, r.requestBody ?? null, r.responseBody ?? null,
        );
      }
      if (maxRows !== undefined) cap(maxRows);
    }),
    prune: db.transaction((olderThan: number, maxRows: number): number => s.deleteOld.run(olderThan).changes + cap(maxRows)),
    addUsageDayAndTotal: db.transaction((client: string, day: string, d: ClientUsage) => {
      s.addUsage.run(client, day, d.requests, d.tokens, d.errors);
      s.addUsage.run(client, TOTAL, d.requests, d.tokens, d.errors);
    }),
  };
}

/** {@link GatewayStore} over a SqliteStore's connection. */
export class SqliteGatewayStore implements GatewayStore {
  private prepared: ReturnType<typeof prepare> | undefined;

  constructor(private readonly db: Database.Database) {}

  private get s(): ReturnType<typeof prepare> {
    return (this.prepared ??= prepare(this.db));
  }

  async createToken(token: StoredToken): Promise<void> {
    assertToken(token);
    const t = cleanToken(token);
    try {
      this.s.insertToken.run(
        t.name, t.hash, t.prefix, t.models ? JSON.stringify(t.models) : null, JSON.stringify(t.limits), t.createdAt,
        t.expiresAt ?? null, t.revokedAt ?? null,
      );
    } catch (e) {
      // The constraints decide, so two processes creating the same name cannot both win.
      const { code, message } = e as { code?: unknown; message?: unknown };
      if (typeof code !== 'string' || !code.startsWith('SQLITE_CONSTRAINT')) throw e;
      throw new StoreRejectedError(
        String(message).includes('gateway_tokens.hash') ? 'a token with this hash exists already' : `a token named ${t.name} exists already`,
      );
    }
  }

  async listTokens(): Promise<StoredToken[]> {
    return (this.s.tokens.all() as TokenDbRow[]).map(toToken);
  }

  async tokenByHash(hash: string): Promise<StoredToken | undefined> {
    const r = this.s.tokenHashed.get(hash) as TokenDbRow | undefined;
    return r && toToken(r);
  }

  async tokenByName(name: string): Promise<StoredToken | undefined> {
    const r = this.s.tokenNamed.get(name) as TokenDbRow | undefined;
    return r && toToken(r);
  }

  async revokeToken(name: string, at: number): Promise<boolean> {
    return this.s.revoke.run(at, name).changes > 0;
  }

  async updateToken(name: string, change: Partial<Pick<StoredToken, 'models' | 'limits' | 'expiresAt'>>): Promise<boolean> {
    assertTokenChange(change);
    const s = this.s;
    // Read and write in one transaction, so two updates of different fields both stay.
    return this.db.transaction(() => {
      const current = s.tokenNamed.get(name) as TokenDbRow | undefined;
      if (!current) return false;
      const t = applyTokenChange(toToken(current), change);
      s.update.run(t.models ? JSON.stringify(t.models) : null, JSON.stringify(t.limits), t.expiresAt ?? null, name);
      return true;
    }).immediate();
  }

  async addClientUsage(client: string, day: string, delta: ClientUsage): Promise<void> {
    assertUsage(client, day, delta);
    this.s.addUsageDayAndTotal(client, day, delta);
  }

  async clientUsage(client: string, day: string): Promise<{ day: ClientUsage; total: ClientUsage }> {
    const zero = { requests: 0, tokens: 0, errors: 0 };
    const read = (d: string): ClientUsage => ({ ...((this.s.usage.get(client, d) as ClientUsage | undefined) ?? zero) });
    return { day: read(day), total: read(TOTAL) };
  }

  async topClients(day: string, prefix: string, limit: number): Promise<Array<{ client: string } & ClientUsage>> {
    const rows = this.s.top.all(day, prefix.length, prefix, Math.max(0, Math.floor(limit))) as Array<{ client: string } & ClientUsage>;
    return rows.map((r) => ({ client: r.client, requests: r.requests, tokens: r.tokens, errors: r.errors }));
  }

  async appendRequestLog(rows: readonly RequestLogRow[], maxRows?: number): Promise<void> {
    assertLogRows(rows, maxRows);
    if (rows.length === 0) return;
    this.s.append(rows.map(cleanRow), maxRows);
  }

  async queryRequestLog(query: RequestLogQuery): Promise<RequestLogRow[]> {
    const limit = queryLimit(query);
    const rows = this.s.query.all({
      token: query.token ?? null,
      keyId: query.keyId ?? null,
      model: query.model ?? null,
      status: query.status ?? null,
      kind: query.kind ?? null,
      since: query.since ?? null,
      until: query.until ?? null,
      limit,
    }) as LogDbRow[];
    return rows.map(toRow);
  }

  async pruneRequestLog(olderThan: number, maxRows: number): Promise<number> {
    assertPrune(olderThan, maxRows);
    return this.s.prune(olderThan, maxRows);
  }
}
