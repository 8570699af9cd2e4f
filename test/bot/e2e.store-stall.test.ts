/**
 * End to end: chat messages while the store of conversations (Redis, say) stalls or fails.
 * Each message gets its answer late or one line saying the memory is out of reach; never
 * silence. Threads the bot did not start stay untouched.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANNEL_ID, alice, bob, carol, expectWorldInvariants, startWorld, str, type World } from './harness.ts';
import { ConversationFaults } from './conversationFaults.ts';

const FOOTER = /\n-# \S+ · /;
const NO_MEMORY = 'cannot reach the memory of this conversation';

describe('chat messages while the conversation store stalls or fails', () => {
  let w: World;
  const faults = new ConversationFaults();
  beforeAll(async () => {
    w = await startWorld({ overrides: { wrapStore: faults.wrap } });
  });
  afterAll(async () => {
    if (!w) return;
    faults.fault = { kind: 'none' };
    expectWorldInvariants(w);
    await w.close();
  });

  const botMessagesIn = (channelId: string) => w.discord.channelMessages(channelId).filter((m) => m.authorId === w.discord.botUser.id);
  const streamRequests = () => w.gemini.requests.filter((r) => r.route === 'streamGenerateContent').length;

  it('a store that fails for a moment (two calls time out): the answer arrives late', async () => {
    const dm = w.discord.nextId();
    faults.fault = { kind: 'reject', times: 2 };
    const before = faults.faulted;
    w.discord.sendUserMessage({ channelId: dm, guildId: null, content: 'are you there?', author: carol });
    const answer = await w.discord.waitFor(() => botMessagesIn(dm).find((m) => FOOTER.test(m.content)), 10_000);
    expect(answer.content).toContain('echo: Carol: are you there?');
    expect(faults.faulted - before).toBe(2);
  });

  it('a store that stays away: one line saying so, and Gemini is not called', async () => {
    const dm = w.discord.nextId();
    const requests = streamRequests();
    faults.fault = { kind: 'reject', times: Number.POSITIVE_INFINITY };
    try {
      w.discord.sendUserMessage({ channelId: dm, guildId: null, content: 'hello?', author: bob });
      const reply = await w.discord.waitFor(() => botMessagesIn(dm)[0], 10_000);
      expect(reply.content).toContain(NO_MEMORY);
      expect(reply.referenceMessageId).toBeDefined();
      await w.discord.waitFor(() => w.bot.gate.inFlight === 0, 5000);
      expect(botMessagesIn(dm)).toHaveLength(1);
      expect(streamRequests()).toBe(requests);
    } finally {
      faults.fault = { kind: 'none' };
    }
  });

  it('a stalled store: one line in a thread the bot started, nothing in a thread it did not', async () => {
    const it1 = await w.discord.sendCommand({ name: 'chat', options: [str('prompt', 'a thread of ours')], user: alice, channelId: CHANNEL_ID });
    await it1.waitForResponse();
    const ours = await w.discord.waitFor(() => [...w.discord.threads.values()].find((t) => t.ownerId === w.discord.botUser.id));
    await w.discord.waitFor(() => botMessagesIn(ours.id).some((m) => FOOTER.test(m.content)), 10_000);
    await w.discord.waitFor(() => w.bot.gate.inFlight === 0, 5000);
    const theirs = w.discord.createThread({ parentId: CHANNEL_ID, name: 'not ours', owner: bob });

    // Stalls forever: each message's calls are given up after their timeout, three tries each.
    faults.fault = { kind: 'stall', times: Number.POSITIVE_INFINITY };
    const before = faults.faulted;
    const inOurs = botMessagesIn(ours.id).length;
    try {
      w.discord.sendUserMessage({ channelId: theirs.id, content: 'just chatting', author: bob });
      w.discord.sendUserMessage({ channelId: ours.id, content: 'still with me?', author: alice });
      const reply = await w.discord.waitFor(() => botMessagesIn(ours.id)[inOurs], 20_000);
      expect(reply.content).toContain(NO_MEMORY);
      // Both messages were handled (three tries each) before the thread we do not own is checked.
      await w.discord.waitFor(() => faults.faulted - before >= 6, 5000);
      expect(botMessagesIn(theirs.id)).toHaveLength(0);
    } finally {
      faults.fault = { kind: 'none' };
    }
  });

  it('/chat while the store fails: the deferred reply says so', async () => {
    faults.fault = { kind: 'reject', times: Number.POSITIVE_INFINITY };
    try {
      const it1 = await w.discord.sendCommand({ name: 'chat', options: [str('prompt', 'hi')], user: bob, channelId: w.discord.nextId(), guildId: null });
      const m = await it1.waitForOriginal((o) => o.content.length > 0, 10_000);
      expect(m.content).toContain(NO_MEMORY);
    } finally {
      faults.fault = { kind: 'none' };
    }
  });
});
