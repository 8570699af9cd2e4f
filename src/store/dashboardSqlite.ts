/**
 * The dashboard's store in SQLite, for SqliteStore: two tables built by
 * {@link dashboardSchema} (migration 3). Statements are prepared on first use, so a file
 * opened with an older migration list still opens.
 */
import type Database from 'better-sqlite3';
import { StoreRejectedError } from './errors.ts';
import { assertApiKey, assertSession, cleanApiKey, type DashboardStore, type StoredApiKey, type StoredSession } from './dashboardTypes.ts';

/** Migration 3: dashboard sessions and the keys operators added. */
export function dashboardSchema(db: Database.Database): void {
  db.exec(`
    CREATE TABLE dashboard_sessions (
      id            TEXT PRIMARY KEY,        -- SHA-256 of the session cookie; never the cookie
      csrf          TEXT NOT NULL,
      created_at    INTEGER NOT NULL,
      last_seen_at  INTEGER NOT NULL,
      expires_at    INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX dashboard_sessions_expires_at ON dashboard_sessions (expires_at);

    CREATE TABLE added_keys (
      hash      TEXT PRIMARY KEY,            -- the key's hash, as key_states has it
      hint      TEXT NOT NULL,               -- its last four characters
      grp       TEXT,                        -- its project, when named
      sealed    TEXT NOT NULL,               -- AES-256-GCM with the key from STATE_SECRET
      added_at  INTEGER NOT NULL
    );
  `);
}

interface SessionRow {
  id: string;
  csrf: string;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
}

interface KeyRow {
  hash: string;
  hint: string;
  grp: string | null;
  sealed: string;
  added_at: number;
}

function prepare(db: Database.Database) {
  return {
    putSession: db.prepare<[string, string, number, number, number]>(
      `INSERT INTO dashboard_sessions (id, csrf, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET csrf = excluded.csrf, created_at = excluded.created_at,
         last_seen_at = excluded.last_seen_at, expires_at = excluded.expires_at`,
    ),
    expired: db.prepare<[number]>('DELETE FROM dashboard_sessions WHERE expires_at <= ?'),
    session: db.prepare<[string, number]>('SELECT id, csrf, created_at, last_seen_at, expires_at FROM dashboard_sessions WHERE id = ? AND expires_at > ?'),
    deleteSession: db.prepare<[string]>('DELETE FROM dashboard_sessions WHERE id = ?'),
    addKey: db.prepare<[string, string, string | null, string, number]>('INSERT INTO added_keys (hash, hint, grp, sealed, added_at) VALUES (?, ?, ?, ?, ?)'),
    keys: db.prepare('SELECT hash, hint, grp, sealed, added_at FROM added_keys ORDER BY added_at, rowid'),
    removeKey: db.prepare<[string]>('DELETE FROM added_keys WHERE hash = ?'),
  };
}

/** {@link DashboardStore} over a SqliteStore's connection. */
export class SqliteDashboardStore implements DashboardStore {
  private prepared: ReturnType<typeof prepare> | undefined;

  constructor(private readonly db: Database.Database) {}

  private get s(): ReturnType<typeof prepare> {
    return (this.prepared ??= prepare(this.db));
  }

  async putSession(session: StoredSession): Promise<void> {
    assertSession(session);
    const s = this.s;
    this.db.transaction(() => {
      // Expired sessions go whenever one is written: the table holds the live ones.
      s.expired.run(session.lastSeenAt);
      s.putSession.run(session.id, session.csrf, session.createdAt, session.lastSeenAt, session.expiresAt);
    })();
  }

  async getSession(id: string, now: number): Promise<StoredSession | undefined> {
    const r = this.s.session.get(id, now) as SessionRow | undefined;
    return r && { id: r.id, csrf: r.csrf, createdAt: r.created_at, lastSeenAt: r.last_seen_at, expiresAt: r.expires_at };
  }

  async deleteSession(id: string): Promise<void> {
    this.s.deleteSession.run(id);
  }

  async addApiKey(key: StoredApiKey): Promise<void> {
    assertApiKey(key);
    try {
      this.s.addKey.run(key.hash, key.hint, key.group ?? null, key.sealed, key.addedAt);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (typeof code === 'string' && code.startsWith('SQLITE_CONSTRAINT')) throw new StoreRejectedError('this key was added already');
      throw e;
    }
  }

  async listApiKeys(): Promise<StoredApiKey[]> {
    return (this.s.keys.all() as KeyRow[]).map((r) => cleanApiKey({ hash: r.hash, hint: r.hint, ...(r.grp !== null ? { group: r.grp } : {}), sealed: r.sealed, addedAt: r.added_at }));
  }

  async removeApiKey(hash: string): Promise<boolean> {
    return this.s.removeKey.run(hash).changes > 0;
  }
}
