/**
 * SqliteStore: the default StateStore, one file `${dataDir}/state.db` through better-sqlite3.
 *
 * WAL mode with `synchronous=NORMAL`: a process killed at any moment loses nothing it
 * committed (only a power cut may lose the last transactions), and readers never block the
 * writer. The schema is built by an ordered list of migrations recorded in `schema_version`;
 * to change it, append a migration to {@link MIGRATIONS}, never edit a released one.
 *
 * The interface is async, the work is synchronous: better-sqlite3 answers in microseconds,
 * faster than a promise round trip to a thread would be.
 */
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import pino, { type Logger } from 'pino';
import type {
  CounterDelta,
  CounterRow,
  KeyStateChange,
  ModelScope,
  StateStore,
  StoredConversation,
  StoredKeyState,
} from './types.ts';
import { dashboardSchema, SqliteDashboardStore } from './dashboardSqlite.ts';
import { DelegatesGatewayStore } from './gatewayDelegate.ts';
import { gatewaySchema, SqliteGatewayStore } from './gatewaySqlite.ts';
import { openDatabase, prepareDataDir } from './sqliteFile.ts';
import { assertCounterDeltas, assertCounterRows } from './validate.ts';

/** One step of the schema. `version` values are 1, 2, 3 ... in order. */
export interface Migration {
  version: number;
  /** What it does, for the log and for people reading the table. */
  description: string;
  /** Runs inside a transaction with the version record; throw to abort both. */
  up(db: Database.Database): void;
}

/** The schema, oldest first. Append; never edit a released migration. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'key states, counters, conversations, meta',
    up(db) {
      db.exec(`
        CREATE TABLE key_states (
          key_hash  TEXT NOT NULL,
          model     TEXT NOT NULL,           -- '*' is the whole key
          status    TEXT NOT NULL CHECK (status IN ('cooling', 'disabled')),
          until_ms  INTEGER,                 -- cooling only
          since_ms  INTEGER,                 -- disabled only
          reason    TEXT NOT NULL,
          kind      TEXT NOT NULL,
          PRIMARY KEY (key_hash, model)
        ) WITHOUT ROWID;

        CREATE TABLE counters (
          key_hash        TEXT NOT NULL,
          model           TEXT NOT NULL,
          usage           INTEGER NOT NULL DEFAULT 0,
          errors          INTEGER NOT NULL DEFAULT 0,
          latency_ms      REAL NOT NULL DEFAULT 0,
          day             TEXT NOT NULL,     -- Pacific day of the two fields below
          requests_today  INTEGER NOT NULL DEFAULT 0,
          tokens_today    INTEGER NOT NULL DEFAULT 0,
          PRIMARY KEY (key_hash, model)
        ) WITHOUT ROWID;

        CREATE TABLE conversations (
          id          TEXT PRIMARY KEY,
          model       TEXT NOT NULL,
          history     TEXT NOT NULL,         -- JSON ChatTurn[]
          owner_id    TEXT,
          updated_at  INTEGER NOT NULL
        );
        CREATE INDEX conversations_updated_at ON conversations (updated_at);

        CREATE TABLE meta (
          name   TEXT PRIMARY KEY,
          value  TEXT NOT NULL
        );
      `);
    },
  },
  { version: 2, description: 'gateway: client tokens, client usage, request log', up: gatewaySchema },
  { version: 3, description: 'dashboard: sessions, keys added at runtime', up: dashboardSchema },
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Options of {@link SqliteStore}. */
export interface SqliteStoreOptions {
  /**
   * File name inside `dataDir`.
   * @default 'state.db'
   */
  fileName?: string;
  /**
   * The migrations to apply; tests use it to build an old database.
   * @default MIGRATIONS
   */
  migrations?: readonly Migration[];
  /**
   * Where a corrupt database found at start is reported.
   * @default a pino logger at level info
   */
  logger?: Logger;
}

/**
 * Applies the migrations the database has not seen yet, each in its own transaction
 * with its version record. Returns the versions applied.
 * @throws Error when the database was written by a newer schema than `migrations` knows.
 */
export function migrate(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS): number[] {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new TypeError(`migration #${i} has version ${m.version}, expected ${i + 1}`);
  });
  db.exec(`CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at  INTEGER NOT NULL
  )`);
  const current = (db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM schema_version').get() as { v: number }).v;
  if (current > migrations.length) {
    throw new Error(
      `state.db has schema version ${current}, newer than this code knows (${migrations.length}); ` +
        'upgrade the bot or point DATA_DIR elsewhere',
    );
  }
  const record = db.prepare('INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)');
  const applied: number[] = [];
  for (const m of migrations.slice(current)) {
    // IMMEDIATE: two processes opening a fresh file at once must not both migrate.
    db.transaction(() => {
      const again = (db.prepare('SELECT 1 FROM schema_version WHERE version = ?').get(m.version) as unknown) !== undefined;
      if (again) return;
      m.up(db);
      record.run(m.version, m.description, Date.now());
      applied.push(m.version);
    }).immediate();
  }
  return applied;
}

interface StateRow {
  key_hash: string;
  model: string;
  status: 'cooling' | 'disabled';
  until_ms: number | null;
  since_ms: number | null;
  reason: string;
  kind: string;
}

interface CounterDbRow {
  key_hash: string;
  model: string;
  usage: number;
  errors: number;
  latency_ms: number;
  day: string;
  requests_today: number;
  tokens_today: number;
}

interface ConversationRow {
  model: string;
  history: string;
  owner_id: string | null;
  updated_at: number;
}

export class SqliteStore extends DelegatesGatewayStore implements StateStore {
  readonly kind = 'sqlite' as const;
  /** Full path of the database file. */
  readonly file: string;
  /** The underlying connection, for tests and maintenance (`PRAGMA integrity_check`). */
  readonly db: Database.Database;
  protected readonly gateway: SqliteGatewayStore;
  protected readonly dashboard: SqliteDashboardStore;

  private readonly stmt;
  private readonly addBatch: (deltas: readonly CounterDelta[]) => void;
  private readonly raiseBatch: (rows: readonly CounterRow[]) => void;

  /**
   * Opens (creating the directory and file if missing) `${dataDir}/state.db`, checks it
   * (`PRAGMA quick_check`; a corrupt file is kept as `state.db.corrupt-<time>` and a fresh
   * one started) and brings its schema up to date.
   * @throws Error naming DATA_DIR or the file when either cannot be used.
   */
  constructor(dataDir: string, options: SqliteStoreOptions = {}) {
    super();
    prepareDataDir(dataDir);
    this.file = join(dataDir, options.fileName ?? 'state.db');
    this.db = openDatabase(this.file, options.logger ?? pino({ name: 'store' }));
    try {
      migrate(this.db, options.migrations ?? MIGRATIONS);
    } catch (e) {
      this.db.close();
      throw new Error(`cannot open the SQLite database ${this.file}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }

    const db = this.db;
    this.gateway = new SqliteGatewayStore(db);
    this.dashboard = new SqliteDashboardStore(db);
    this.stmt = {
      statesOf: db.prepare<[string, number]>(
        `SELECT key_hash, model, status, until_ms, since_ms, reason, kind FROM key_states
         WHERE key_hash IN (SELECT value FROM json_each(?))
           AND NOT (status = 'cooling' AND until_ms <= ?)`,
      ),
      deleteExpired: db.prepare<[number]>(`DELETE FROM key_states WHERE status = 'cooling' AND until_ms <= ?`),
      putState: db.prepare<[string, string, string, number | null, number | null, string, string]>(
        `INSERT INTO key_states (key_hash, model, status, until_ms, since_ms, reason, kind)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (key_hash, model) DO UPDATE SET
           status = excluded.status, until_ms = excluded.until_ms, since_ms = excluded.since_ms,
           reason = excluded.reason, kind = excluded.kind`,
      ),
      clearState: db.prepare<[string, string]>('DELETE FROM key_states WHERE key_hash = ? AND model = ?'),
      // Today's fields: same day adds; a newer day starts again from the delta; a delta of
      // an older day (a late flush across midnight) no longer counts for "today".
      // In SET, every right-hand side reads the row as it was before the update.
      addCounter: db.prepare<[string, string, number, number, number, string, number, number]>(
        `INSERT INTO counters (key_hash, model, usage, errors, latency_ms, day, requests_today, tokens_today)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (key_hash, model) DO UPDATE SET
           usage = usage + excluded.usage,
           errors = errors + excluded.errors,
           latency_ms = latency_ms + excluded.latency_ms,
           requests_today = CASE
             WHEN excluded.day = day THEN requests_today + excluded.requests_today
             WHEN excluded.day > day THEN excluded.requests_today
             ELSE requests_today END,
           tokens_today = CASE
             WHEN excluded.day = day THEN tokens_today + excluded.tokens_today
             WHEN excluded.day > day THEN excluded.tokens_today
             ELSE tokens_today END,
           day = MAX(day, excluded.day)`,
      ),
      raiseCounter: db.prepare<[string, string, number, number, number, string, number, number]>(
        `INSERT INTO counters (key_hash, model, usage, errors, latency_ms, day, requests_today, tokens_today)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (key_hash, model) DO UPDATE SET
           usage = MAX(usage, excluded.usage),
           errors = MAX(errors, excluded.errors),
           latency_ms = MAX(latency_ms, excluded.latency_ms),
           requests_today = CASE
             WHEN excluded.day = day THEN MAX(requests_today, excluded.requests_today)
             WHEN excluded.day > day THEN excluded.requests_today
             ELSE requests_today END,
           tokens_today = CASE
             WHEN excluded.day = day THEN MAX(tokens_today, excluded.tokens_today)
             WHEN excluded.day > day THEN excluded.tokens_today
             ELSE tokens_today END,
           day = MAX(day, excluded.day)`,
      ),
      countersOf: db.prepare<[string]>(
        `SELECT key_hash, model, usage, errors, latency_ms, day, requests_today, tokens_today FROM counters
         WHERE key_hash IN (SELECT value FROM json_each(?))`,
      ),
      resetCounters: db.prepare('UPDATE counters SET usage = 0, errors = 0, latency_ms = 0'),
      getConversation: db.prepare<[string]>('SELECT model, history, owner_id, updated_at FROM conversations WHERE id = ?'),
      putConversation: db.prepare<[string, string, string, string | null, number]>(
        `INSERT INTO conversations (id, model, history, owner_id, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET
           model = excluded.model, history = excluded.history,
           owner_id = excluded.owner_id, updated_at = excluded.updated_at`,
      ),
      deleteConversation: db.prepare<[string]>('DELETE FROM conversations WHERE id = ?'),
      pruneConversations: db.prepare<[number]>('DELETE FROM conversations WHERE updated_at < ?'),
      getMeta: db.prepare<[string]>('SELECT value FROM meta WHERE name = ?'),
      putMeta: db.prepare<[string, string]>(
        'INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
      ),
    };
    const raise = this.stmt.raiseCounter;
    this.raiseBatch = db.transaction((rows: readonly CounterRow[]) => {
      for (const r of rows) {
        raise.run(r.keyHash, r.model, r.usage, r.errors, r.latencyMs, r.day, r.requestsToday, r.tokensToday);
      }
    });
    const add = this.stmt.addCounter;
    this.addBatch = db.transaction((deltas: readonly CounterDelta[]) => {
      for (const d of deltas) {
        add.run(d.keyHash, d.model, d.usage, d.errors, d.latencyMs, d.day, d.requests, d.tokens);
      }
    });
  }

  async loadKeyStates(keyHashes: readonly string[], now: number): Promise<Map<string, Map<ModelScope, StoredKeyState>>> {
    const out = new Map<string, Map<ModelScope, StoredKeyState>>();
    if (keyHashes.length === 0) return out;
    this.stmt.deleteExpired.run(now);
    for (const r of this.stmt.statesOf.all(JSON.stringify(keyHashes), now) as StateRow[]) {
      const kind = r.kind;
      const state: StoredKeyState =
        r.status === 'cooling'
          ? { status: 'cooling', until: r.until_ms ?? 0, reason: r.reason, kind }
          : { status: 'disabled', since: r.since_ms ?? 0, reason: r.reason, kind };
      let m = out.get(r.key_hash);
      if (!m) out.set(r.key_hash, (m = new Map()));
      m.set(r.model, state);
    }
    return out;
  }

  async setKeyState(keyHash: string, model: ModelScope, state: StoredKeyState | null): Promise<void> {
    if (state === null) {
      this.stmt.clearState.run(keyHash, model);
    } else if (state.status === 'cooling') {
      this.stmt.putState.run(keyHash, model, 'cooling', state.until, null, state.reason, state.kind);
    } else {
      this.stmt.putState.run(keyHash, model, 'disabled', null, state.since, state.reason, state.kind);
    }
  }

  async addCounters(deltas: readonly CounterDelta[]): Promise<void> {
    assertCounterDeltas(deltas);
    if (deltas.length > 0) this.addBatch(deltas);
  }

  async raiseCounters(rows: readonly CounterRow[]): Promise<void> {
    assertCounterRows(rows);
    if (rows.length > 0) this.raiseBatch(rows);
  }

  async loadCounters(keyHashes: readonly string[], day: string): Promise<CounterRow[]> {
    if (keyHashes.length === 0) return [];
    return (this.stmt.countersOf.all(JSON.stringify(keyHashes)) as CounterDbRow[]).map((r) => {
      const today = r.day === day;
      return {
        keyHash: r.key_hash,
        model: r.model,
        usage: r.usage,
        errors: r.errors,
        latencyMs: r.latency_ms,
        day,
        requestsToday: today ? r.requests_today : 0,
        tokensToday: today ? r.tokens_today : 0,
      };
    });
  }

  async resetCounters(): Promise<void> {
    this.stmt.resetCounters.run();
  }

  async getConversation(id: string): Promise<StoredConversation | undefined> {
    const r = this.stmt.getConversation.get(id) as ConversationRow | undefined;
    if (!r) return undefined;
    const c: StoredConversation = { model: r.model, history: JSON.parse(r.history) as StoredConversation['history'], updatedAt: r.updated_at };
    if (r.owner_id !== null) c.ownerId = r.owner_id;
    return c;
  }

  async saveConversation(id: string, c: StoredConversation): Promise<void> {
    this.stmt.putConversation.run(id, c.model, JSON.stringify(c.history), c.ownerId ?? null, c.updatedAt);
  }

  async deleteConversation(id: string): Promise<void> {
    this.stmt.deleteConversation.run(id);
  }

  async pruneConversations(olderThan: number): Promise<number> {
    return this.stmt.pruneConversations.run(olderThan).changes;
  }

  async getMeta(name: string): Promise<string | undefined> {
    return (this.stmt.getMeta.get(name) as { value: string } | undefined)?.value;
  }

  async setMeta(name: string, value: string): Promise<void> {
    this.stmt.putMeta.run(name, value);
  }

  subscribe(_listener: (change: KeyStateChange) => void): () => void {
    // Shards sharing one file do not hear each other; that is what STORE=redis is for.
    return () => {};
  }

  /** The schema version recorded in the file. */
  schemaVersion(): number {
    return (this.db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM schema_version').get() as { v: number }).v;
  }

  async close(): Promise<void> {
    if (!this.db.open) return;
    // Folds the WAL back into the main file so a copied state.db is complete.
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // Another process holds the WAL; it will checkpoint.
    }
    this.db.close();
  }
}
