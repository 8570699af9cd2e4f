/**
 * A restart with the default SQLite store: the chat thread goes on with its history, and
 * today's counts are still in /api-key-stats.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startBot } from '../../src/bot/app.ts';
import { CHANNEL_ID, alice, bob, startWorld, str, type World } from './harness.ts';

let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

describe('restart', () => {
  it('a chat thread continues after a restart, with its history', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'bot-restart-'));
    w = await startWorld({ env: { STORE: 'sqlite', DATA_DIR: dataDir } });
    const world = w;
    const answersIn = (id: string) => world.discord.channelMessages(id).filter((m) => /\n-# \S+ · /.test(m.content));
    await world.discord.sendCommand({ name: 'chat', options: [str('prompt', 'Remember the number 42')], user: alice, channelId: CHANNEL_ID });
    const thread = await world.discord.waitFor(() => [...world.discord.threads.values()][0]);
    await world.discord.waitFor(() => answersIn(thread.id).length === 1, 5000);
    await world.discord.waitFor(() => world.bot.gate.inFlight === 0, 2000);

    await world.bot.stop();
    world.bot = await startBot(world.env, { logger: pino({ level: 'silent' }), registerCommands: false });

    world.discord.sendUserMessage({ channelId: thread.id, content: 'What number was it?', author: bob });
    await world.discord.waitFor(() => answersIn(thread.id).length === 2, 8000);
    const last = world.gemini.requests.filter((r) => r.route === 'streamGenerateContent').at(-1)!;
    const turns = (last.body.contents as Array<{ role: string; parts: Array<{ text: string }> }>).map((c) => `${c.role}: ${c.parts.map((p) => p.text).join('')}`);
    expect(turns).toEqual(['user: Alice: Remember the number 42', 'model: echo: Alice: Remember the number 42', 'user: Bob: What number was it?']);
    // Today's count survived too: both requests are in the new process's stats.
    expect(world.bot.pool.getKeyStats().totals.requestsToday).toBe(2);
  });
});
