/**
 * `npm run cli -- tokens ...` and `logs`: through the real CLI entry (runCli, and once as
 * its own process) on a SQLite store in a temporary DATA_DIR.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli.ts';
import { TokenRegistry } from '../../src/gateway/tokens.ts';
import { pacificDay } from '../../src/pool/time.ts';
import type { RequestLogRow } from '../../src/store/gatewayTypes.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { runEntry, within } from '../deploy/entry.ts';

let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'cli-tokens-'));
});
afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const env = { GEMINI_API_KEY: 'test-key-1', STORE: 'sqlite', DATA_DIR: dataDir, GEMINI_MODELS: 'gemini-2.5-flash,gemini-2.5-pro' };
  const code = await runCli(argv, env, { out: (l) => out.push(...l.split('\n')), err: (l) => err.push(...l.split('\n')) });
  return { code, out, err };
}

/** The SQLite store the CLI used, opened as another process would. */
async function withStore<T>(f: (store: SqliteStore) => Promise<T>): Promise<T> {
  const store = new SqliteStore(dataDir);
  try {
    return await f(store);
  } finally {
    await store.close();
  }
}

describe('npm run cli -- tokens', () => {
  it('create prints the token once, with a line saying so; only its hash is stored; it works until revoked', async () => {
    const created = await run('tokens', 'create', '--name', 'web-app');
    expect(created.code).toBe(0);
    expect(created.err).toEqual([]);
    expect(created.out).toHaveLength(3);
    const token = created.out[1]!;
    expect(token).toMatch(/^gp-[A-Za-z0-9_-]{43}$/);
    expect(created.out[0]).toBe(`created token web-app (${token.slice(0, 7)}...): models all, limits none, expires never`);
    expect(created.out[2]).toBe('This is the only time the token is shown: copy it now. Only its hash is kept; if it is lost, revoke it and create another.');

    const listed = await run('tokens', 'list');
    expect(listed.code).toBe(0);
    expect(listed.out[0]).toMatch(/^name\s+prefix\s+status\s+models\s+limits\s+expires\s+today req\/tok\/err\s+total req\/tok\/err$/);
    expect(listed.out[1]).toMatch(new RegExp(`^web-app\\s+${token.slice(0, 7)}\\.\\.\\.\\s+active\\s+all\\s+none\\s+never\\s+0/0/0\\s+0/0/0$`));
    expect(listed.out.join('\n')).not.toContain(token.slice(7));

    await withStore(async (store) => {
      expect((await new TokenRegistry(store).authenticate(token)).ok).toBe(true);
      store.db.pragma('wal_checkpoint(TRUNCATE)');
    });
    for (const f of readdirSync(dataDir)) expect(readFileSync(join(dataDir, f)).toString('latin1')).not.toContain(token.slice(3));

    expect(await run('tokens', 'revoke', 'web-app')).toMatchObject({ code: 0, out: ['revoked token web-app: it no longer works (every gateway process sees it within a second)'] });
    await withStore(async (store) => expect(await new TokenRegistry(store).authenticate(token)).toEqual({ ok: false, reason: 'revoked' }));
    expect((await run('tokens', 'list')).out[1]).toMatch(/^web-app\s+\S+\s+revoked\s/);
    expect((await run('tokens', 'revoke', 'web-app')).out[0]).toMatch(/^token web-app was revoked already, at \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);

    expect(await run('tokens', 'create', '--name', 'web-app')).toEqual({
      code: 2,
      out: [],
      err: ['tokens create: a token named web-app exists already (a revoked token keeps its name): choose another name'],
    });
  });

  it('create with models, limits and an expiry; list --json shows them and the usage, never a hash; update changes them', async () => {
    const before = Date.now();
    const created = await run('tokens', 'create', '--name', 'bot', '--models', 'gemini-2.5-pro, gemini-embedding-001', '--rpm', '10', '--rpd', '500', '--tpd', '100000', '--expires', '30d', '--json');
    expect(created.code).toBe(0);
    const made = JSON.parse(created.out.join('\n')) as { token: string; expiresAt: number };
    expect(made).toMatchObject({ name: 'bot', models: ['gemini-2.5-pro', 'gemini-embedding-001'], limits: { rpm: 10, rpd: 500, tpd: 100_000 } });
    expect(made.expiresAt - before).toBeGreaterThanOrEqual(30 * 86_400_000);
    expect(created.err).toEqual(['This is the only time the token is shown: copy it now. Only its hash is kept; if it is lost, revoke it and create another.']);

    await withStore((store) => store.addClientUsage('bot', pacificDay(Date.now()), { requests: 3, tokens: 120, errors: 1 }));
    const listed = await run('tokens', 'list', '--json');
    const [bot] = JSON.parse(listed.out.join('\n')) as Array<Record<string, unknown>>;
    expect(bot).toMatchObject({ name: 'bot', status: 'active', today: { requests: 3, tokens: 120, errors: 1 }, total: { requests: 3, tokens: 120, errors: 1 } });
    expect(bot).not.toHaveProperty('hash');
    expect(listed.out.join('\n')).not.toContain(made.token.slice(7));
    expect((await run('tokens', 'list')).out[1]).toMatch(/^bot\s+gp-\S+\s+active\s+gemini-2\.5-pro,gemini-embedding-001\s+rpm 10, rpd 500, tpd 100000\s+\d{4}-\S+ \S+Z\s+3\/120\/1\s+3\/120\/1$/);

    const updated = await run('tokens', 'update', 'bot', '--rpm', 'none', '--tpd', '5', '--models', 'all', '--expires', 'never');
    expect(updated).toEqual({ code: 0, out: ['updated token bot: models all, limits rpd 500, tpd 5, expires never'], err: [] });
    expect((await run('tokens', 'update', 'bot', '--models', 'gemini-2.5-flash', '--expires', '12h')).out[0]).toMatch(
      /^updated token bot: models gemini-2\.5-flash, limits rpd 500, tpd 5, expires \d{4}-\S+ \S+Z$/,
    );
  });

  it('bad input: exit 2 with one line naming the problem, nothing on stdout, nothing stored', async () => {
    const cases: Array<[string[], string]> = [
      [['tokens'], 'tokens: give a subcommand: create, list, revoke or update'],
      [['tokens', 'frob'], 'tokens: unknown subcommand "frob": create, list, revoke or update'],
      [['tokens', 'create'], 'tokens create: --name NAME is required (1-64 characters of A-Z a-z 0-9 . _ -)'],
      [['tokens', 'create', '--name', 'my app'], 'tokens create: token name must be 1-64 characters of A-Z a-z 0-9 . _ - (got "my app")'],
      [['tokens', 'create', '--name', 'a', '--rpm', 'ten'], 'tokens create: --rpm must be a whole number >= 1 (got "ten")'],
      [['tokens', 'create', '--name', 'a', '--rpd', '0'], 'tokens create: --rpd must be a whole number >= 1 (got "0")'],
      [['tokens', 'create', '--name', 'a', '--tpd', '1.5'], 'tokens create: --tpd must be a whole number >= 1 (got "1.5")'],
      [['tokens', 'create', '--name', 'a', '--rpm'], 'tokens create: --rpm needs a value'],
      [['tokens', 'create', '--name', 'a', '--frob'], 'tokens create: unknown option "--frob" (it takes --name, --models, --rpm, --rpd, --tpd, --expires, --json)'],
      [['tokens', 'create', '--name', 'a', '--models', 'gemini-9'], 'tokens create: unknown model "gemini-9": this configuration serves gemini-2.5-flash, gemini-2.5-pro, gemini-embedding-001'],
      [['tokens', 'create', '--name', 'a', '--expires', '1y'], 'tokens create: --expires: a duration is a number and a unit s, m, h, d or w, such as 90m, 12h or 30d (got "1y")'],
      [['tokens', 'list', 'extra'], 'tokens list: unexpected argument "extra"'],
      [['tokens', 'revoke'], "tokens revoke: give the token's name (npm run cli -- tokens list shows them)"],
      [['tokens', 'revoke', 'nobody'], 'tokens revoke: no token named nobody (npm run cli -- tokens list shows them)'],
      [['tokens', 'update', 'nobody', '--rpm', '1'], 'tokens update: no token named nobody (npm run cli -- tokens list shows them)'],
      [['tokens', 'update', 'nobody'], 'tokens update: nothing to change: give --models, --rpm, --rpd, --tpd or --expires'],
      [['logs', '--status', '42'], 'logs: --status must be a whole number >= 100 (got "42")'],
      [['logs', '--status', '700'], 'logs: --status is an HTTP status, 100-599 (got "700")'],
      [['logs', '--key', 'k3'], 'logs: --key is key#N or N, as /api-key-stats and stats name keys (got "k3")'],
      [['logs', '--since', 'yesterday'], 'logs: --since: a duration is a number and a unit s, m, h, d or w, such as 90m, 12h or 30d (got "yesterday")'],
      [['logs', '--limit', '-1'], 'logs: --limit needs a value'],
      [['logs', '--verbose'], 'logs: unknown option "--verbose" (it takes --token, --key, --model, --status, --kind, --since, --limit, --json)'],
    ];
    for (const [argv, line] of cases) expect(await run(...argv), argv.join(' ')).toEqual({ code: 2, out: [], err: [line] });
    await withStore(async (store) => expect(await store.listTokens()).toEqual([]));
  });

  it('never echoes a token or a key given where a name belongs', async () => {
    const token = `gp-${'Ab1'.repeat(14)}x`;
    const key = `AIza${'Zy9'.repeat(12)}`;
    for (const argv of [['tokens', 'revoke', token], ['tokens', 'create', '--name', key], ['tokens', 'create', '--name', token]]) {
      const r = await run(...argv);
      expect(r.code).toBe(2);
      expect(r.err).toHaveLength(1);
      expect(r.err[0]).toMatch(/looks like a key or a token/);
      expect(r.err.join('') + r.out.join('')).not.toContain(token.slice(3));
      expect(r.err.join('')).not.toContain(key);
    }
  });

  it('bad configuration exits 2 before anything is opened', async () => {
    const err: string[] = [];
    const code = await runCli(['tokens', 'list'], { STORE: 'sqlite', DATA_DIR: dataDir }, { out: () => {}, err: (l) => err.push(l) });
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(/^Configuration problems:\n {2}- no Gemini API key/);
  });
});

describe('npm run cli -- logs', () => {
  const row = (at: number, over: Partial<RequestLogRow> = {}): RequestLogRow => ({
    at, token: 'web-app', route: '/v1/chat/completions', model: 'gemini-2.5-flash', keyId: 'key#1', status: 200,
    attempts: 1, latencyMs: 123.4, tokensIn: 10, tokensOut: 20, streamed: false, ...over,
  });
  const t0 = Date.UTC(2026, 10, 22, 18, 0, 0);

  it('prints a table newest first, narrowed by every filter; --json gives the rows', async () => {
    await withStore((store) =>
      store.appendRequestLog([
        row(t0),
        row(t0 + 1_000, { token: 'bot', keyId: 'key#3', status: 429, kind: 'rate_limited', attempts: 4, streamed: true }),
        row(t0 + 2_000, { model: 'gemini-2.5-pro', route: '/v1beta/models/gemini-2.5-pro:generateContent', status: 503, kind: 'overloaded' }),
      ]),
    );
    const all = await run('logs');
    expect(all.code).toBe(0);
    expect(all.out).toHaveLength(4);
    expect(all.out[0]).toMatch(/^time\s+token\s+route\s+model\s+key\s+status\s+kind\s+attempts\s+ms\s+in\s+out\s+stream$/);
    expect(all.out[1]).toMatch(/^2026-11-22 18:00:02Z\s+web-app\s+\/v1beta\/models\/gemini-2\.5-pro:generateContent\s+gemini-2\.5-pro\s+key#1\s+503\s+overloaded\s+1\s+123\s+10\s+20\s+no$/);
    expect(all.out[2]).toMatch(/^2026-11-22 18:00:01Z\s+bot\s+\/v1\/chat\/completions\s+gemini-2\.5-flash\s+key#3\s+429\s+rate_limited\s+4\s+123\s+10\s+20\s+yes$/);
    expect(all.out[3]).toMatch(/^2026-11-22 18:00:00Z\s+web-app\s+.*\s+200\s+-\s+1\s/);

    const times = async (...argv: string[]) => (JSON.parse((await run('logs', '--json', ...argv)).out.join('\n')) as RequestLogRow[]).map((r) => r.at - t0);
    expect(await times()).toEqual([2_000, 1_000, 0]);
    expect(await times('--token', 'bot')).toEqual([1_000]);
    expect(await times('--key', 'key#3')).toEqual([1_000]);
    expect(await times('--key', '1')).toEqual([2_000, 0]);
    expect(await times('--model', 'gemini-2.5-pro')).toEqual([2_000]);
    expect(await times('--status', '429')).toEqual([1_000]);
    expect(await times('--kind', 'overloaded')).toEqual([2_000]);
    expect(await times('--limit', '2')).toEqual([2_000, 1_000]);
    expect(await times('--since', '1h')).toEqual([]);
    expect((await run('logs', '--token', 'nobody')).out).toEqual(['no logged requests match']);
  });

  it('--since counts back from now', async () => {
    const now = Date.now();
    await withStore((store) => store.appendRequestLog([row(now - 2 * 3_600_000), row(now - 30 * 60_000)]));
    const recent = JSON.parse((await run('logs', '--since', '1h', '--json')).out.join('\n')) as RequestLogRow[];
    expect(recent.map((r) => r.at)).toEqual([now - 30 * 60_000]);
    expect(JSON.parse((await run('logs', '--since', '3h', '--json')).out.join('\n'))).toHaveLength(2);
  });
});

describe('npm run cli -- tokens, as its own process', () => {
  it('creates and lists with the .env of the working directory; stdout holds the token once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-tokens-env-'));
    try {
      writeFileSync(join(dir, '.env'), `GEMINI_API_KEY=test-key-1\nSTORE=sqlite\nDATA_DIR=${join(dir, 'data')}\n`);
      const create = runEntry('src/cli.ts', {}, dir, ['tokens', 'create', '--name', 'script', '--rpd', '100']);
      const created = await within(create.exit, 20_000, () => create.output());
      expect(created.code, create.output()).toBe(0);
      const lines = create.stdout().trim().split('\n');
      expect(lines).toHaveLength(3);
      const token = lines[1]!;
      expect(token).toMatch(/^gp-[A-Za-z0-9_-]{43}$/);
      const list = runEntry('src/cli.ts', {}, dir, ['tokens', 'list']);
      expect((await within(list.exit, 20_000, () => list.output())).code).toBe(0);
      expect(list.stdout()).toMatch(/^script\s+gp-\S+\s+active\s+all\s+rpd 100\s+never\s+0\/0\/0\s+0\/0\/0$/m);
      expect(list.stdout()).not.toContain(token.slice(7));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
