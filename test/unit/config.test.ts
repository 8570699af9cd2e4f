import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
};

describe('loadConfig', () => {
  it('defaults', () => {
    const c = loadConfig({ GEMINI_API_KEY: 'test-key-1' });
    expect(c.gemini).toMatchObject({ keys: [{ key: 'test-key-1' }], models: ['gemini-2.5-flash'], poolSize: 5, strategy: 'health', apiVersion: 'v1beta', deadlineMs: 60_000, maxAttempts: 4 });
    expect(c.gemini.baseUrl).toBeUndefined();
  });

  it('merges GEMINI_API_KEYS, GEMINI_API_KEY, GEMINI_API_KEY_N and the keys file in order, without duplicates', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const file = join(dir, 'keys.txt');
    writeFileSync(file, '# my keys\n\ntest-key-5\nproj-b:test-key-6  # second project\ntest-key-1\n');
    const c = loadConfig({
      GEMINI_API_KEYS: 'test-key-1, proj-a:test-key-2\ntest-key-3',
      GEMINI_API_KEY: 'test-key-3',
      GEMINI_API_KEY_10: 'test-key-10',
      GEMINI_API_KEY_2: 'test-key-4',
      GEMINI_KEYS_FILE: file,
    });
    expect(c.gemini.keys).toEqual([
      { key: 'test-key-1' },
      { key: 'test-key-2', group: 'proj-a' },
      { key: 'test-key-3' },
      { key: 'test-key-4' },
      { key: 'test-key-10' },
      { key: 'test-key-5' },
      { key: 'test-key-6', group: 'proj-b' },
    ]);
  });

  it('reads models, pool size, strategy, base URL and durations', () => {
    const c = loadConfig({
      GEMINI_API_KEY: 'test-key-1',
      GEMINI_MODELS: 'gemini-2.5-pro, gemini-2.5-flash',
      GEMINI_POOL_SIZE: '8',
      GEMINI_STRATEGY: 'least-busy',
      GEMINI_BASE_URL: 'http://127.0.0.1:9999/',
      GEMINI_DEADLINE_MS: '5000',
    });
    expect(c.gemini).toMatchObject({ models: ['gemini-2.5-pro', 'gemini-2.5-flash'], poolSize: 8, strategy: 'least-busy', baseUrl: 'http://127.0.0.1:9999', deadlineMs: 5000 });
  });

  it('reports every problem at once, one line each', () => {
    const problems = problemsOf({ GEMINI_STRATEGY: 'fastest', GEMINI_POOL_SIZE: 'ten', GEMINI_BASE_URL: 'not a url' });
    expect(problems).toEqual([
      expect.stringMatching(/^no Gemini API key/),
      'GEMINI_POOL_SIZE: must be a whole number >= 1 (got "ten")',
      'GEMINI_STRATEGY: must be one of health, round-robin, random, least-busy (got "fastest")',
      'GEMINI_BASE_URL: must be an http(s) URL (got "not a url")',
    ]);
  });

  it('a missing keys file is named', () => {
    const problems = problemsOf({ GEMINI_KEYS_FILE: '/nonexistent/keys.txt' });
    expect(problems).toEqual(['GEMINI_KEYS_FILE: no such file: /nonexistent/keys.txt']);
  });

  it('never echoes a key, even one pasted into the wrong variable', () => {
    const secret = 'AIzaSyTESTKEYdoNotLeak123';
    try {
      loadConfig({ GEMINI_API_KEY: secret, GEMINI_POOL_SIZE: secret });
      throw new Error('expected a ConfigError');
    } catch (e) {
      expect((e as Error).message).not.toContain(secret);
      expect((e as Error).message).toContain('GEMINI_POOL_SIZE');
    }
  });
});

describe('documentation matches the code', () => {
  it('.env.example and README.md name every variable', async () => {
    const { readFileSync } = await import('node:fs');
    const { CONFIG_VARIABLES } = await import('../../src/config.ts');
    const example = readFileSync('.env.example', 'utf8');
    const readme = readFileSync('README.md', 'utf8');
    for (const name of CONFIG_VARIABLES) {
      expect(example, `.env.example lacks ${name}`).toMatch(new RegExp(`^#? ?${name}=`, 'm'));
      expect(readme, `README.md lacks ${name}`).toContain(`\`${name}\``);
    }
  });
});

describe('sharding configuration', () => {
  it('SHARD_IDS needs a fixed SHARD_COUNT and ids inside it', () => {
    expect(loadConfig({ GEMINI_API_KEY: 'test-key-1', SHARD_COUNT: '4', SHARD_IDS: '2, 3' }).store).toMatchObject({ shardCount: 4, shardIds: [2, 3] });
    expect(problemsOf({ GEMINI_API_KEY: 'test-key-1', SHARD_IDS: '0,1' })).toEqual(['SHARD_IDS: needs a fixed SHARD_COUNT (every machine must agree on the total)']);
    expect(problemsOf({ GEMINI_API_KEY: 'test-key-1', SHARD_COUNT: '2', SHARD_IDS: '2' })).toEqual(['SHARD_IDS: shard numbers go from 0 to SHARD_COUNT - 1 (1)']);
    expect(problemsOf({ GEMINI_API_KEY: 'test-key-1', SHARD_COUNT: 'many' })).toEqual(['SHARD_COUNT: must be "auto" or a whole number >= 1 (got "many")']);
  });
});

describe('loadBotConfig', () => {
  it('reports the missing token together with the other problems', async () => {
    const { loadBotConfig } = await import('../../src/config.ts');
    try {
      loadBotConfig({});
      throw new Error('expected a ConfigError');
    } catch (e) {
      expect((e as ConfigError).problems).toEqual([expect.stringMatching(/^no Gemini API key/), expect.stringMatching(/^DISCORD_TOKEN: required/)]);
    }
    expect(loadBotConfig({ GEMINI_API_KEY: 'test-key-1', DISCORD_TOKEN: 'fake-token' }).discord.token).toBe('fake-token');
  });
});
