/**
 * Getting the SQLite file open: DATA_DIR checked with errors that name it and say what is
 * wrong, a quick integrity check at every start, and a corrupt file moved aside (never
 * deleted) so the bot starts on a fresh one instead of failing on every write.
 */
import { accessSync, constants, existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const codeOf = (e: unknown): string | undefined => {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
};

/** The nearest existing part of `path` that is not a directory (what blocks an ENOTDIR). */
function blockingFile(path: string): string | undefined {
  for (let p = path, guard = 0; p !== dirname(p) && guard < 4096; p = dirname(p), guard++) {
    try {
      if (!statSync(p).isDirectory()) return p;
    } catch {
      // Missing or unreadable: look further up.
    }
  }
  return undefined;
}

/** Why a file-system call on `path` failed, in words. */
function reason(e: unknown, path: string): string {
  switch (codeOf(e)) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'read-only file system';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'ENOTDIR': {
      const file = blockingFile(path);
      return file ? `${file} is a file, not a directory` : 'a part of the path is not a directory';
    }
    default:
      return messageOf(e);
  }
}

/**
 * Makes sure `dataDir` is a directory this process can write to, creating it (and its
 * parents) when missing.
 * @throws Error naming DATA_DIR and what is wrong: "DATA_DIR ./data is a file, not a
 *   directory", "cannot create DATA_DIR /x/y: /x is a file, not a directory", "cannot
 *   write to DATA_DIR /x: permission denied".
 */
export function prepareDataDir(dataDir: string): void {
  let st: ReturnType<typeof statSync> | undefined;
  try {
    st = statSync(dataDir);
  } catch {
    // Missing, or unreachable: mkdir below says why.
  }
  if (st && !st.isDirectory()) {
    throw new Error(st.isFile() ? `DATA_DIR ${dataDir} is a file, not a directory` : `DATA_DIR ${dataDir} is not a directory`);
  }
  if (!st) {
    try {
      mkdirSync(dataDir, { recursive: true });
    } catch (e) {
      throw new Error(`cannot create DATA_DIR ${dataDir}: ${reason(e, dataDir)}`, { cause: e });
    }
  }
  try {
    accessSync(dataDir, constants.W_OK | constants.X_OK);
  } catch (e) {
    throw new Error(`cannot write to DATA_DIR ${dataDir}: ${reason(e, dataDir)}`, { cause: e });
  }
}

/**
 * What `PRAGMA quick_check` finds wrong with the open database, or undefined when it is
 * sound. Errors that are not corruption (a lock held too long) are thrown.
 */
function corruption(db: Database.Database): string | undefined {
  let problems: string[];
  try {
    problems = db.prepare('PRAGMA quick_check').pluck().all() as string[];
  } catch (e) {
    // A file that is not a database, or too damaged to read its schema, fails here.
    const code = codeOf(e);
    if (code === 'SQLITE_NOTADB' || code?.startsWith('SQLITE_CORRUPT')) return messageOf(e);
    throw e;
  }
  if (problems.length === 1 && problems[0] === 'ok') return undefined;
  const text = problems.join('; ').replace(/\s+/g, ' ').trim();
  return `quick_check: ${text.length > 300 ? `${text.slice(0, 300)}...` : text}`;
}

/** `20261122T180000Z`: a time that sorts and fits in a file name. */
const stamp = (ms: number): string => new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');

/** Renames `file` (and its -wal and -shm, which belong to it) to `${file}.corrupt-<time>`. */
function moveAside(file: string, nowMs: number): string {
  let target = `${file}.corrupt-${stamp(nowMs)}`;
  for (let i = 2; i < 1000 && existsSync(target); i++) target = `${file}.corrupt-${stamp(nowMs)}-${i}`;
  try {
    renameSync(file, target);
    for (const suffix of ['-wal', '-shm']) {
      if (existsSync(file + suffix)) renameSync(file + suffix, target + suffix);
    }
  } catch (e) {
    throw new Error(`the SQLite database ${file} is corrupt and cannot be moved aside to ${target}: ${reason(e, file)}`, { cause: e });
  }
  return target;
}

/** Opens `file` and runs `then` on the connection, which is closed again if `then` throws. */
function openThen<T>(file: string, then: (db: Database.Database) => T): T {
  // better-sqlite3 waits up to 5 s on a lock held by another process (shards).
  const db = new Database(file, { timeout: 5_000 });
  try {
    return then(db);
  } catch (e) {
    if (db.open) db.close();
    throw e;
  }
}

function useWal(db: Database.Database): Database.Database {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  return db;
}

/**
 * Opens the database at `file` in WAL mode after a `PRAGMA quick_check`. A corrupt file
 * is reported in one error line naming it, kept as `${file}.corrupt-<time>` (with its -wal
 * and -shm), and replaced by a fresh one.
 * @throws Error naming `file` when it cannot be opened.
 */
export function openDatabase(file: string, logger: Logger, nowMs: () => number = Date.now): Database.Database {
  let moved: { keptAs: string; problem: string } | undefined;
  try {
    const db = openThen(file, (db) => {
      const problem = corruption(db);
      if (problem === undefined) return useWal(db);
      // Moved while still open: closing a connection deletes the -wal and -shm it used,
      // and by then they are no longer under those names.
      moved = { keptAs: moveAside(file, nowMs()), problem };
      db.close();
      return undefined;
    });
    if (db) return db;
  } catch (e) {
    throw new Error(`cannot open the SQLite database ${file}: ${messageOf(e)}`, { cause: e });
  }
  const { keptAs, problem } = moved!;
  logger.error({ path: file, keptAs, problem }, `the SQLite database ${file} is corrupt (${problem}); kept it as ${keptAs} and starting on a fresh file`);
  try {
    return openThen(file, useWal);
  } catch (e) {
    throw new Error(`cannot open a fresh SQLite database at ${file}: ${messageOf(e)}`, { cause: e });
  }
}
