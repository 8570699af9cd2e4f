import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli.ts';
import { KeyRing } from '../../src/pool/keys.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { describeNetworkFailure } from '../../src/endpoint.ts';
import { freePort, runEntry, within } from '../deploy/entry.ts';
import { FakeGemini } from '../../fakes/fakeGemini.ts';

let fake: FakeGemini | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function run(argv: string[], env: Record<string, string>) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { STORE: 'memory', ...env }, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('npm run cli', () => {
  it('ask answers through the pool, as text or JSON', async () => {
    fake = await FakeGemini.start();
    const env = { GEMINI_API_KEYS: 'test-key-1,test-key-2', GEMINI_BASE_URL: fake.url };
    const text = await run(['ask', 'hello', 'there'], env);
    expect(text).toMatchObject({ code: 0, out: 'echo: hello there' });
    expect(text.err).toMatch(/gemini-2.5-flash via key#1, 1 attempt\(s\)/);
    const json = await run(['ask', 'hi', '--json'], env);
    expect(JSON.parse(json.out)).toMatchObject({ ok: true, text: 'echo: hi', keyId: 'key#1', attempts: 1 });
  });

  it('ask reports a failure with its kind and exit code 1', async () => {
    fake = await FakeGemini.start({ rejectUnknownKeys: true });
    const r = await run(['ask', 'hi'], { GEMINI_API_KEY: 'test-key-1', GEMINI_BASE_URL: fake.url });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: auth: /);
    expect(r.err).not.toContain('test-key-1');
  });

  it('keys check prints a table and exits 1 when no key works', async () => {
    fake = await FakeGemini.start({
      keys: [{ key: 'test-key-1' }, { key: 'test-key-2', status: 'invalid' }, { key: 'test-key-3', status: 'suspended' }, { key: 'test-key-4', status: 'billing' }],
    });
    fake.inject({ type: 'rateLimit', per: 'minute' }, { key: 'test-key-5', route: 'listModels' });
    const env = { GEMINI_API_KEYS: 'test-key-1,test-key-2,test-key-3,test-key-4,proj:test-key-5', GEMINI_BASE_URL: fake.url };
    const r = await run(['keys', 'check'], env);
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[0]).toMatch(/^key\s+hint\s+group\s+status\s+latency$/);
    expect(lines[1]).toMatch(/^key#1\s+\.\.\.ey-1\s+own\s+valid\s+\d+ ms$/);
    expect(lines[2]).toMatch(/^key#2\s+\.\.\.ey-2\s+own\s+invalid/);
    expect(lines[3]).toMatch(/^key#3\s+\.\.\.ey-3\s+own\s+suspended/);
    expect(lines[4]).toMatch(/^key#4\s+\.\.\.ey-4\s+own\s+billing/);
    expect(lines[5]).toMatch(/^key#5\s+\.\.\.ey-5\s+proj\s+rate-limited/);
    expect(lines[6]).toBe('2 of 5 keys work');
    for (let i = 1; i <= 5; i++) expect(r.out).not.toContain(`test-key-${i}`);
    const bad = await run(['keys', 'check', '--json'], { GEMINI_API_KEYS: 'test-key-2,test-key-3', GEMINI_BASE_URL: fake.url });
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.out)).toMatchObject({ working: 0, keys: [{ key: 'key#1', status: 'invalid' }, { key: 'key#2', status: 'suspended' }] });
  });

  it('stats --json prints key and pool statistics', async () => {
    const r = await run(['stats', '--json'], { GEMINI_API_KEY: 'test-key-1', STORE: 'memory' });
    expect(r.code).toBe(0);
    const parsed = JSON.parse(r.out);
    expect(parsed.keys.keys[0]).toMatchObject({ id: 'key#1', hint: 'ey-1', state: 'active' });
    expect(parsed.pool.models['gemini-2.5-flash']).toMatchObject({ poolSize: 5 });
  });

  it('stats show today\'s requests across runs (SQLite state survives the process)', async () => {
    fake = await FakeGemini.start();
    const dataDir = mkdtempSync(join(tmpdir(), 'cli-'));
    const env = { GEMINI_API_KEYS: 'test-key-1,test-key-2', GEMINI_BASE_URL: fake.url, STORE: 'sqlite', DATA_DIR: dataDir };
    for (let i = 0; i < 3; i++) expect((await run(['ask', `q${i}`], env)).code).toBe(0);
    const stats = JSON.parse((await run(['stats', '--json'], env)).out);
    expect(stats.keys.keys.map((k: { requestsToday: number }) => k.requestsToday)).toEqual([2, 1]);
    expect(stats.keys.totals.tokensToday).toBeGreaterThan(0);
    const table = await run(['stats'], env);
    expect(table.out).toMatch(/^key#1\s+\.\.\.ey-1\s+active\s+2\s+0\s+0\.0%\s+\d+\s+2\s+\d+$/m);
    expect(table.out).toContain('2 keys: 2 active, 0 cooling, 0 disabled; 3 requests today');
  });

  it('stats name a soft cooldown: cooling (overloaded)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'cli-'));
    const store = new SqliteStore(dataDir);
    const [key] = new KeyRing(['test-key-1']).keys;
    await store.setKeyState(key!.hash, 'gemini-2.5-flash', { status: 'cooling', until: Date.now() + 60_000, reason: 'overloaded (503) while other keys answered, 3 times in a row', kind: 'overloaded' });
    await store.close();
    const table = await run(['stats'], { GEMINI_API_KEY: 'test-key-1', STORE: 'sqlite', DATA_DIR: dataDir });
    expect(table.out).toMatch(/^key#1\s+\.\.\.ey-1\s+cooling \(overloaded\)\s+0\s/m);
  });

  it('configuration warnings go to stderr, without values; the output stays clean', async () => {
    const r = await run(['stats', '--json'], { GEMINI_API_KEY: 'test-key-1', GEMINI_API_KEY3: 'test-key-3' });
    expect(r.code).toBe(0);
    expect(r.err).toBe('Configuration warnings:\n  - GEMINI_API_KEY3 is set but not read: did you mean GEMINI_API_KEY_3?');
    expect(JSON.parse(r.out).keys.keys).toHaveLength(1);
  });

  it('bad configuration and usage exit 2 with a clear message', async () => {
    const noKey = await run(['ask', 'hi'], {});
    expect(noKey.code).toBe(2);
    expect(noKey.err).toMatch(/^Configuration problems:\n {2}- no Gemini API key/);
    expect((await run(['frobnicate'], { GEMINI_API_KEY: 'test-key-1' })).code).toBe(2);
    expect((await run(['ask'], { GEMINI_API_KEY: 'test-key-1' })).code).toBe(2);
    expect((await run(['ask', 'x', '--model', 'nope'], { GEMINI_API_KEY: 'test-key-1' })).err).toMatch(/unknown model nope/);
    // The README's example with the default models: say what is served and how to add it.
    const pro = await run(['ask', 'Why is the sky blue?', '--model', 'gemini-2.5-pro'], { GEMINI_API_KEY: 'test-key-1' });
    expect(pro.code).toBe(2);
    expect(pro.err).toBe(
      'unknown model gemini-2.5-pro: this configuration serves gemini-2.5-flash. To serve it too, add it to GEMINI_MODELS (GEMINI_MODELS=gemini-2.5-flash,gemini-2.5-pro).',
    );
    expect((await run([], {})).code).toBe(2);
  });
});

describe('npm run cli: when Gemini cannot be reached', () => {
  it('ask says "connection refused to <host:port> (GEMINI_BASE_URL)"', async () => {
    const port = await freePort();
    const r = await run(['ask', 'hi'], { GEMINI_API_KEYS: 'test-key-1,test-key-2', GEMINI_BASE_URL: `http://127.0.0.1:${port}`, LOG_LEVEL: 'silent' });
    expect(r.code).toBe(1);
    expect(r.err).toBe(`error: connection refused to 127.0.0.1:${port} (GEMINI_BASE_URL)`);
  });

  it('keys check marks the keys unreachable and says once where it could not connect', async () => {
    const port = await freePort();
    const r = await run(['keys', 'check'], { GEMINI_API_KEYS: 'test-key-1,test-key-2', GEMINI_BASE_URL: `http://127.0.0.1:${port}`, LOG_LEVEL: 'silent' });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^key#1\s+\.\.\.ey-1\s+own\s+unreachable\s+\d+ ms$/m);
    expect(r.err).toBe(`cannot reach Gemini: connection refused to 127.0.0.1:${port} (GEMINI_BASE_URL)`);
  });

  it('words every network failure the classifier may report, old and new, and leaves other failures alone', async () => {
    const base = 'http://127.0.0.1:9';
    const cases: Array<[string, string | undefined, string | undefined]> = [
      ['connection refused to 127.0.0.1:9', base, 'connection refused to 127.0.0.1:9 (GEMINI_BASE_URL)'],
      ['connection refused', base, 'connection refused to 127.0.0.1:9 (GEMINI_BASE_URL)'],
      ['cannot resolve gemini.internal', 'https://gemini.internal', 'cannot resolve gemini.internal (GEMINI_BASE_URL)'],
      ['network error (ECONNREFUSED)', base, 'connection refused to 127.0.0.1:9 (GEMINI_BASE_URL)'],
      ['network error (ENOTFOUND)', undefined, "cannot resolve generativelanguage.googleapis.com (Google's endpoint; GEMINI_BASE_URL is not set)"],
      ['network error (ECONNRESET)', 'http://127.0.0.1:8080/', 'connection reset by 127.0.0.1:8080 (GEMINI_BASE_URL)'],
    ];
    for (const [message, baseUrl, expected] of cases) expect(await describeNetworkFailure({ kind: 'transient', message }, baseUrl), message).toBe(expected);
    expect(await describeNetworkFailure({ kind: 'transient', message: 'malformed response from Gemini' }, base)).toBeUndefined();
    expect(await describeNetworkFailure({ kind: 'auth', message: 'API key not valid' }, base)).toBeUndefined();
  });
});

describe('npm run cli: logs and output', () => {
  /** The CLI as a user runs it, with .env holding LOG_LEVEL=debug (the bot's setting). */
  async function cli(gemini: FakeGemini, processEnv: Record<string, string>) {
    const dir = mkdtempSync(join(tmpdir(), 'cli-env-'));
    writeFileSync(join(dir, '.env'), `GEMINI_API_KEYS=test-key-2,test-key-1\nGEMINI_BASE_URL=${gemini.url}\nSTORE=memory\nLOG_LEVEL=debug\n`);
    const r = runEntry('src/cli.ts', { ...processEnv }, dir, ['ask', 'hi', '--json']);
    const { code } = await within(r.exit, 20_000, () => r.output());
    const logs = r.stderr().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number; msg: string });
    return { code, stdout: r.stdout(), stderr: r.stderr(), logs };
  }

  it('stdout is only the answer; logs are whole lines on stderr, at warn unless LOG_LEVEL is given to the command', async () => {
    fake = await FakeGemini.start({ keys: [{ key: 'test-key-2', status: 'invalid' }] });
    const quiet = await cli(fake, {});
    expect(quiet.code, quiet.stderr).toBe(0);
    // The whole of stdout is the JSON result: no log line inside it.
    expect(JSON.parse(quiet.stdout)).toMatchObject({ ok: true, text: 'echo: hi', keyId: 'key#2' });
    expect(quiet.logs.length).toBeGreaterThan(0);
    expect(quiet.logs.every((l) => l.level >= 40)).toBe(true);
    expect(quiet.logs.map((l) => l.msg).join('\n')).not.toContain('pool ready');

    const verbose = await cli(fake, { LOG_LEVEL: 'info' });
    expect(JSON.parse(verbose.stdout)).toMatchObject({ ok: true });
    expect(verbose.logs.some((l) => l.level === 30 && l.msg === 'pool ready')).toBe(true);
    expect(verbose.stdout + verbose.stderr).not.toMatch(/test-key-\d/);
  }, 60_000);
});
