/**
 * End to end: chat threads and DMs, and the admin commands (refused for members, answered
 * for admins and for ADMIN_USER_IDS in a DM), with 50 keys so the stats need several embeds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeMessage } from '../../fakes/fakeDiscord.ts';
import {
  CHANNEL_ID,
  MANAGE_GUILD,
  alice,
  bob,
  bool,
  carol,
  expectWorldInvariants,
  int,
  robot,
  startWorld,
  str,
  waitForAnswer,
  type World,
} from './harness.ts';

const FOOTER = /\n-# \S+ · /;

describe('/chat', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({ env: { CHAT_HISTORY_TURNS: '20' } });
  });
  afterAll(async () => {
    if (!w) return;
    expectWorldInvariants(w);
    await w.close();
  });

  /** Bot messages in a channel that end an answer (carry the footer). */
  const answersIn = (channelId: string): FakeMessage[] => w.discord.channelMessages(channelId).filter((m) => FOOTER.test(m.content));
  const streamRequests = () => w.gemini.requests.filter((r) => r.route === 'streamGenerateContent');

  it('opens a thread named after the prompt, and three turns from two people share one history', async () => {
    const prompt = `Let us plan a picnic ${'with many details '.repeat(10)}`;
    const it1 = await w.discord.sendCommand({ name: 'chat', options: [str('prompt', prompt)], user: alice, channelId: CHANNEL_ID });
    const thread = await w.discord.waitFor(() => [...w.discord.threads.values()][0]);
    expect([...thread.name].length).toBeLessThanOrEqual(100);
    expect(thread.name.startsWith('Let us plan a picnic with many details')).toBe(true);
    expect(thread.parentId).toBe(CHANNEL_ID);
    const reply = await it1.waitForOriginal((m) => m.content.includes(thread.id), 5000);
    expect(reply.content).toContain(`<#${thread.id}>`);
    await w.discord.waitFor(() => answersIn(thread.id).length === 1, 5000);
    const intro = w.discord.channelMessages(thread.id)[0]!;
    expect(intro.content).toContain('**Alice** started a conversation');
    expect(JSON.stringify(intro.components)).toContain('"custom_id":"chat-end"');

    await w.discord.waitFor(() => w.bot.gate.inFlight === 0, 2000);
    w.discord.sendUserMessage({ channelId: thread.id, content: 'I will bring bread', author: bob });
    await w.discord.waitFor(() => answersIn(thread.id).length === 2, 5000);
    await w.discord.waitFor(() => w.bot.gate.inFlight === 0, 2000);
    w.discord.sendUserMessage({ channelId: thread.id, content: 'And I bring cheese', author: alice });
    await w.discord.waitFor(() => answersIn(thread.id).length === 3, 5000);

    const third = streamRequests().at(-1)!.body.contents as Array<{ role: string; parts: Array<{ text: string }> }>;
    expect(third.map((c) => `${c.role}: ${c.parts.map((p) => p.text).join('')}`)).toEqual([
      `user: Alice: ${prompt}`,
      `model: echo: Alice: ${prompt}`,
      'user: Bob: I will bring bread',
      'model: echo: Bob: I will bring bread',
      'user: Alice: And I bring cheese',
    ]);
    // Answers in the thread reply to the message they answer.
    expect(answersIn(thread.id)[2]!.content).toContain('echo: Alice: And I bring cheese');
  });

  it('ignores its own messages, other bots, and threads it did not start', async () => {
    const thread = [...w.discord.threads.values()][0]!;
    const before = streamRequests().length;
    const answered = answersIn(thread.id).length;
    w.discord.sendUserMessage({ channelId: thread.id, content: 'beep boop', author: robot });
    const other = w.discord.createThread({ parentId: CHANNEL_ID, name: 'not ours', owner: bob });
    w.discord.sendUserMessage({ channelId: other.id, content: 'hello?', author: bob });
    // A message it does answer, sent last: once its answer is there, the others were handled.
    await w.discord.waitFor(() => w.bot.gate.inFlight === 0, 2000);
    w.discord.sendUserMessage({ channelId: thread.id, content: 'one for you', author: alice });
    await w.discord.waitFor(() => answersIn(thread.id).length === answered + 1, 5000);
    expect(answersIn(thread.id).at(-1)!.content).toContain('echo: Alice: one for you');
    expect(streamRequests().length).toBe(before + 1);
    expect(streamRequests().at(-1)!.body.contents.at(-1).parts[0].text).toBe('Alice: one for you');
    expect(w.discord.channelMessages(other.id)).toHaveLength(0);
  });

  it('the End button ends it: later messages get no answer', async () => {
    const thread = [...w.discord.threads.values()][0]!;
    const intro = w.discord.channelMessages(thread.id)[0]!;
    const press = await w.discord.sendButton({ customId: 'chat-end', messageId: intro.id, channelId: thread.id, user: bob, memberPermissions: '0' });
    await press.waitForResponse();
    // Bob did not start it and is no moderator.
    expect(press.ephemeral()).toBe(true);
    expect(press.original()!.content).toContain('Only the person who started');
    const byOwner = await w.discord.sendButton({ customId: 'chat-end', messageId: intro.id, channelId: thread.id, user: alice });
    await byOwner.waitForResponse();
    expect(byOwner.original()!.content).toContain('Conversation ended by **Alice**');
    await w.discord.waitFor(() => w.discord.threads.get(thread.id)!.archived, 2000);
    const before = streamRequests().length;
    const inThread = w.discord.channelMessages(thread.id).length;
    w.discord.sendUserMessage({ channelId: thread.id, content: 'one more thing', author: alice });
    // A message it does answer, sent last: once its answer is there, the first was handled.
    const dm = w.discord.nextId();
    w.discord.sendUserMessage({ channelId: dm, guildId: null, content: 'proof of life', author: alice });
    await w.discord.waitFor(() => w.discord.channelMessages(dm).find((m) => FOOTER.test(m.content)), 5000);
    expect(streamRequests().length).toBe(before + 1);
    expect(streamRequests().at(-1)!.body.contents.at(-1).parts[0].text).toBe('Alice: proof of life');
    expect(w.discord.channelMessages(thread.id)).toHaveLength(inThread);
    await w.discord.waitFor(() => w.bot.gate.inFlight === 0, 2000);
  });

  it('in a DM the DM is the conversation; /chat-end forgets it', async () => {
    const dm = w.discord.nextId();
    const it1 = await w.discord.sendCommand({ name: 'chat', options: [str('prompt', 'hi in private')], user: bob, channelId: dm, guildId: null });
    const [first] = await waitForAnswer(w, it1);
    expect(first!.content).toContain('echo: Bob: hi in private');
    w.discord.sendUserMessage({ channelId: dm, guildId: null, content: 'second dm message', author: bob });
    await w.discord.waitFor(() => w.discord.channelMessages(dm).filter((m) => FOOTER.test(m.content)).length === 2, 5000);
    const contents = streamRequests().at(-1)!.body.contents as Array<{ role: string }>;
    expect(contents).toHaveLength(3);
    await w.discord.waitFor(() => w.bot.gate.inFlight === 0, 2000);
    const end = await w.discord.sendCommand({ name: 'chat-end', user: bob, channelId: dm, guildId: null });
    await end.waitForResponse();
    expect(end.original()!.content).toContain('Conversation ended');
    expect(await w.bot.store.getConversation(dm)).toBeUndefined();
  });

  it('a plain DM starts a conversation by itself', async () => {
    const dm = w.discord.nextId();
    w.discord.sendUserMessage({ channelId: dm, guildId: null, content: 'hello bot', author: carol });
    const answer = await w.discord.waitFor(() => w.discord.channelMessages(dm).find((m) => FOOTER.test(m.content)), 5000);
    expect(answer.content).toContain('echo: Carol: hello bot');
    await w.discord.waitFor(() => w.bot.gate.inFlight === 0, 2000);
    expect((await w.bot.store.getConversation(dm))!.history).toHaveLength(2);
  });
});

describe('admin commands with 50 keys', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({ keys: 50 });
  });
  afterAll(async () => {
    if (!w) return;
    expectWorldInvariants(w);
    await w.close();
  });

  it('are refused for a plain member, ephemerally', async () => {
    for (const name of ['api-key-stats', 'pool-stats', 'reset-pool', 'reset-api-stats']) {
      const it1 = await w.discord.sendCommand({ name, user: bob, channelId: CHANNEL_ID, memberPermissions: '0' });
      await it1.waitForResponse();
      expect(it1.ephemeral()).toBe(true);
      expect(it1.original()!.content).toContain('for server admins');
    }
  });

  it('/api-key-stats for a Manage Server member: every key as key#N, pages within Discord limits', async () => {
    const ask = await w.discord.sendCommand({ name: 'ask', options: [str('prompt', 'warm up')], user: alice, channelId: CHANNEL_ID });
    await waitForAnswer(w, ask);
    const it1 = await w.discord.sendCommand({ name: 'api-key-stats', user: alice, channelId: CHANNEL_ID, memberPermissions: MANAGE_GUILD });
    await w.discord.waitFor(() => {
      const ids = [it1.original(), ...it1.followUps()].flatMap((m) => (m ? m.embeds : [])).map((e) => e.description).join('\n');
      return ids.includes('**key#50**');
    }, 5000);
    const messages = [it1.original()!, ...it1.followUps()];
    expect(messages.every((m) => (m.flags & 64) !== 0)).toBe(true);
    const text = messages.flatMap((m) => m.embeds).map((e) => e.description).join('\n');
    for (let i = 1; i <= 50; i++) expect(text).toContain(`**key#${i}**`);
    expect(text).toMatch(/· \d+ calls? · \d+ errors? \(\d+%\) · avg .* · today \d+ calls?/);
    for (const e of messages.flatMap((m) => m.embeds)) expect(e.description.length).toBeLessThanOrEqual(4096);
    // The fake answers 400 to anything over Discord's limits: none happened.
    expect(w.discord.calls.filter((c) => c.status === 400)).toEqual([]);
  });

  it('/pool-stats, /reset-pool and /reset-api-stats answer an admin', async () => {
    const stats = await w.discord.sendCommand({ name: 'pool-stats', options: [str('model', 'gemini-2.5-pro')], user: alice, channelId: CHANNEL_ID, memberPermissions: MANAGE_GUILD });
    const m = await stats.waitForOriginal((o) => o.embeds.length > 0, 5000);
    expect(m.embeds[0].description).toContain('**gemini-2.5-pro** · 5 instances');
    const reset = await w.discord.sendCommand({ name: 'reset-pool', user: alice, channelId: CHANNEL_ID, memberPermissions: MANAGE_GUILD });
    expect((await reset.waitForOriginal(() => true, 5000)).content).toContain('Pool rebuilt');
    const clear = await w.discord.sendCommand({ name: 'reset-api-stats', user: alice, channelId: CHANNEL_ID, memberPermissions: MANAGE_GUILD });
    expect((await clear.waitForOriginal(() => true, 5000)).content).toContain('counters cleared');
    expect(w.bot.pool.getKeyStats().totals.usage).toBe(0);
  });

  it('/reset-pool clear-cooldowns ends a cooldown Google set; key:N outside the keys is refused', async () => {
    w.gemini.inject({ type: 'rateLimit', per: 'minute', retryDelay: '600s' }, { times: 1 });
    expect((await w.bot.pool.generateContent({ prompt: 'cool one key' })).ok).toBe(true);
    const cooling = w.bot.pool.getKeyStats().keys.filter((k) => k.state === 'cooling');
    expect(cooling).toHaveLength(1);
    const keyNumber = Number(cooling[0]!.id.slice('key#'.length));

    const wrong = await w.discord.sendCommand({
      name: 'reset-pool',
      options: [bool('clear-cooldowns', true), int('key', 51)],
      user: alice,
      channelId: CHANNEL_ID,
      memberPermissions: MANAGE_GUILD,
    });
    expect((await wrong.waitForOriginal(() => true, 5000)).content).toContain('There is no key#51: this bot has 50 keys');
    expect(w.bot.pool.getKeyStats().totals.cooling).toBe(1);

    const plain = await w.discord.sendCommand({ name: 'reset-pool', user: alice, channelId: CHANNEL_ID, memberPermissions: MANAGE_GUILD });
    expect((await plain.waitForOriginal(() => true, 5000)).content).toContain('Cooldowns and disabled keys stay');
    expect(w.bot.pool.getKeyStats().totals.cooling).toBe(1);

    const clear = await w.discord.sendCommand({
      name: 'reset-pool',
      options: [bool('clear-cooldowns', true), int('key', keyNumber)],
      user: alice,
      channelId: CHANNEL_ID,
      memberPermissions: MANAGE_GUILD,
    });
    expect((await clear.waitForOriginal(() => true, 5000)).content).toContain(`Cooldowns ended for key#${keyNumber}.`);
    expect(w.bot.pool.getKeyStats().totals.cooling).toBe(0);
  });

  it('ADMIN_USER_IDS works in a DM; others are refused there', async () => {
    const dm = w.discord.nextId();
    const it1 = await w.discord.sendCommand({ name: 'api-key-stats', user: carol, channelId: dm, guildId: null });
    const m = await it1.waitForOriginal((o) => o.embeds.length > 0, 5000);
    expect(m.embeds[0].title).toBe('API key statistics');
    const other = await w.discord.sendCommand({ name: 'reset-api-stats', user: alice, channelId: w.discord.nextId(), guildId: null });
    await other.waitForResponse();
    expect(other.original()!.content).toContain('for server admins');
  });
});
