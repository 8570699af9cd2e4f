/**
 * SqliteStore beyond the contract: reopening, WAL, migrations, and a writer killed with
 * SIGKILL mid-way.
 */
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createStore } from '../../src/store/index.ts';
import { MIGRATIONS, SCHEMA_VERSION, SqliteStore, type Migration } from '../../src/store/sqlite.ts';
import { captureLogger } from '../helpers.ts';

/**
 * Damages one page of a real state.db the way a torn write or a bad disk does: the last
 * cell pointer of a counters page points past the end of the page.
 */
async function damagedDatabase(dataDir: string): Promise<string> {
  const store = new SqliteStore(dataDir);
  await store.addCounters(
    Array.from({ length: 300 }, (_, i) => ({ keyHash: `hash${i}`, model: 'm', day: '2026-11-22', requests: 1, tokens: 1, usage: 1, errors: 0, latencyMs: 1 })),
  );
  const pageSize = store.db.pragma('page_size', { simple: true }) as number;
  const leaf = store.db.prepare("SELECT MAX(pageno) FROM dbstat WHERE name = 'counters' AND pagetype = 'leaf'").pluck().get() as number;
  await store.close();
  const base = (leaf - 1) * pageSize;
  const cells = readFileSync(store.file).readUInt16BE(base + 3);
  const fd = openSync(store.file, 'r+');
  writeSync(fd, Buffer.from([0xff, 0xff]), 0, 2, base + 8 + 2 * (cells - 1));
  closeSync(fd);
  return store.file;
}

const isRoot = process.getuid?.() === 0;

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gpool-sqlite-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('SqliteStore', () => {
  it('creates the directory and state.db, in WAL mode with synchronous=NORMAL', async () => {
    const dataDir = join(dir, 'a', 'b');
    const store = new SqliteStore(dataDir);
    expect(store.file).toBe(join(dataDir, 'state.db'));
    expect(existsSync(store.file)).toBe(true);
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    expect(store.schemaVersion()).toBe(SCHEMA_VERSION);
    await store.close();
  });

  it('keeps everything across a reopen', async () => {
    const t0 = Date.now();
    const a = new SqliteStore(dir);
    await a.setKeyState('h1', '*', { status: 'disabled', since: t0, reason: 'API_KEY_INVALID', kind: 'auth' });
    await a.setKeyState('h1', 'm', { status: 'cooling', until: t0 + 60_000, reason: 'PerMinute', kind: 'rate_limited' });
    await a.addCounters([{ keyHash: 'h1', model: 'm', day: '2026-11-22', requests: 2, tokens: 3, usage: 4, errors: 1, latencyMs: 5.5 }]);
    await a.saveConversation('c', { model: 'm', history: [{ role: 'user', parts: [{ text: 'x' }] }], ownerId: '12345', updatedAt: 9 });
    await a.setMeta('commandsHash', 'abc');
    await a.close();
    await a.close(); // twice is fine

    const b = new SqliteStore(dir);
    const states = await b.loadKeyStates(['h1'], t0);
    expect(states.get('h1')?.get('*')).toEqual({ status: 'disabled', since: t0, reason: 'API_KEY_INVALID', kind: 'auth' });
    expect(states.get('h1')?.get('m')).toEqual({ status: 'cooling', until: t0 + 60_000, reason: 'PerMinute', kind: 'rate_limited' });
    expect(await b.loadCounters(['h1'], '2026-11-22')).toEqual([
      { keyHash: 'h1', model: 'm', usage: 4, errors: 1, latencyMs: 5.5, day: '2026-11-22', requestsToday: 2, tokensToday: 3 },
    ]);
    expect(await b.getConversation('c')).toEqual({ model: 'm', history: [{ role: 'user', parts: [{ text: 'x' }] }], ownerId: '12345', updatedAt: 9 });
    expect(await b.getMeta('commandsHash')).toBe('abc');
    expect(b.schemaVersion()).toBe(SCHEMA_VERSION);
    const versions = b.db.prepare('SELECT version FROM schema_version ORDER BY version').pluck().all();
    expect(versions).toEqual(MIGRATIONS.map((m) => m.version));
    await b.close();
  });

  it('runs later migrations on a version-1 database, once', async () => {
    const v1 = MIGRATIONS.slice(0, 1);
    const old = new SqliteStore(dir, { migrations: v1 });
    await old.setMeta('kept', 'yes');
    expect(old.schemaVersion()).toBe(1);
    await old.close();

    let runs = 0;
    const v2: Migration = {
      version: 2,
      description: 'test: a column added later',
      up(db) {
        runs++;
        db.exec('ALTER TABLE meta ADD COLUMN note TEXT');
      },
    };
    const upgraded = new SqliteStore(dir, { migrations: [...v1, v2] });
    expect(runs).toBe(1);
    expect(upgraded.schemaVersion()).toBe(2);
    expect(await upgraded.getMeta('kept')).toBe('yes');
    const cols = upgraded.db.prepare("SELECT name FROM pragma_table_info('meta')").pluck().all();
    expect(cols).toContain('note');
    await upgraded.close();

    const again = new SqliteStore(dir, { migrations: [...v1, v2] });
    expect(runs).toBe(1);
    expect(again.db.prepare('SELECT version, description FROM schema_version ORDER BY version').all()).toEqual([
      { version: 1, description: MIGRATIONS[0]!.description },
      { version: 2, description: v2.description },
    ]);
    await again.close();

    // Code that knows only version 1 refuses a version-2 file instead of corrupting it.
    expect(() => new SqliteStore(dir, { migrations: v1 })).toThrow(/schema version 2, newer than this code knows \(1\)/);
  });

  it('rejects a migration list out of order', () => {
    const bad: Migration = { version: 3, description: 'gap', up() {} };
    expect(() => new SqliteStore(dir, { migrations: [...MIGRATIONS.slice(0, 1), bad] })).toThrow(/expected 2/);
  });

  it('is what createStore opens for STORE=sqlite', async () => {
    const store = await createStore({ kind: 'sqlite', dataDir: dir, redisUrl: undefined, flushIntervalMs: 1000, shardCount: 'auto', shardIds: undefined });
    expect(store.kind).toBe('sqlite');
    expect(existsSync(join(dir, 'state.db'))).toBe(true);
    await store.close();
    const mem = await createStore({ kind: 'memory', dataDir: join(dir, 'unused'), redisUrl: undefined, flushIntervalMs: 1000, shardCount: 'auto', shardIds: undefined });
    expect(mem.kind).toBe('memory');
    expect(existsSync(join(dir, 'unused'))).toBe(false);
    await mem.close();
  });

  it('finds a damaged state.db at start: one error line naming it, the file kept as state.db.corrupt-<time>, a fresh one used', async () => {
    const file = await damagedDatabase(dir);
    const damaged = readFileSync(file);
    const { logger, lines } = captureLogger('info');
    const store = new SqliteStore(dir, { logger });
    // With the -wal and -shm the check opened next to it.
    const kept = readdirSync(dir).filter((f) => f.startsWith('state.db.corrupt-') && !/-(wal|shm)$/.test(f));
    expect(kept).toHaveLength(1);
    expect(kept[0]).toMatch(/^state\.db\.corrupt-\d{8}T\d{6}Z$/);
    // Kept as it was, not repaired or deleted.
    expect(readFileSync(join(dir, kept[0]!)).equals(damaged)).toBe(true);
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as { level: number; msg: string; path: string; keptAs: string; problem: string };
    expect(line.level).toBe(50);
    expect(line.path).toBe(file);
    expect(line.keptAs).toBe(join(dir, kept[0]!));
    expect(line.msg).toContain(file);
    // Found by quick_check, or already by the first read when that read hits the damaged page.
    expect(line.problem).toMatch(/^quick_check: .*Offset 65535 out of range|database disk image is malformed/);
    // The fresh file works and is checked clean.
    expect(store.db.pragma('quick_check', { simple: true })).toBe('ok');
    expect(await store.loadCounters(['hash0'], '2026-11-22')).toEqual([]);
    await store.addCounters([{ keyHash: 'h', model: 'm', day: '2026-11-22', requests: 1, tokens: 1, usage: 1, errors: 0, latencyMs: 1 }]);
    await store.close();
    // And the next start finds nothing to complain about.
    const again = captureLogger('info');
    const reopened = new SqliteStore(dir, { logger: again.logger });
    expect(again.lines).toEqual([]);
    expect((await reopened.loadCounters(['h'], '2026-11-22'))[0]?.requestsToday).toBe(1);
    await reopened.close();
  });

  it('moves a state.db that is not a database aside together with its -wal and -shm', async () => {
    writeFileSync(join(dir, 'state.db'), 'not a database, '.repeat(300));
    writeFileSync(join(dir, 'state.db-wal'), 'wal bytes');
    writeFileSync(join(dir, 'state.db-shm'), 'shm bytes');
    const { logger, lines } = captureLogger('info');
    const store = await createStore(
      { kind: 'sqlite', dataDir: dir, redisUrl: undefined, flushIntervalMs: 1000, shardCount: 'auto', shardIds: undefined },
      logger,
    );
    const kept = readdirSync(dir).filter((f) => f.startsWith('state.db.corrupt-')).sort();
    expect(kept).toHaveLength(3);
    const [main, shm, wal] = kept as [string, string, string];
    expect(shm).toBe(`${main}-shm`);
    expect(wal).toBe(`${main}-wal`);
    // The WAL may hold the last commits: kept byte for byte. The -shm is only an index of
    // the WAL that SQLite rebuilds whenever it opens the file, so it is kept but not as it was.
    expect(readFileSync(join(dir, wal), 'utf8')).toBe('wal bytes');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 50, component: 'store', path: join(dir, 'state.db'), problem: 'file is not a database' });
    await store.setMeta('fresh', 'yes');
    expect(await store.getMeta('fresh')).toBe('yes');
    await store.close();
  });

  it('names the file when the database cannot be opened', () => {
    mkdirSync(join(dir, 'state.db'));
    expect(() => new SqliteStore(dir)).toThrow(`cannot open the SQLite database ${join(dir, 'state.db')}: unable to open database file`);
    // Nothing was moved: a file that cannot be opened is not a corrupt one.
    expect(readdirSync(dir)).toEqual(['state.db']);
  });

  it('names DATA_DIR and what is wrong when it is a file', () => {
    const file = join(dir, 'data');
    writeFileSync(file, '');
    expect(() => new SqliteStore(file)).toThrow(`DATA_DIR ${file} is a file, not a directory`);
  });

  it('names DATA_DIR and the file in its way when it cannot be created (even for root)', () => {
    const file = join(dir, 'data');
    writeFileSync(file, '');
    const under = join(file, 'state');
    expect(() => new SqliteStore(under)).toThrow(`cannot create DATA_DIR ${under}: ${file} is a file, not a directory`);
  });

  // root may write anywhere, so a read-only directory stops only other users.
  it.skipIf(isRoot)('names DATA_DIR when it cannot be written to (skipped as root: root writes to read-only directories)', () => {
    const ro = join(dir, 'ro');
    mkdirSync(ro);
    chmodSync(ro, 0o500);
    try {
      expect(() => new SqliteStore(ro)).toThrow(`cannot write to DATA_DIR ${ro}: permission denied`);
      expect(() => new SqliteStore(join(ro, 'sub'))).toThrow(`cannot create DATA_DIR ${join(ro, 'sub')}: permission denied`);
    } finally {
      chmodSync(ro, 0o700);
    }
  });

  it('survives a writer killed with SIGKILL mid-way, keeping every committed batch whole', async () => {
    const rows = 200;
    let committed = 0;
    // Three writers in turn, each killed after some batches; each reopens the crashed file.
    for (const killAfter of [25, 40, 60]) {
      const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'sqliteWriter.ts'), dir, String(rows), '100000'], {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      let last = 0;
      let buf = '';
      child.stderr.on('data', (d) => (stderr += String(d)));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
        child.once('exit', (code, signal) => res({ code, signal })),
      );
      child.stdout.on('data', (d) => {
        buf += String(d);
        const lines = buf.split('\n');
        buf = lines.pop() ?? '';
        for (const line of lines) if (line) last = Number(line);
        if (last >= killAfter && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      });
      const guard = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const { signal } = await exited;
      clearTimeout(guard);
      expect(signal, `the writer should have been killed; its stderr: ${stderr}`).toBe('SIGKILL');
      expect(last).toBeGreaterThanOrEqual(killAfter);
      committed += last;

      const db = new Database(join(dir, 'state.db'));
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      const usages = db.prepare('SELECT usage FROM counters').pluck().all() as number[];
      db.close();
      expect(usages).toHaveLength(rows);
      // Batches are atomic: every row saw the same batches.
      expect(new Set(usages).size).toBe(1);
      const total = usages[0]!;
      // Everything reported committed is there (a batch or so more may have got in
      // between the report and the kill).
      expect(total).toBeGreaterThanOrEqual(committed);
      committed = total;
    }

    const store = new SqliteStore(dir);
    const loaded = await store.loadCounters(['hash0000', 'hash0199'], '2026-11-22');
    expect(loaded.map((r) => r.usage)).toEqual([committed, committed]);
    expect(loaded.map((r) => r.tokensToday)).toEqual([7 * committed, 7 * committed]);
    await store.close();
  });
});
