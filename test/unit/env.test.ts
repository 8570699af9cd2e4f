import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config.ts';
import { hideFromLibraries, readEnv } from '../../src/env.ts';

const dirWith = (files: Record<string, string>): string => {
  const dir = mkdtempSync(join(tmpdir(), 'env-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
};

describe('readEnv', () => {
  it('reads .env of the working directory into its own object; the process environment wins', () => {
    const dir = dirWith({ '.env': 'SHARD_COUNT=auto\nGEMINI_API_KEY="test-key-1"\nLOG_LEVEL=debug\n' });
    const processEnv = { LOG_LEVEL: 'warn', PATH: '/bin' };
    const { env, file } = readEnv(processEnv, dir);
    expect(file).toBe(join(dir, '.env'));
    expect(env).toEqual({ SHARD_COUNT: 'auto', GEMINI_API_KEY: 'test-key-1', LOG_LEVEL: 'warn', PATH: '/bin' });
    // Nothing of the file leaks into the environment libraries read.
    expect(processEnv).toEqual({ LOG_LEVEL: 'warn', PATH: '/bin' });
  });

  it('no .env is fine; ENV_FILE names another file, or none when empty', () => {
    const dir = dirWith({ '.env': 'STORE=redis\n', 'other.env': 'STORE=memory\n' });
    expect(readEnv({}, mkdtempSync(join(tmpdir(), 'env-'))).env).toEqual({});
    expect(readEnv({ ENV_FILE: 'other.env' }, dir).env.STORE).toBe('memory');
    expect(readEnv({ ENV_FILE: '' }, dir)).toEqual({ env: { ENV_FILE: '' }, file: undefined });
  });

  it('an ENV_FILE that does not exist, or a .env that is a directory, is a configuration problem', () => {
    const dir = dirWith({});
    expect(() => readEnv({ ENV_FILE: 'missing.env' }, dir)).toThrow(ConfigError);
    expect(() => readEnv({ ENV_FILE: 'missing.env' }, dir)).toThrow(/ENV_FILE: no such file: .*missing\.env/);
    mkdirSync(join(dir, '.env'));
    expect(() => readEnv({}, dir)).toThrow(/\.env: cannot read .*\.env \(not a file\)/);
  });
});

describe('hideFromLibraries', () => {
  it('removes what discord.js and @google/genai would read, and every key variable', () => {
    const env: Record<string, string> = {
      SHARD_COUNT: 'auto',
      DISCORD_TOKEN: 'fake-token',
      GEMINI_API_KEY: 'test-key-1',
      GEMINI_API_KEYS: 'test-key-2',
      GEMINI_API_KEY_7: 'test-key-7',
      SHARD_IDS: '0',
      STORE: 'memory',
      PATH: '/bin',
    };
    expect(hideFromLibraries(env).sort()).toEqual(['DISCORD_TOKEN', 'GEMINI_API_KEY', 'GEMINI_API_KEYS', 'GEMINI_API_KEY_7', 'SHARD_COUNT']);
    expect(env).toEqual({ SHARD_IDS: '0', STORE: 'memory', PATH: '/bin' });
  });

  it('under the ShardingManager, SHARD_COUNT is the manager\'s and stays for the Client', () => {
    const env: Record<string, string> = { SHARDING_MANAGER: 'true', SHARDS: '1', SHARD_COUNT: '2', DISCORD_TOKEN: 'fake-token' };
    hideFromLibraries(env);
    expect(env).toEqual({ SHARDING_MANAGER: 'true', SHARDS: '1', SHARD_COUNT: '2' });
  });
});
