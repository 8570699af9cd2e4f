/**
 * What the entry points print when they start: configuration warnings (never a value)
 * before the bot starts, and the same words from `npm start` and `npm run register` when
 * Discord rejects the token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeDiscord } from '../../fakes/fakeDiscord.ts';
import { FakeGemini } from '../../fakes/fakeGemini.ts';
import { runEntry, untilReady, within, type Running } from './entry.ts';

describe('npm start prints what it noticed', () => {
  let gemini: FakeGemini;
  let discord: FakeDiscord;
  let running: Running | undefined;
  beforeAll(async () => {
    gemini = await FakeGemini.start();
    discord = await FakeDiscord.start({ applicationId: '1600000000000000001', token: 'fake-bot-token' });
  });
  afterAll(async () => {
    running?.child.kill('SIGKILL');
    await discord?.close();
    await gemini?.close();
  });

  const env = (extra: Record<string, string>): Record<string, string> => ({
    ENV_FILE: '',
    GEMINI_BASE_URL: gemini.url,
    DISCORD_API_URL: discord.apiUrl,
    STORE: 'memory',
    LOG_LEVEL: 'warn',
    ...extra,
  });

  it('near-misses are warned about on stderr, and the bot still starts', async () => {
    const main = runEntry('src/main.ts', env({ GEMINI_API_KEY: 'test-key-1', GEMINI_API_KEY3: 'test-key-3', DISCORD_TOKEN: 'fake-bot-token' }));
    running = main;
    await untilReady(main, discord.waitFor(() => discord.connected, 30_000), 31_000, 'the bot logged in');
    expect(main.stderr()).toContain('Configuration warnings:\n  - GEMINI_API_KEY3 is set but not read: did you mean GEMINI_API_KEY_3?\n');
    main.child.kill('SIGTERM');
    expect((await within(main.exit, 20_000, () => main.output())).code).toBe(0);
    running = undefined;
    expect(main.output()).not.toContain('test-key-3');
  });

  it('with no key at all, the warning explains why: exit 2', async () => {
    const main = runEntry('src/main.ts', env({ GEMINI_API_KEY3: 'test-key-3', DISCORD_TOKEN: 'fake-bot-token' }));
    const { code } = await within(main.exit, 20_000, () => main.output());
    expect(code).toBe(2);
    expect(main.stderr()).toMatch(/no Gemini API key[^\n]*\nConfiguration warnings:\n {2}- GEMINI_API_KEY3 is set but not read: did you mean GEMINI_API_KEY_3\?/);
    expect(main.output()).not.toContain('test-key-3');
  });

  it('a rejected token: npm start and npm run register say the same sentence, not "401: Unauthorized"', async () => {
    const wrong = { GEMINI_API_KEY: 'test-key-1', DISCORD_TOKEN: 'wrong-token-value' };
    const main = runEntry('src/main.ts', env(wrong));
    const register = runEntry('src/bot/register.ts', env({ ...wrong, DISCORD_APPLICATION_ID: '1600000000000000001', DISCORD_GUILD_ID: '1600000000000000002' }));
    expect((await within(main.exit, 30_000, () => main.output())).code).toBe(1);
    expect((await within(register.exit, 30_000, () => register.output())).code).toBe(1);
    const sentence = 'Discord rejected DISCORD_TOKEN (reset it in the Developer Portal -> Bot, and update .env)';
    expect(main.stderr()).toContain(`Could not start the bot: ${sentence}\n`);
    expect(register.stderr()).toBe(`Registration failed: ${sentence}\n`);
    expect(main.output() + register.output()).not.toContain('wrong-token-value');
  });
});
