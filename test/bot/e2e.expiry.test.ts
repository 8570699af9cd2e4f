/**
 * End to end: Discord lets a bot use an interaction's token for 15 minutes. When it
 * expires mid-answer (the fake's clock jumps 16 minutes while Gemini is still streaming),
 * the bot stops writing to the token and posts the rest in the channel, mentions off; a
 * private answer is never posted there, only a one-line notice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sdkClientFactory, type ClientFactory } from '../../src/gemini/adapter.ts';
import { CHANNEL_ID, alice, bob, bool, essence, expectWorldInvariants, longAnswer, startWorld, str, type World } from './harness.ts';

const FOOTER = /\n-# \S+ · /;

/**
 * Streams that pause after their first chunk until the test lets them go on, so the clock
 * jump happens mid-answer for sure.
 */
function pausedStreams(): { factory: ClientFactory; hold(): () => void } {
  let gate: Promise<void> = Promise.resolve();
  return {
    hold() {
      let release!: () => void;
      gate = new Promise<void>((resolve) => (release = resolve));
      return release;
    },
    factory: (apiKey, options) => {
      const real = sdkClientFactory(apiKey, options);
      return {
        generate: (req, signal) => real.generate(req, signal),
        check: (signal) => real.check(signal),
        native: (method, model, body, signal) => real.native(method, model, body, signal),
        nativeStream: (model, body, signal) => real.nativeStream(model, body, signal),
        async *stream(req, signal) {
          let chunks = 0;
          for await (const chunk of real.stream(req, signal)) {
            yield chunk;
            if (++chunks === 1) await gate;
          }
        },
      };
    },
  };
}

describe('an interaction token that expires mid-answer', () => {
  let w: World;
  let discordNow = Date.now();
  const streams = pausedStreams();
  beforeAll(async () => {
    w = await startWorld({
      env: { MAX_ANSWER_MESSAGES: '8' },
      gemini: { streamChunkChars: 300 },
      discord: { now: () => discordNow },
      overrides: { clientFactory: streams.factory },
    });
  });
  afterAll(async () => {
    if (!w) return;
    expectWorldInvariants(w);
    await w.close();
  });

  /** Bot messages in the channel that are not interaction responses. */
  const plainMessages = () => w.discord.channelMessages(CHANNEL_ID).filter((m) => m.authorId === w.discord.botUser.id && !m.interactionToken);

  it('posts the rest of a public answer in the channel, replying to it, and never uses the token again', async () => {
    const answer = longAnswer(6000);
    w.gemini.setReply(() => answer);
    const release = streams.hold();
    const it1 = await w.discord.sendCommand({ name: 'ask', options: [str('prompt', 'a long story')], user: alice, channelId: CHANNEL_ID });
    // The first piece is shown; then Discord's 15 minutes run out.
    const partial = await it1.waitForOriginal((m) => m.content.length > 0, 10_000);
    const shownBefore = partial.content;
    discordNow += 16 * 60_000;
    release();

    const last = await w.discord.waitFor(() => plainMessages().find((m) => FOOTER.test(m.content)), 15_000);
    await w.discord.waitFor(() => w.bot.gate.inFlight === 0, 5000);
    const moved = plainMessages();
    expect(moved.at(-1)).toBe(last);
    // The first moved message replies to the answer so far; together they end the answer.
    expect(moved[0]!.referenceMessageId).toBe(partial.id);
    expect(essence(answer).endsWith(essence(moved.map((m) => m.content).join('\n')))).toBe(true);
    expect(essence(answer).startsWith(essence(shownBefore))).toBe(true);
    // One 401 from the expired token, and no call to the token after it.
    const expiredAt = w.discord.calls.findIndex((c) => c.status === 401);
    expect(w.discord.calls.filter((c) => c.status === 401)).toHaveLength(1);
    expect(w.discord.calls[expiredAt]!.path).toMatch(/^\/webhooks\//);
    expect(w.discord.calls.slice(expiredAt + 1).filter((c) => c.path.startsWith('/webhooks/'))).toEqual([]);
    for (const m of moved) expect(m.allowedMentions).toMatchObject({ parse: [] });
  });

  it('a private answer is not posted in the channel: its owner gets one line there instead', async () => {
    const answer = `The secret plan. ${longAnswer(3000)}`;
    w.gemini.setReply(() => answer);
    const before = plainMessages().length;
    const release = streams.hold();
    const it1 = await w.discord.sendCommand({
      name: 'ask',
      options: [str('prompt', 'tell me privately'), bool('private', true)],
      user: bob,
      channelId: CHANNEL_ID,
    });
    await it1.waitForOriginal((m) => m.content.length > 0, 10_000);
    discordNow += 16 * 60_000;
    release();
    const notice = await w.discord.waitFor(() => plainMessages()[before], 15_000);
    await w.discord.waitFor(() => w.bot.gate.inFlight === 0, 5000);
    expect(plainMessages()).toHaveLength(before + 1);
    expect(notice.content).toContain(`<@${bob.id}>`);
    expect(notice.content).toContain('could not be finished');
    expect(notice.content).not.toContain('secret plan');
    expect(notice.pings.users).toEqual([]);
  });
});
