/**
 * `npm test` must not depend on the developer's environment: a shell that exports a full
 * configuration (Redis that is not there, SHARD_COUNT=auto, a token, a key, a base URL that
 * refuses connections) and an ENV_FILE pointing at another such file must not change a
 * single result. Runs test files that start the bot in-process and spawn entry points.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, run, within } from './entry.ts';

const HOSTILE = {
  STORE: 'redis',
  REDIS_URL: 'redis://127.0.0.1:1',
  DISCORD_TOKEN: 'x',
  GEMINI_API_KEY: 'test-key-9',
  SHARD_COUNT: 'auto',
  LOG_LEVEL: 'debug',
  GEMINI_BASE_URL: 'http://127.0.0.1:1',
  GOOGLE_GENAI_USE_VERTEXAI: 'true',
};

describe('the test suite and the developer\'s environment', () => {
  it('passes with a full, wrong configuration in the shell and in ENV_FILE', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hostile-'));
    const file = join(dir, 'hostile.env');
    writeFileSync(file, Object.entries(HOSTILE).map(([k, v]) => `${k}=${v}`).join('\n'));
    const vitest = run(
      process.execPath,
      [resolve(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', '--maxWorkers=1', 'test/bot/e2e.restart.test.ts', 'test/unit/shard.test.ts'],
      { cwd: ROOT, env: { ...HOSTILE, ENV_FILE: file, CI: 'true' } },
    );
    const { code } = await within(vitest.exit, 110_000, () => `nested vitest; output:\n${vitest.output()}`);
    expect(code, vitest.output()).toBe(0);
  }, 120_000);
});
