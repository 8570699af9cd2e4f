import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/** `npm run start:sharded` with exactly this environment: no `.env` is read (ENV_FILE is empty). */
const run = (env: Record<string, string>) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'src/shard.ts'], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ENV_FILE: '', ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });

describe('npm run start:sharded', () => {
  it('refuses a store other than redis and says why', () => {
    const r = run({ GEMINI_API_KEY: 'test-key-1', DISCORD_TOKEN: 'fake-token', STORE: 'sqlite', DATA_DIR: '/tmp/shard-test' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/Cannot start sharded: STORE=sqlite cannot be shared by shards/);
    expect(r.stderr).toMatch(/Set STORE=redis and REDIS_URL/);
  });

  it('needs a token, and never prints it', () => {
    const r = run({ GEMINI_API_KEY: 'test-key-1', STORE: 'redis', REDIS_URL: 'redis://127.0.0.1:1' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/DISCORD_TOKEN: required/);
  });

  it('lists the store problem together with the other configuration problems', () => {
    const r = run({ GEMINI_API_KEY: 'test-key-1', STORE: 'sqlite', GEMINI_POOL_SIZE: 'ten' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/GEMINI_POOL_SIZE: must be a whole number/);
    expect(r.stderr).toMatch(/DISCORD_TOKEN: required/);
    expect(r.stderr).toMatch(/STORE=sqlite cannot be shared by shards/);
  });
});
