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

// Shaped like the real thing, obviously fake, and put together here so that no file of the
// repository holds a string a secret scanner would take for a real key or token.
const GEMINI_SHAPED = ['AIza', 'FakeTestKey_doNotUse_00000000000'].join('');
const TOKEN_SHAPED = ['MTIwMDAwMDAwMDAwMDAwMDAw', 'FAKEts', 'fake-hmac-not-a-real-token-0000'].join('.');

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
    const secret = ['AIza', 'SyTESTKEYdoNotLeak123'].join('');
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

describe('CHAT_HISTORY_TURNS: the documents say what the code does', () => {
  it('counts messages, user and bot alike, and what Gemini gets includes the new message', async () => {
    const { readFileSync } = await import('node:fs');
    const { Conversations } = await import('../../src/bot/conversations.ts');
    const { MemoryStore } = await import('../../src/store/memory.ts');
    const meaning = /messages of a conversation kept and sent to Gemini, the new one included \(each user message and each bot answer is one\)/i;
    expect(readFileSync('.env.example', 'utf8')).toMatch(meaning);
    expect(readFileSync('README.md', 'utf8')).toMatch(meaning);

    const turns = 6;
    const c = new Conversations(new MemoryStore(), { historyTurns: turns });
    await c.start('t', { model: 'm', ownerId: 'u' });
    let conv = (await c.get('t'))!;
    const msg = (role: 'user' | 'model', text: string) => ({ role, parts: [{ text }] });
    for (let i = 1; i <= 10; i++) conv = await c.append('t', conv, [msg('user', `u${i}`), msg('model', `m${i}`)]);
    // Kept: the last 6 messages, user and bot alike.
    expect(conv.history).toHaveLength(turns);
    // Sent with a new message: history + that message, 6 at most, starting with a user message.
    const sent = [...c.historyFor(conv), msg('user', 'new')];
    expect(sent.length).toBeLessThanOrEqual(turns);
    expect(sent.length).toBeGreaterThanOrEqual(turns - 1);
    expect(sent[0]!.role).toBe('user');
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

describe('one run lists every problem', () => {
  it('problems across variables come with the others, not after they are fixed', async () => {
    const { loadBotConfig } = await import('../../src/config.ts');
    let problems: string[] = [];
    try {
      loadBotConfig({ GEMINI_POOL_SIZE: 'ten', STORE: 'redis', SHARD_IDS: '0,1', EDIT_INTERVAL_MS: '10' });
    } catch (e) {
      problems = (e as ConfigError).problems;
    }
    expect(problems).toEqual([
      expect.stringMatching(/^no Gemini API key/),
      'GEMINI_POOL_SIZE: must be a whole number >= 1 (got "ten")',
      'EDIT_INTERVAL_MS: must be a whole number >= 250 (got "10")',
      'REDIS_URL: required when STORE=redis (for example redis://127.0.0.1:6379)',
      'SHARD_IDS: needs a fixed SHARD_COUNT (every machine must agree on the total)',
      expect.stringMatching(/^DISCORD_TOKEN: required/),
    ]);
  });

  it('a wrong SHARD_COUNT is reported once, and SHARD_IDS out of a fixed count along with other problems', () => {
    expect(problemsOf({ GEMINI_API_KEY: 'test-key-1', SHARD_COUNT: 'many', SHARD_IDS: '0' })).toEqual(['SHARD_COUNT: must be "auto" or a whole number >= 1 (got "many")']);
    expect(problemsOf({ GEMINI_API_KEY: 'test-key-1', SHARD_COUNT: '2', SHARD_IDS: '5', STORE: 'nope' })).toEqual([
      'STORE: must be one of sqlite, memory, redis (got "nope")',
      'SHARD_IDS: shard numbers go from 0 to SHARD_COUNT - 1 (1)',
    ]);
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

describe('no configuration message echoes a secret or a long value', () => {

  it('a bot token in DISCORD_APPLICATION_ID is named, not printed', () => {
    const problems = problemsOf({ GEMINI_API_KEY: 'test-key-1', DISCORD_APPLICATION_ID: TOKEN_SHAPED });
    expect(problems).toEqual(['DISCORD_APPLICATION_ID: must be a Discord id (digits only; got a value that looks like a Discord bot token (that belongs in DISCORD_TOKEN))']);
  });

  it('a Gemini key in DISCORD_GUILD_ID is named, not printed', () => {
    const problems = problemsOf({ GEMINI_API_KEY: 'test-key-1', DISCORD_GUILD_ID: GEMINI_SHAPED });
    expect(problems).toEqual([
      'DISCORD_GUILD_ID: must be a Discord id (digits only; got a value that looks like a Gemini API key (those belong in GEMINI_API_KEY or GEMINI_API_KEYS))',
    ]);
  });

  it('a Gemini key as DISCORD_TOKEN or a model name is refused without printing it', () => {
    expect(problemsOf({ GEMINI_API_KEY: 'test-key-1', DISCORD_TOKEN: GEMINI_SHAPED })).toEqual([
      expect.stringMatching(/^DISCORD_TOKEN: looks like a Gemini API key, not a Discord bot token/),
    ]);
    const models = problemsOf({ GEMINI_API_KEY: 'test-key-1', GEMINI_MODELS: `gemini-2.5-flash,${GEMINI_SHAPED}` });
    expect(models).toEqual([expect.stringMatching(/^GEMINI_MODELS: entry 2 is not a model name like gemini-2\.5-flash \(got a value that looks like a Gemini API key/)]);
  });

  it('short harmless values are quoted; long ones only counted', () => {
    expect(problemsOf({ GEMINI_API_KEY: 'test-key-1', GEMINI_POOL_SIZE: 'ten' })).toEqual(['GEMINI_POOL_SIZE: must be a whole number >= 1 (got "ten")']);
    expect(problemsOf({ GEMINI_API_KEY: 'test-key-1', GEMINI_POOL_SIZE: 'five instances of each model' })).toEqual([
      'GEMINI_POOL_SIZE: must be a whole number >= 1 (got a 28-character value)',
    ]);
  });

  it('a keys file path is shown; a key pasted as the path is not', () => {
    expect(problemsOf({ GEMINI_KEYS_FILE: '/nonexistent/dir/keys.txt' })).toEqual(['GEMINI_KEYS_FILE: no such file: /nonexistent/dir/keys.txt']);
    expect(problemsOf({ GEMINI_KEYS_FILE: GEMINI_SHAPED })).toEqual([expect.stringMatching(/^GEMINI_KEYS_FILE: no such file: a value that looks like a Gemini API key/)]);
  });

  it('property: whatever variable gets a key, a token or a long value, no message contains it', async () => {
    const fc = (await import('fast-check')).default;
    const { CONFIG_VARIABLES, loadBotConfig } = await import('../../src/config.ts');
    const keyChars = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-'.split(''));
    const geminiShaped = fc.array(keyChars, { minLength: 35, maxLength: 35 }).map((cs) => `AIza${cs.join('')}`);
    const tokenShaped = fc
      .tuple(fc.array(keyChars, { minLength: 24, maxLength: 26 }), fc.array(keyChars, { minLength: 6, maxLength: 6 }), fc.array(keyChars, { minLength: 27, maxLength: 38 }))
      .map(([a, b, c]) => `${a.join('')}.${b.join('')}.${c.join('')}`);
    // Long values that are not paths (a path is shown: the operator must see which file).
    const long = fc.string({ minLength: 21, maxLength: 80 }).filter((s) => s.trim().length > 20 && !/[/\\]/.test(s) && !/\.[A-Za-z0-9]{1,5}$/.test(s.trim()));
    const names = fc.constantFrom(...CONFIG_VARIABLES, 'GEMINI_API_KEY_2', 'GEMINI_API_KEY_17', 'GEMINI_API_KEY3', 'GEMINI_APIKEY', 'GOOGLE_API_KEY', 'gemini_api_key');
    fc.assert(
      fc.property(names, fc.oneof(geminiShaped, tokenShaped, long), fc.boolean(), (name, value, withToken) => {
        const env: Record<string, string> = { GEMINI_API_KEY: 'test-key-1', ...(withToken ? { DISCORD_TOKEN: 'fake-bot-token' } : {}), [name]: value };
        let text: string;
        try {
          text = loadBotConfig(env).warnings.join('\n');
        } catch (e) {
          if (!(e instanceof ConfigError)) throw e;
          text = `${e.message}\n${e.problems.join('\n')}\n${e.warnings.join('\n')}`;
        }
        const v = value.trim();
        expect(text.includes(v), `${name}=<value> was echoed: ${text}`).toBe(false);
        // Nor a long piece of it.
        if (v.length >= 24) expect(text.includes(v.slice(2, 22)), `${name}: a piece was echoed: ${text}`).toBe(false);
      }),
      { numRuns: 400 },
    );
  });
});

describe('keys as people paste them', () => {
  it('matching quotes around an entry, a project or a key are removed: ASCII and typographic', () => {
    const c = loadConfig({
      GEMINI_API_KEYS: `"test-key-1", 'test-key-2'\n“test-key-3”,‘test-key-4’, proj:"test-key-5", "proj-b:test-key-6", ""`,
      GEMINI_API_KEY_2: '”test-key-7”',
    });
    expect(c.gemini.keys).toEqual([
      { key: 'test-key-1' },
      { key: 'test-key-2' },
      { key: 'test-key-3' },
      { key: 'test-key-4' },
      { key: 'test-key-5', group: 'proj' },
      { key: 'test-key-6', group: 'proj-b' },
      { key: 'test-key-7' },
    ]);
  });

  it('a key with whitespace, a stray quote or a foreign character is refused, naming the entry and never the key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const file = join(dir, 'keys.txt');
    writeFileSync(file, '# keys\ntest-key-5\n\ntest key 6\n');
    const env = {
      GEMINI_API_KEYS: 'test-key-1, test key 2, test-key-3”',
      GEMINI_API_KEY: 'test-key-4',
      GEMINI_API_KEY_2: 'test-key-7;',
      GEMINI_API_KEY_3: TOKEN_SHAPED,
      GEMINI_KEYS_FILE: file,
    };
    const problems = problemsOf(env);
    expect(problems).toEqual([
      'GEMINI_API_KEYS entry 2: has whitespace inside (a key is one word)',
      'GEMINI_API_KEYS entry 3: has a quote character in it (write the key without quotes, or with matching quotes around it)',
      'GEMINI_API_KEY_2: has characters a Gemini API key never has (keys are letters, digits, - and _)',
      'GEMINI_API_KEY_3: looks like a Discord bot token, not a Gemini API key (that belongs in DISCORD_TOKEN)',
      'GEMINI_KEYS_FILE line 4: has whitespace inside (a key is one word)',
    ]);
    for (const secret of ['test key 2', 'test-key-3', 'test-key-7', 'test key 6', 'FAKEts']) expect(problems.join('\n')).not.toContain(secret);
    // The only key refused: that is the problem, not "no key".
    expect(problemsOf({ GEMINI_API_KEY: '“test-key-1' })).toEqual([
      'GEMINI_API_KEY: has a quote character in it (write the key without quotes, or with matching quotes around it)',
    ]);
  });

  it('warns about near-misses (set, but not read) without their values, and about SDK variables that redirect requests', () => {
    const c = loadConfig({
      GEMINI_API_KEY: 'test-key-1',
      GEMINI_API_KEY3: 'test-key-3',
      GEMINI_APIKEY: 'test-key-4',
      GEMINI_KEY: 'test-key-5',
      GEMINI_API_KEYS_2: 'test-key-6',
      GEMINI_API_KEY_PROD: 'test-key-7',
      gemini_api_key_4: 'test-key-8',
      GEMINI_MODEL: 'gemini-2.5-pro',
      GEMINI_POOL_SIZ: '3',
      DISCORD_BOT_TOKEN: 'fake-bot-token',
      GOOGLE_GENAI_USE_VERTEXAI: 'true',
      GOOGLE_GEMINI_BASE_URL: 'http://127.0.0.1:9',
      GEMINI_CLI_THEME: 'dark',
      HOME: '/home/someone',
    });
    expect(c.gemini.keys).toEqual([{ key: 'test-key-1' }]);
    expect(c.warnings).toEqual([
      'DISCORD_BOT_TOKEN is set but not read: did you mean DISCORD_TOKEN?',
      'GEMINI_APIKEY is set but not read: did you mean GEMINI_API_KEY?',
      'GEMINI_API_KEY3 is set but not read: did you mean GEMINI_API_KEY_3?',
      'GEMINI_API_KEYS_2 is set but not read: did you mean GEMINI_API_KEY_2 (or one more entry in GEMINI_API_KEYS)?',
      'GEMINI_API_KEY_PROD is set but not read: numbered keys are GEMINI_API_KEY_2, GEMINI_API_KEY_3 ... (digits only)',
      'GEMINI_KEY is set but not read: did you mean GEMINI_API_KEY?',
      'GEMINI_MODEL is set but not read: did you mean GEMINI_MODELS?',
      'GEMINI_POOL_SIZ is set but not read: did you mean GEMINI_POOL_SIZE?',
      'gemini_api_key_4 is set but not read: names are case-sensitive: did you mean GEMINI_API_KEY_4?',
      'GOOGLE_GENAI_USE_VERTEXAI=true makes @google/genai send requests to Vertex AI, not to the Gemini API these keys are for: unset it',
      'GOOGLE_GEMINI_BASE_URL is set: @google/genai sends every request there; set GEMINI_BASE_URL instead, or unset it',
    ]);
    expect(c.warnings.join('\n')).not.toMatch(/test-key|fake-bot-token|127\.0\.0\.1/);
  });

  it('with no key of ours, GOOGLE_API_KEY or GEMINI_API_KEY3 explain the missing key', () => {
    try {
      loadConfig({ GOOGLE_API_KEY: 'test-key-1', GEMINI_API_KEY3: 'test-key-2' });
      throw new Error('expected a ConfigError');
    } catch (e) {
      const err = e as ConfigError;
      expect(err.problems).toEqual([expect.stringMatching(/^no Gemini API key/)]);
      expect(err.warnings).toEqual([
        'GEMINI_API_KEY3 is set but not read: did you mean GEMINI_API_KEY_3?',
        'GOOGLE_API_KEY is set but not read: put the key in GEMINI_API_KEY (or GEMINI_API_KEYS)',
      ]);
      expect(err.message).toMatch(/Configuration warnings:\n {2}- GEMINI_API_KEY3 is set but not read/);
      expect(err.message).not.toContain('test-key');
    }
  });
});
