/**
 * End to end: the buttons under an answer (Stop while it streams, Regenerate once done; only
 * the asker, a moderator or an admin), and the message menu command "Ask Gemini about this".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeMessage } from '../../fakes/fakeDiscord.ts';
import { encodePng } from '../../src/bot/gifFrame.ts';
import { sdkClientFactory, type AdapterRequest, type ClientFactory } from '../../src/gemini/adapter.ts';
import {
  APP_ID,
  CHANNEL_ID,
  alice,
  bob,
  bool,
  expectWorldInvariants,
  replyAnswer,
  slowStreams,
  startWorld,
  str,
  waitForAnswer,
  type World,
} from './harness.ts';

const FOOTER = /\n-# \S+ · /;

/** Streams whose newest prompt matches arrive in pieces `delayMs` apart; others as the fake sends them. */
function slowStreamsWhen(delayMs: number, matches: (text: string) => boolean): ClientFactory {
  const slow = slowStreams(delayMs);
  return (apiKey, options) => {
    const real = sdkClientFactory(apiKey, options);
    const delayed = slow(apiKey, options);
    const lastText = (req: AdapterRequest): string => req.contents.at(-1)!.parts.map((p) => ('text' in p ? p.text : '')).join('');
    return { ...real, stream: (req, signal) => (matches(lastText(req)) ? delayed : real).stream(req, signal) };
  };
}
const MANAGE_MESSAGES = (1n << 13n).toString();
/** The custom ids of a message's buttons. */
const buttons = (m: FakeMessage | undefined): string[] => (m?.components ?? []).flatMap((row: { components: Array<{ custom_id: string }> }) => row.components.map((c) => c.custom_id));

describe('answer buttons and the message menu', () => {
  let w: World;
  let answerNumber = 0;
  beforeAll(async () => {
    w = await startWorld({
      // Pieces of the answer to stop arrive 60 ms apart, so it streams long enough to be stopped.
      overrides: { clientFactory: slowStreamsWhen(60, (text) => text.includes('a long one please')) },
      gemini: {
        reply: (ctx) => (ctx.lastUserText.includes('long') ? `${'A long answer keeps going. '.repeat(40)}The end.` : `answer #${++answerNumber} to: ${ctx.lastUserText}`),
      },
    });
  });
  afterAll(async () => {
    if (!w) return;
    expectWorldInvariants(w);
    await w.close();
  });

  const streamRequests = () => w.gemini.requests.filter((r) => r.route === 'streamGenerateContent');

  it('Stop shows while an answer streams; the asker stops it (others may not); Regenerate is then under it', async () => {
    const asked = await w.discord.sendCommand({ name: 'ask', options: [str('prompt', 'a long one please')], user: alice, channelId: CHANNEL_ID });
    const streaming = await asked.waitForOriginal((m) => buttons(m).some((id) => id.startsWith('ask:stop:')), 8000);
    const stopId = buttons(streaming).find((id) => id.startsWith('ask:stop:'))!;

    const byBob = await w.discord.sendButton({ customId: stopId, messageId: streaming.id, channelId: CHANNEL_ID, user: bob, memberPermissions: '0' });
    await byBob.waitForResponse();
    expect(byBob.ephemeral()).toBe(true);
    expect(byBob.original()!.content).toBe('🔒 Only the person who asked (or a moderator) can use the buttons of this answer.');

    const byAlice = await w.discord.sendButton({ customId: stopId, messageId: streaming.id, channelId: CHANNEL_ID, user: alice });
    await byAlice.waitForResponse();
    expect(byAlice.responseType()).toBe(6);
    const [stopped] = await waitForAnswer(w, asked, (ms) => ms.at(-1)!.content.includes('Stopped by'));
    expect(stopped!.content).toMatch(/⏹️ Stopped by \*\*Alice\*\*\.$/);
    expect(stopped!.content).not.toContain('The end.');
    expect(buttons(stopped)).toEqual([stopId.replace(':stop:', ':regen:')]);
  });

  it('Regenerate sends the same request again and replaces the answer in the same message', async () => {
    const asked = await w.discord.sendCommand({ name: 'ask', options: [str('prompt', 'pick a number')], user: alice, channelId: CHANNEL_ID });
    const [first] = await waitForAnswer(w, asked);
    // The fake updates its messages in place: keep what it said before.
    const firstContent = first!.content;
    expect(firstContent).toMatch(/^answer #\d+ to: pick a number\n-# /);
    const before = streamRequests().length;
    const regenId = buttons(first).find((id) => id.startsWith('ask:regen:'))!;
    expect(regenId).toBeDefined();

    const press = await w.discord.sendButton({ customId: regenId, messageId: first!.id, channelId: CHANNEL_ID, user: alice });
    await press.waitForResponse();
    expect(press.responseType()).toBe(6);
    const again = await w.discord.waitFor(() => {
      const m = w.discord.messages.get(first!.id)!;
      return m.content !== firstContent && FOOTER.test(m.content) ? m : undefined;
    }, 8000);
    await w.discord.waitFor(() => w.bot.gate.inFlight === 0, 2000);
    expect(again.content).toMatch(/^answer #\d+ to: pick a number\n-# /);
    expect(streamRequests()).toHaveLength(before + 1);
    expect(streamRequests().at(-1)!.body.contents).toEqual(streamRequests().at(-2)!.body.contents);
    expect(buttons(again)).toEqual([regenId]);
    expect(asked.followUps()).toHaveLength(0);
  });

  it('a new answer shorter than the old one takes fewer messages: the rest are deleted', async () => {
    w.gemini.setReply(() => `${'A paragraph that fills the message. '.repeat(60)}\n\n${'And one more. '.repeat(100)}`);
    const asked = await w.discord.sendCommand({ name: 'ask', options: [str('prompt', 'first long')], user: alice, channelId: CHANNEL_ID });
    const messages = await waitForAnswer(w, asked);
    expect(messages.length).toBeGreaterThan(1);
    w.gemini.setReply(() => 'short this time');
    try {
      const last = messages.at(-1)!;
      const press = await w.discord.sendButton({ customId: buttons(last)[0]!, messageId: last.id, channelId: CHANNEL_ID, user: alice });
      await press.waitForResponse();
      await w.discord.waitFor(() => FOOTER.test(w.discord.messages.get(messages[0]!.id)!.content) && w.discord.messages.get(messages[0]!.id)!.content.startsWith('short'), 8000);
      await w.discord.waitFor(() => w.bot.gate.inFlight === 0, 2000);
      expect(messages.slice(1).every((m) => w.discord.messages.get(m.id)!.deleted)).toBe(true);
      expect(buttons(w.discord.messages.get(messages[0]!.id))[0]).toMatch(/^ask:regen:/);
    } finally {
      w.gemini.setReply((ctx) => `answer #${++answerNumber} to: ${ctx.lastUserText}`);
    }
  });

  it('a moderator may regenerate someone\'s mention answer: the reply is rewritten in place, still replying', async () => {
    const asked = w.discord.sendUserMessage({ channelId: CHANNEL_ID, content: `<@${APP_ID}> name a colour`, author: alice });
    const [answer] = await replyAnswer(w, asked);
    const answerContent = answer!.content;
    const regenId = buttons(answer).find((id) => id.startsWith('ask:regen:'))!;
    const press = await w.discord.sendButton({ customId: regenId, messageId: answer!.id, channelId: CHANNEL_ID, user: bob, memberPermissions: MANAGE_MESSAGES });
    await press.waitForResponse();
    const again = await w.discord.waitFor(() => {
      const m = w.discord.messages.get(answer!.id)!;
      return m.content !== answerContent && FOOTER.test(m.content) ? m : undefined;
    }, 8000);
    await w.discord.waitFor(() => w.bot.gate.inFlight === 0, 2000);
    expect(again.content).toContain('to: Alice: name a colour');
    expect(again.referenceMessageId).toBe(asked.id);
  });

  it('a button of an answer the bot no longer knows says so', async () => {
    const asked = await w.discord.sendCommand({ name: 'ask', options: [str('prompt', 'hello')], user: alice, channelId: CHANNEL_ID });
    const [answer] = await waitForAnswer(w, asked);
    const press = await w.discord.sendButton({ customId: 'ask:regen:0000deadbeef', messageId: answer!.id, channelId: CHANNEL_ID, user: alice });
    await press.waitForResponse();
    expect(press.original()!.content).toContain('can no longer be stopped or written again');
  });

  it('a private answer has no buttons', async () => {
    const asked = await w.discord.sendCommand({ name: 'ask', options: [str('prompt', 'secret'), bool('private', true)], user: alice, channelId: CHANNEL_ID });
    const [answer] = await waitForAnswer(w, asked);
    expect(buttons(answer)).toEqual([]);
  });

  it('"Ask Gemini about this" answers about a message: its text and files are the subject', async () => {
    const registered = (w.discord.commands.guild.get(w.bot.config.discord.guildId!) ?? []).find((c: { name: string }) => c.name === 'Ask Gemini about this');
    expect(registered.type).toBe(3);
    const png = encodePng(1, 1, Uint8Array.from([9, 9, 9, 255]));
    const target = w.discord.sendUserMessage({ channelId: CHANNEL_ID, content: 'Is this chart right?', author: alice, attachments: [{ filename: 'chart.png', contentType: 'image/png', data: png }] });
    const used = await w.discord.sendMessageCommand({ name: 'Ask Gemini about this', targetMessageId: target.id, user: bob, channelId: CHANNEL_ID });
    const [answer] = await waitForAnswer(w, used);
    expect(used.ephemeral()).toBe(false);
    const parts = streamRequests().at(-1)!.body.contents[0].parts as Array<{ text?: string; inlineData?: { data: string } }>;
    expect(parts[0]!.text).toBe('Alice wrote this message on Discord (its files are attached). Explain it, or answer it if it asks something.\n\n"""\nIs this chart right?\n"""');
    expect(parts[1]!.inlineData!.data).toBe(png.toString('base64'));
    expect(buttons(answer)[0]).toMatch(/^ask:regen:/);
  });
});
