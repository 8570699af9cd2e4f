/**
 * End to end: `stop()` with answers that never come (Gemini hangs). After the grace period
 * what is in flight is cancelled, every user waiting is told in one line that the bot
 * restarted, the counters of those requests reach SQLite, and `stop()` resolves.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startBot, type RunningBot } from '../../src/bot/app.ts';
import { THINKING_TEXT, failureText } from '../../src/bot/userText.ts';
import { CHANNEL_ID, alice, bob, carol, expectWorldInvariants, startWorld, str, waitForAnswer, type World } from './harness.ts';

const RESTARTED = failureText({ kind: 'interrupted' });

let w: World | undefined;
let again: RunningBot | undefined;
afterEach(async () => {
  await again?.stop();
  again = undefined;
  await w?.close();
  w = undefined;
});

describe('stop() with answers in flight past the grace period', () => {
  it('cancels them, tells each user in one line, writes their counters, and resolves', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'bot-stop-'));
    w = await startWorld({ env: { STORE: 'sqlite', DATA_DIR: dataDir, SHUTDOWN_GRACE_MS: '200' } });
    const world = w;
    // One answer that completes, so the store has something before the hang.
    const warmUp = await world.discord.sendCommand({ name: 'ask', options: [str('prompt', 'warm up')], user: alice, channelId: CHANNEL_ID });
    await waitForAnswer(world, warmUp);

    world.gemini.inject({ type: 'hang' }, { times: Number.POSITIVE_INFINITY });
    const asked = await world.discord.sendCommand({ name: 'ask', options: [str('prompt', 'never answered')], user: alice, channelId: CHANNEL_ID });
    const dm = world.discord.nextId();
    const chatted = await world.discord.sendCommand({ name: 'chat', options: [str('prompt', 'hello')], user: bob, channelId: dm, guildId: null });
    const dm2 = world.discord.nextId();
    world.discord.sendUserMessage({ channelId: dm2, guildId: null, content: 'are you there?', author: carol });
    // All three are waiting on Gemini now.
    await world.discord.waitFor(() => world.gemini.requests.filter((r) => r.fault === 'hang').length === 3, 10_000);
    // Still loading, or showing that the model thinks: no answer yet.
    expect(asked.original()!.flags & 128 || asked.original()!.content === THINKING_TEXT).toBeTruthy();

    await world.bot.stop();

    // When stop() resolves, every waiting user has been told, in one line.
    expect(asked.original()!.content).toBe(RESTARTED);
    expect(chatted.original()!.content).toBe(RESTARTED);
    const carolSaw = world.discord.channelMessages(dm2).filter((m) => m.authorId === world.discord.botUser.id);
    expect(carolSaw.map((m) => m.content)).toEqual([RESTARTED]);
    expect(asked.followUps()).toEqual([]);
    // Nothing was retried on another key after the cancel.
    expect(world.gemini.requests.filter((r) => r.route === 'streamGenerateContent')).toHaveLength(4);

    // The counters were written after the cancelled requests ended: a new process reads them all.
    const known = world.bot.pool.getKeyStats().totals;
    expect(known.usage).toBe(4);
    again = await startBot(world.env, { logger: pino({ level: 'silent' }), registerCommands: false });
    const reloaded = again.pool.getKeyStats().totals;
    expect({ usage: reloaded.usage, requestsToday: reloaded.requestsToday }).toEqual({ usage: known.usage, requestsToday: known.requestsToday });
    expectWorldInvariants(world);
  });

  it('with nothing in flight, stops at once and a second stop() is the same stop', async () => {
    w = await startWorld({ env: { SHUTDOWN_GRACE_MS: '60000' } });
    const first = w.bot.stop();
    expect(w.bot.stop()).toBe(first);
    await first;
    expect(w.discord.connected).toBe(false);
  });
});
