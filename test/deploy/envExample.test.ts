/**
 * A new user's first start: `cp .env.example .env`, fill in a key and a token, `npm start`.
 * The copy sets `SHARD_COUNT=auto` (and other variables discord.js or @google/genai also
 * read); the bot must start anyway, and stop with exit 0.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeDiscord } from '../../fakes/fakeDiscord.ts';
import { FakeGemini } from '../../fakes/fakeGemini.ts';
import { ROOT, runEntry, untilReady, within, type Running } from './entry.ts';

const APP_ID = '1200000000000000001';
const GUILD_ID = '1200000000000000002';

/** `.env.example` with the blanks a new user fills in filled, pointed at the fakes. */
function filledEnvExample(gemini: FakeGemini, discord: FakeDiscord): string {
  const fill: Record<string, string> = {
    GEMINI_API_KEY: 'test-key-1',
    DISCORD_TOKEN: 'fake-bot-token',
    GEMINI_BASE_URL: gemini.url,
    DISCORD_API_URL: discord.apiUrl,
  };
  let text = readFileSync(resolve(ROOT, '.env.example'), 'utf8');
  for (const [name, value] of Object.entries(fill)) {
    const line = new RegExp(`^#? ?${name}=.*$`, 'm');
    expect(text, `.env.example has a line for ${name}`).toMatch(line);
    text = text.replace(line, `${name}=${value}`);
  }
  return text;
}

describe('cp .env.example .env, fill in a key and a token, npm start', () => {
  let gemini: FakeGemini;
  let discord: FakeDiscord;
  let running: Running | undefined;
  beforeAll(async () => {
    gemini = await FakeGemini.start();
    discord = await FakeDiscord.start({ applicationId: APP_ID, token: 'fake-bot-token', guilds: [{ id: GUILD_ID, channels: [{ id: '1200000000000000003', name: 'general' }] }] });
  });
  afterAll(async () => {
    running?.child.kill('SIGKILL');
    await discord?.close();
    await gemini?.close();
  });

  /** Starts src/main.ts in a fresh directory holding only the filled-in copy. */
  async function startAndStop(processEnv: Record<string, string>): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), 'env-example-'));
    writeFileSync(join(dir, '.env'), filledEnvExample(gemini, discord));
    const connectionsBefore = discord.gateway.identifies;
    const main = runEntry('src/main.ts', processEnv, dir);
    running = main;
    await untilReady(main, discord.waitFor(() => discord.connected && discord.gateway.identifies > connectionsBefore, 30_000), 31_000, 'the bot logged in');
    main.child.kill('SIGTERM');
    const { code } = await within(main.exit, 20_000, () => `exit after SIGTERM; output:\n${main.output()}`);
    running = undefined;
    expect(code, main.output()).toBe(0);
    expect(main.output()).not.toContain('fake-bot-token');
    expect(main.output()).not.toContain('test-key-1');
  }

  it('starts with the copy as it is (SHARD_COUNT=auto among its lines)', async () => {
    expect(readFileSync(resolve(ROOT, '.env.example'), 'utf8')).toMatch(/^SHARD_COUNT=auto$/m);
    await startAndStop({});
  });

  it('starts when a process manager puts the same variables into the real environment', async () => {
    // systemd's EnvironmentFile= or `docker run --env-file` set them before node starts.
    await startAndStop({ SHARD_COUNT: 'auto', GEMINI_API_KEY: 'test-key-1', DISCORD_TOKEN: 'fake-bot-token' });
  });
});
