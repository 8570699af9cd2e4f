/**
 * End to end: @mentions and replies to the bot in server channels and threads. The answer
 * is a reply; the conversation Gemini gets is the reply chain, `Name: text` per person.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_ID, CHANNEL_ID, alice, bob, carol, essence, expectWorldInvariants, longAnswer, replyAnswer, robot, startWorld, type World } from './harness.ts';

const FOOTER = /\n-# \S+ · /;
type Turns = Array<{ role: string; parts: Array<{ text?: string }> }>;
const turnsOf = (body: { contents: Turns }): string[] => body.contents.map((c) => `${c.role}: ${c.parts.map((p) => p.text ?? '').join('')}`);

const streamRequests = (w: World) => w.gemini.requests.filter((r) => r.route === 'streamGenerateContent');

describe('mentions and replies', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({ env: { CHAT_HISTORY_TURNS: '6' } });
  });
  afterAll(async () => {
    if (!w) return;
    expectWorldInvariants(w);
    await w.close();
  });

  it('a mention gets a reply; a reply to it continues with the chain as history, Name: text per person', async () => {
    // Bob says hello first (not to the bot), so the fake knows his name.
    w.discord.sendUserMessage({ channelId: CHANNEL_ID, content: 'hello all', author: bob });
    const asked = w.discord.sendUserMessage({ channelId: CHANNEL_ID, content: `<@${APP_ID}> what is a <@${bob.id}>?`, author: alice });
    const [first] = await replyAnswer(w, asked);
    expect(first!.content).toMatch(/^echo: Alice: what is a @Bob\?\n-# gemini-2\.5-flash · /);
    expect(turnsOf(streamRequests(w).at(-1)!.body)).toEqual(['user: Alice: what is a @Bob?']);

    const followUp = w.discord.sendUserMessage({ channelId: CHANNEL_ID, content: 'and why?', author: bob, replyTo: first!.id });
    await replyAnswer(w, followUp);
    expect(turnsOf(streamRequests(w).at(-1)!.body)).toEqual([
      'user: Alice: what is a @Bob?',
      'model: echo: Alice: what is a @Bob?',
      'user: Bob: and why?',
    ]);
  });

  it('a reply to an older answer continues that branch, not the newest', async () => {
    const root = w.discord.sendUserMessage({ channelId: CHANNEL_ID, content: `<@${APP_ID}> start`, author: alice });
    const [a1] = await replyAnswer(w, root);
    const b1 = w.discord.sendUserMessage({ channelId: CHANNEL_ID, content: 'branch one', author: bob, replyTo: a1!.id });
    await replyAnswer(w, b1);
    const b2 = w.discord.sendUserMessage({ channelId: CHANNEL_ID, content: 'branch two', author: carol, replyTo: a1!.id });
    await replyAnswer(w, b2);
    expect(turnsOf(streamRequests(w).at(-1)!.body)).toEqual(['user: Alice: start', 'model: echo: Alice: start', 'user: Carol: branch two']);
  });

  it('keeps at most CHAT_HISTORY_TURNS messages of the chain', async () => {
    let parent = w.discord.sendUserMessage({ channelId: CHANNEL_ID, content: `<@${APP_ID}> turn 0`, author: alice });
    for (let i = 1; i <= 4; i++) {
      const [answer] = await replyAnswer(w, parent);
      parent = w.discord.sendUserMessage({ channelId: CHANNEL_ID, content: `turn ${i}`, author: alice, replyTo: answer!.id });
    }
    await replyAnswer(w, parent);
    const turns = turnsOf(streamRequests(w).at(-1)!.body);
    // The newest six messages start with an answer: a cut chain starts with a person's message.
    expect(turns).toHaveLength(5);
    expect(turns[0]).toBe('user: Alice: turn 2');
    expect(turns.at(-1)).toBe('user: Alice: turn 4');
  });

  it('an answer of several messages is one model turn when replied to from its last message', async () => {
    const answer = longAnswer(3500);
    w.gemini.setReply((ctx) => (ctx.lastUserText.includes('long one') ? answer : `echo: ${ctx.lastUserText}`));
    try {
      const asked = w.discord.sendUserMessage({ channelId: CHANNEL_ID, content: `<@${APP_ID}> a long one`, author: bob });
      const messages = await replyAnswer(w, asked);
      expect(messages.length).toBeGreaterThan(1);
      const next = w.discord.sendUserMessage({ channelId: CHANNEL_ID, content: 'thanks', author: bob, replyTo: messages.at(-1)!.id });
      await replyAnswer(w, next);
      const contents = streamRequests(w).at(-1)!.body.contents as Turns;
      expect(contents.map((c) => c.role)).toEqual(['user', 'model', 'user']);
      expect(essence(contents[1]!.parts.map((p) => p.text).join('\n'))).toBe(essence(answer));
    } finally {
      w.gemini.setReply(undefined);
    }
  });

  it('answers a mention in a thread it did not start, and ignores plain messages, replies to others and bots', async () => {
    const thread = w.discord.createThread({ parentId: CHANNEL_ID, name: 'side talk', owner: bob });
    const before = streamRequests(w).length;
    const plain = w.discord.sendUserMessage({ channelId: CHANNEL_ID, content: 'just talking', author: alice });
    w.discord.sendUserMessage({ channelId: CHANNEL_ID, content: 'replying to Alice', author: bob, replyTo: plain.id });
    w.discord.sendUserMessage({ channelId: CHANNEL_ID, content: `<@${APP_ID}> beep`, author: robot });
    // A message it does answer, sent last: once its answer is there, the others were handled.
    const inThread = w.discord.sendUserMessage({ channelId: thread.id, content: `hey <@${APP_ID}>`, author: bob });
    const [answer] = await replyAnswer(w, inThread);
    expect(answer!.content).toContain('echo: Bob: hey');
    expect(streamRequests(w).length).toBe(before + 1);
    expect(w.discord.channelMessages(CHANNEL_ID).filter((m) => m.referenceMessageId === plain.id)).toHaveLength(0);
  });
});

describe('MENTIONS=off', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({ env: { MENTIONS: 'off' } });
  });
  afterAll(async () => {
    if (!w) return;
    expectWorldInvariants(w);
    await w.close();
  });

  it('ignores mentions; DMs are still answered', async () => {
    const mention = w.discord.sendUserMessage({ channelId: CHANNEL_ID, content: `<@${APP_ID}> hello?`, author: alice });
    // A message it does answer, sent last: once its answer is there, the mention was handled.
    const dm = w.discord.nextId();
    w.discord.sendUserMessage({ channelId: dm, guildId: null, content: 'proof of life', author: alice });
    await w.discord.waitFor(() => w.discord.channelMessages(dm).find((m) => FOOTER.test(m.content)), 5000);
    expect(streamRequests(w)).toHaveLength(1);
    expect(w.discord.channelMessages(CHANNEL_ID).filter((m) => m.referenceMessageId === mention.id)).toHaveLength(0);
  });
});
