/**
 * `npm run cli -- keys add|remove` and `dashboard hash-password` through the real CLI entry
 * (runCli) on a SQLite store in a temporary DATA_DIR, against the fake Gemini.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeGemini } from '../../fakes/fakeGemini.ts';
import { runCli } from '../../src/cli.ts';
import { passwordChecker } from '../../src/gateway/dashboard/password.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';

const SECRET = 'a-state-secret-for-tests-only';
let dataDir: string;
let fake: FakeGemini;
beforeEach(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'cli-keys-'));
  fake = await FakeGemini.start({ keys: [{ key: 'test-key-bad', status: 'invalid' }, { key: 'test-key-gone', status: 'suspended' }] });
});
afterEach(async () => {
  await fake.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function run(argv: string[], stdin = '', extra: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const env = { GEMINI_API_KEY: 'test-key-1', STORE: 'sqlite', DATA_DIR: dataDir, GEMINI_BASE_URL: fake.url, STATE_SECRET: SECRET, ...extra };
  const code = await runCli(argv, env, { out: (l) => out.push(...l.split('\n')), err: (l) => err.push(...l.split('\n')), readStdin: async () => stdin });
  return { code, out, err, all: [...out, ...err].join('\n') };
}

/** Every byte the store wrote (the database and its WAL). */
function storeBytes(): string {
  return readdirSync(dataDir).map((f) => readFileSync(join(dataDir, f)).toString('latin1')).join('');
}

describe('npm run cli -- keys add / keys remove', () => {
  it('adds the keys that pass their check (read from stdin), refuses the others with the verdict, and stores them sealed', async () => {
    const r = await run(['keys', 'add', '--project', 'proj-x'], 'test-key-2\ntest-key-bad\nother:test-key-3\ntest-key-gone\ntest-key-1\nnot a key\ntest-key-2\n');
    expect(r.code).toBe(1);
    expect(r.out).toContain('added ...ey-2 (project proj-x) as key#2');
    expect(r.out).toContain('added ...ey-3 (project other) as key#3');
    expect(r.out).toContain('refused ...-bad: the check says: invalid');
    expect(r.out).toContain('refused ...gone: the check says: suspended');
    expect(r.out).toContain('refused ...ey-1: already in the pool as key#1 (from the configuration)');
    expect(r.out).toContain('refused line 6: has whitespace inside (a key is one word)');
    expect(r.out).toContain('refused ...ey-2: given twice');
    expect(r.all).not.toMatch(/test-key-(2|3|bad|gone)/);
    const store = new SqliteStore(dataDir);
    try {
      expect((await store.listApiKeys()).map((k) => [k.hint, k.group])).toEqual([['ey-2', 'proj-x'], ['ey-3', 'other']]);
    } finally {
      await store.close();
    }
    // Encrypted at rest: neither key is anywhere in the file.
    expect(storeBytes()).not.toContain('test-key-2');
    expect(storeBytes()).not.toContain('test-key-3');

    // Every later process uses them, numbered after the configured keys.
    const stats = await run(['stats', '--json']);
    expect(JSON.parse(stats.out.join('\n')).keys.keys.map((k: { id: string; added?: boolean }) => [k.id, k.added ?? false])).toEqual([['key#1', false], ['key#2', true], ['key#3', true]]);

    expect((await run(['keys', 'remove', 'key#1'])).all).toMatch(/key#1 comes from the configuration/);
    const removed = await run(['keys', 'remove', 'ey-3']);
    expect(removed.code).toBe(0);
    expect(removed.out[0]).toMatch(/^removed \.\.\.ey-3/);
    expect((await run(['keys', 'remove', 'key#2'])).code).toBe(0);
    expect((await run(['keys', 'remove', 'key#2'])).code).toBe(1);
    const after = await run(['stats', '--json']);
    expect(JSON.parse(after.out.join('\n')).keys.keys.map((k: { id: string }) => k.id)).toEqual(['key#1']);
  });

  it('refuses without STATE_SECRET, with a key on the command line, and with nothing on stdin', async () => {
    const noSecret = await run(['keys', 'add'], 'test-key-2\n', { STATE_SECRET: '' });
    expect(noSecret.code).toBe(2);
    expect(noSecret.err.join('\n')).toMatch(/STATE_SECRET is not set/);
    const inArgv = await run(['keys', 'add', 'test-key-2']);
    expect(inArgv.code).toBe(2);
    expect(inArgv.all).not.toContain('test-key-2');
    expect((await run(['keys', 'add'], '\n')).code).toBe(2);
    const short = await run(['keys', 'add'], 'test-key-2', { STATE_SECRET: 'short' });
    expect(short.code).toBe(2);
    expect(short.all).toMatch(/STATE_SECRET: must be at least 16 characters/);
    expect(short.all).not.toContain('short\n');
  });

  it('a key sealed under another STATE_SECRET is not used (one warning), and never shown', async () => {
    expect((await run(['keys', 'add'], 'test-key-7\n')).code).toBe(0);
    const other = await run(['stats', '--json'], '', { STATE_SECRET: 'another-state-secret-entirely', LOG_LEVEL: 'warn' });
    expect(JSON.parse(other.out.join('\n')).keys.keys.map((k: { id: string }) => k.id)).toEqual(['key#1']);
  });
});

describe('npm run cli -- dashboard hash-password', () => {
  it('prints a scrypt hash of the password read from stdin, which checks that password and no other', async () => {
    const r = await run(['dashboard', 'hash-password'], 'correct horse battery staple\n');
    expect(r.code).toBe(0);
    expect(r.out).toHaveLength(1);
    expect(r.out[0]).toMatch(/^scrypt\$15\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(r.all).not.toContain('correct horse');
    const check = await passwordChecker({ kind: 'hash', hash: r.out[0]! });
    expect(await check('correct horse battery staple')).toBe(true);
    expect(await check('correct horse battery stapl')).toBe(false);
  });

  it('refuses a password under 12 characters, and a password on the command line', async () => {
    expect((await run(['dashboard', 'hash-password'], 'short-pass\n')).code).toBe(2);
    const argv = await run(['dashboard', 'hash-password', 'my-long-password-here']);
    expect(argv.code).toBe(2);
    expect(argv.all).not.toContain('my-long-password-here');
  });
});
