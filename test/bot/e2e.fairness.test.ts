/**
 * End to end on the fake Discord: while requests wait for quota the deferred reply says so
 * and a server's backlog does not hold back a request from elsewhere (fair shares); users
 * and servers over their limits are told in one private line when they can ask again,
 * without any call to Gemini; admins are exempt; `/usage` shows today's top users and
 * servers. Mentions, Regenerate and "Ask Gemini about this" count and are held like `/ask`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeMessage, FakeUser } from '../../fakes/fakeDiscord.ts';
import { sdkClientFactory, type ClientFactory } from '../../src/gemini/adapter.ts';
import { pacificDay } from '../../src/pool/time.ts';
import { APP_ID, CHANNEL_ID, GUILD_ID, alice, bob, carol, expectWorldInvariants, replyAnswer, startWorld, str, waitForAnswer, type World } from './harness.ts';

const dave: FakeUser = { id: '1100000000000000020', username: 'dave', globalName: 'Dave' };
const erin: FakeUser = { id: '1100000000000000021', username: 'erin', globalName: 'Erin' };
const frank: FakeUser = { id: '1100000000000000022', username: 'frank', globalName: 'Frank' };

const WAITING = /^⏳ Waiting for a free slot, about \d+ s…$/;

/**
 * The real Gemini client, noting each streamed request's prompt when the pool starts it:
 * the order the pool lets requests go (their HTTP requests may reach the fake in another).
 */
function recordingStreams(started: string[]): ClientFactory {
  return (apiKey, options) => {
    const real = sdkClientFactory(apiKey, options);
    return {
      generate: (req, signal) => real.generate(req, signal),
      check: (signal) => real.check(signal),
      native: (method, model, body, signal) => real.native(method, model, body, signal),
      nativeStream: (model, body, signal) => real.nativeStream(model, body, signal),
      stream(req, signal) {
        const first = req.contents?.at(-1)?.parts?.[0];
        started.push(first && 'text' in first ? first.text : '');
        return real.stream(req, signal);
      },
    };
  };
}

describe('waiting for quota on the fake Discord', () => {
  let w: World;
  const started: string[] = [];
  beforeAll(async () => {
    // One key: a 429 with a 3 s retry delay makes every request wait for it.
    w = await startWorld({ keys: 1, env: { MAX_CONCURRENT_REQUESTS: '8' }, overrides: { clientFactory: recordingStreams(started) } });
  });
  afterAll(async () => {
    if (!w) return;
    expectWorldInvariants(w);
    await w.close();
  });

  it('the deferred reply says "waiting for a free slot, about N s" while the request waits, then the answer replaces it', async () => {
    w.gemini.inject({ type: 'rateLimit', per: 'minute', retryDelay: '3s' });
    const it1 = await w.discord.sendCommand({ name: 'ask', options: [str('prompt', 'patience')], user: alice, channelId: CHANNEL_ID });
    const notice = await it1.waitForOriginal((m) => m.content.length > 0, 5_000);
    expect(notice.content).toMatch(WAITING);
    expect(Number(/about (\d+) s/.exec(notice.content)![1])).toBeLessThanOrEqual(3);
    const [answer] = await waitForAnswer(w, it1, undefined, 10_000);
    expect(answer!.content).toMatch(/^echo: patience\n-# gemini-2\.5-flash/);
  });

  it('/art says so too, and its embed replaces the notice', async () => {
    w.gemini.inject({ type: 'rateLimit', per: 'minute', retryDelay: '2s' });
    const it1 = await w.discord.sendCommand({ name: 'art', options: [str('topic', 'a queue')], user: bob, channelId: CHANNEL_ID });
    expect((await it1.waitForOriginal((m) => m.content.length > 0, 5_000)).content).toMatch(WAITING);
    const done = await it1.waitForOriginal((m) => m.embeds.length > 0, 10_000);
    expect(done.content).toBe('');
    await w.discord.waitFor(() => w.bot.gate.inFlight === 0, 2_000);
  });

  it("a server's backlog does not hold back a request from elsewhere: a DM whose user used nothing goes first", async () => {
    w.gemini.inject({ type: 'rateLimit', per: 'minute', retryDelay: '3s' });
    const before = started.length;
    const server = [alice, bob, dave, erin];
    const asks = [];
    for (const [i, user] of server.entries()) {
      asks.push(await w.discord.sendCommand({ name: 'ask', options: [str('prompt', `server ${i + 1}`)], user, channelId: CHANNEL_ID }));
      // Each waits before the next arrives (the first one after its 429).
      await w.discord.waitFor(() => w.bot.pool.getPoolStats().waiting === i + 1, 5_000);
    }
    const dm = await w.discord.sendCommand({ name: 'ask', options: [str('prompt', 'from a DM')], user: frank, channelId: w.discord.nextId(), guildId: null });
    await w.discord.waitFor(() => w.bot.pool.getPoolStats().waiting === 5, 5_000);
    for (const it1 of [...asks, dm]) await waitForAnswer(w, it1, undefined, 15_000);
    // The server's first try met the 429; then the DM goes first: the server has used
    // slots all along (the tests above, and this first try), the DM's user none.
    expect(started.slice(before)).toEqual(['server 1', 'from a DM', 'server 1', 'server 2', 'server 3', 'server 4']);
  });
});

describe('limits per user and per server on the fake Discord', () => {
  describe('USER_RPM', () => {
    let w: World;
    beforeAll(async () => {
      w = await startWorld({ env: { USER_RPM: '2' } });
    });
    afterAll(async () => {
      if (!w) return;
      expectWorldInvariants(w);
      await w.close();
    });

    it('a user over it is told in one private line when to ask again, and Gemini is not called', async () => {
      for (const prompt of ['one', 'two']) await waitForAnswer(w, await w.discord.sendCommand({ name: 'ask', options: [str('prompt', prompt)], user: alice, channelId: CHANNEL_ID }));
      const calls = w.gemini.requests.length;
      const third = await w.discord.sendCommand({ name: 'ask', options: [str('prompt', 'three')], user: alice, channelId: CHANNEL_ID });
      await third.waitForResponse();
      expect(third.ephemeral()).toBe(true);
      expect(third.original()!.content).toMatch(/^⏳ You are asking too fast \(at most 2 a minute\)\. You can ask again in about \d+ s\.$/);
      expect(w.gemini.requests.length).toBe(calls);
      // Another user is not held back by alice's limit.
      await waitForAnswer(w, await w.discord.sendCommand({ name: 'ask', options: [str('prompt', 'mine')], user: bob, channelId: CHANNEL_ID }));
    });

    it('admins are exempt (LIMITS_EXEMPT_ADMINS defaults to true)', async () => {
      for (const prompt of ['a', 'b', 'c']) {
        const [m] = await waitForAnswer(w, await w.discord.sendCommand({ name: 'ask', options: [str('prompt', prompt)], user: carol, channelId: CHANNEL_ID }));
        expect(m!.content).toContain(`echo: ${prompt}`);
      }
    });
  });

  describe('USER_DAILY_REQUESTS and GUILD_DAILY_REQUESTS, and /usage', () => {
    let w: World;
    beforeAll(async () => {
      w = await startWorld({ env: { USER_DAILY_REQUESTS: '2', GUILD_DAILY_REQUESTS: '3', LIMITS_EXEMPT_ADMINS: 'false' } });
    });
    afterAll(async () => {
      if (!w) return;
      expectWorldInvariants(w);
      await w.close();
    });

    it("a user's day and a server's day: each refusal names whose limit and says when the day starts over", async () => {
      for (const prompt of ['1', '2']) await waitForAnswer(w, await w.discord.sendCommand({ name: 'ask', options: [str('prompt', prompt)], user: alice, channelId: CHANNEL_ID }));
      const calls = w.gemini.requests.length;
      const over = await w.discord.sendCommand({ name: 'ask', options: [str('prompt', '3')], user: alice, channelId: CHANNEL_ID });
      await over.waitForResponse();
      expect(over.ephemeral()).toBe(true);
      expect(over.original()!.content).toMatch(/^📅 You have used your 2 requests for today \(the day starts at midnight Pacific time\)\. You can ask again in about \d+ (h|min)\.$/);
      await waitForAnswer(w, await w.discord.sendCommand({ name: 'ask', options: [str('prompt', 'bob 1')], user: bob, channelId: CHANNEL_ID }));
      const server = await w.discord.sendCommand({ name: 'ask', options: [str('prompt', 'bob 2')], user: bob, channelId: CHANNEL_ID });
      await server.waitForResponse();
      expect(server.original()!.content).toMatch(/^📅 This server has used its 3 requests for today/);
      expect(w.gemini.requests.length).toBe(calls + 1);
      // In a DM only the user's own day counts; a chat message over it gets the same line.
      const dm = w.discord.nextId();
      w.discord.sendUserMessage({ channelId: dm, guildId: null, content: 'hello?', author: alice });
      const reply = await w.discord.waitFor(() => w.discord.channelMessages(dm).find((m) => m.content.startsWith('📅')), 5_000);
      expect(reply.content).toMatch(/^📅 You have used your 2 requests for today/);
      expect(w.gemini.requests.length).toBe(calls + 1);
    });

    it('usage reaches the store under the user and the server, and /usage shows the top of today to an admin', async () => {
      const it1 = await w.discord.sendCommand({ name: 'usage', user: carol, channelId: CHANNEL_ID });
      await it1.waitForResponse();
      expect(it1.ephemeral()).toBe(true);
      const text = it1.original()!.embeds.map((e: { title: string; description: string }) => `${e.title}\n${e.description}`).join('\n');
      expect(text).toContain(`Usage today (${pacificDay(Date.now())}`);
      expect(text).toMatch(new RegExp(`1\\. <@${alice.id}>: \\*\\*2\\*\\* requests · \\d+ tokens\\n2\\. <@${bob.id}>: \\*\\*1\\*\\* request · `));
      expect(text).toMatch(new RegExp(`1\\. Test Server \\(${GUILD_ID}\\): \\*\\*3\\*\\* requests`));
      expect(text).toContain('Limits: 2 a day per user, 3 a day per server.');
      const day = pacificDay(Date.now());
      expect((await w.bot.store.clientUsage(`discord:user:${alice.id}`, day)).day.requests).toBe(2);
      expect((await w.bot.store.clientUsage(`discord:guild:${GUILD_ID}`, day)).day.requests).toBe(3);
      const member = await w.discord.sendCommand({ name: 'usage', user: bob, channelId: CHANNEL_ID, memberPermissions: '0' });
      await member.waitForResponse();
      expect(member.original()!.content).toContain('for server admins');
    });
  });

  describe('mentions, Regenerate and "Ask Gemini about this" count in the same limits', () => {
    let w: World;
    beforeAll(async () => {
      w = await startWorld({ env: { USER_DAILY_REQUESTS: '3', LIMITS_EXEMPT_ADMINS: 'false' } });
    });
    afterAll(async () => {
      if (!w) return;
      expectWorldInvariants(w);
      await w.close();
    });

    const regenId = (m: FakeMessage | undefined): string =>
      (m?.components ?? []).flatMap((row: { components: Array<{ custom_id: string }> }) => row.components.map((c) => c.custom_id)).find((id: string) => id.startsWith('ask:regen:'))!;

    it('each is one request of the user and the server; over the limit each is refused without a call to Gemini', async () => {
      const mention = w.discord.sendUserMessage({ channelId: CHANNEL_ID, content: `<@${APP_ID}> one`, author: alice });
      const [answer] = await replyAnswer(w, mention);
      const firstContent = answer!.content;
      const press = await w.discord.sendButton({ customId: regenId(answer), messageId: answer!.id, channelId: CHANNEL_ID, user: alice });
      await press.waitForResponse();
      await w.discord.waitFor(() => {
        const m = w.discord.messages.get(answer!.id)!;
        return m.content !== firstContent && /\n-# \S+ · /.test(m.content) && w.bot.gate.inFlight === 0;
      }, 8_000);
      const target = w.discord.sendUserMessage({ channelId: CHANNEL_ID, content: 'what is this?', author: bob });
      await waitForAnswer(w, await w.discord.sendMessageCommand({ name: 'Ask Gemini about this', targetMessageId: target.id, user: alice, channelId: CHANNEL_ID }));
      // /usage writes what was counted to the store first.
      await (await w.discord.sendCommand({ name: 'usage', user: carol, channelId: CHANNEL_ID })).waitForResponse();
      const day = pacificDay(Date.now());
      expect((await w.bot.store.clientUsage(`discord:user:${alice.id}`, day)).day.requests).toBe(3);
      expect((await w.bot.store.clientUsage(`discord:guild:${GUILD_ID}`, day)).day.requests).toBe(3);

      const calls = w.gemini.requests.length;
      const over = w.discord.sendUserMessage({ channelId: CHANNEL_ID, content: `<@${APP_ID}> four`, author: alice });
      const [refused] = await replyAnswer(w, over, { done: (m) => m.content.startsWith('📅') });
      expect(refused!.content).toMatch(/^📅 You have used your 3 requests for today/);
      const again = await w.discord.sendButton({ customId: regenId(w.discord.messages.get(answer!.id)), messageId: answer!.id, channelId: CHANNEL_ID, user: alice });
      await again.waitForResponse();
      expect(again.ephemeral()).toBe(true);
      expect(again.original()!.content).toMatch(/^📅 You have used your 3 requests for today/);
      const menu = await w.discord.sendMessageCommand({ name: 'Ask Gemini about this', targetMessageId: target.id, user: alice, channelId: CHANNEL_ID });
      await menu.waitForResponse();
      expect(menu.original()!.content).toMatch(/^📅 You have used your 3 requests for today/);
      expect(w.gemini.requests.length).toBe(calls);
    });
  });
});
