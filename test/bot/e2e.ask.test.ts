/**
 * End to end: the real bot (startBot) against the fake Discord and fake Gemini: /ask,
 * streaming, limits, refusals and failures, /art, /status, health and alerts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerTokenBudget } from '../../src/bot/stream.ts';
import { THINKING_TEXT } from '../../src/bot/userText.ts';
import {
  ALERT_CHANNEL_ID,
  CHANNEL_ID,
  alice,
  bob,
  bool,
  essence,
  expectWorldInvariants,
  fenceLines,
  longAnswer,
  slowStreams,
  startWorld,
  str,
  waitForAnswer,
  type World,
} from './harness.ts';

describe('/ask against the fakes', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({
      // Room for the 9,000-character answer below (5 messages by default).
      env: { HEALTH_PORT: '0', ALERT_CHANNEL_ID, ALERT_MIN_INTERVAL_MS: '60000', MAX_PROMPT_CHARS: '500', GEMINI_DEADLINE_MS: '5000', MAX_ANSWER_MESSAGES: '8' },
    });
  });
  afterAll(async () => {
    if (!w) return;
    expectWorldInvariants(w);
    await w.close();
  });

  it('registers the commands to the guild on start', () => {
    const names = (w.discord.commands.guild.get(w.bot.config.discord.guildId!) ?? []).map((c: { name: string }) => c.name);
    expect(names).toEqual(expect.arrayContaining(['ask', 'chat', 'chat-end', 'art', 'status', 'api-key-stats', 'pool-stats', 'reset-pool', 'reset-api-stats']));
    // MAX_PROMPT_CHARS is 500 here: Discord is told the same limit.
    const ask = (w.discord.commands.guild.get(w.bot.config.discord.guildId!) ?? []).find((c: { name: string }) => c.name === 'ask');
    expect(ask.options.find((o: { name: string }) => o.name === 'prompt').max_length).toBe(500);
    // The chat models only: the pool also serves the embedding models, for the gateway.
    expect(ask.options.find((o: { name: string }) => o.name === 'model').choices.map((c: { value: string }) => c.value)).toEqual(['gemini-2.5-flash', 'gemini-2.5-pro']);
  });

  it('answers a short question in the deferred reply, with model and time in the footer', async () => {
    const it1 = await w.discord.sendCommand({ name: 'ask', options: [str('prompt', 'Why is the sky blue?')], user: alice, channelId: CHANNEL_ID });
    const [reply] = await waitForAnswer(w, it1);
    expect(it1.responseType()).toBe(5);
    expect(reply!.content).toMatch(/^echo: Why is the sky blue\?\n-# gemini-2\.5-flash · \d/);
    expect(it1.ephemeral()).toBe(false);
    expect(it1.followUps()).toHaveLength(0);
  });

  it('passes model and temperature, and answers privately when asked', async () => {
    const it1 = await w.discord.sendCommand({
      name: 'ask',
      options: [str('prompt', 'secret plan'), str('model', 'gemini-2.5-pro'), { name: 'temperature', type: 10, value: 1.5 }, bool('private', true)],
      user: alice,
      channelId: CHANNEL_ID,
    });
    const [reply] = await waitForAnswer(w, it1);
    expect(it1.ephemeral()).toBe(true);
    expect(reply!.content).toContain('-# gemini-2.5-pro');
    const req = w.gemini.requests.at(-1)!;
    expect(req.model).toBe('gemini-2.5-pro');
    expect(req.body.generationConfig.temperature).toBe(1.5);
  });

  it('a 9,000-character answer arrives complete, in order, in messages under the limit with balanced code fences', async () => {
    const answer = longAnswer(9000);
    w.gemini.setReply(() => answer);
    try {
      const it1 = await w.discord.sendCommand({ name: 'ask', options: [str('prompt', 'Explain everything')], user: bob, channelId: CHANNEL_ID });
      const messages = await waitForAnswer(w, it1, undefined, 15_000);
      expect(messages.length).toBeGreaterThanOrEqual(5);
      for (const m of messages) {
        expect(m.content.length).toBeLessThanOrEqual(2000);
        expect(fenceLines(m.content) % 2).toBe(0);
      }
      expect(essence(messages.map((m) => m.content).join('\n'))).toBe(essence(answer));
      // The code block is reopened with its language where it continues.
      expect(messages.filter((m) => m.content.startsWith('```python')).length).toBeGreaterThan(0);
      expect(messages.at(-1)!.content).toMatch(/\n-# gemini-2\.5-flash · /);
    } finally {
      w.gemini.setReply(undefined);
    }
  });

  it('a 1 MB answer takes MAX_ANSWER_MESSAGES messages and ends with one line saying it was cut', async () => {
    const huge = 'All work and no play makes a very long answer. '.repeat(22_000);
    w.gemini.setReply(() => huge);
    try {
      const it1 = await w.discord.sendCommand({ name: 'ask', options: [str('prompt', 'Flood the channel')], user: bob, channelId: CHANNEL_ID });
      const messages = await waitForAnswer(w, it1, undefined, 30_000);
      expect(messages).toHaveLength(8);
      for (const m of messages) expect(m.content.length).toBeLessThanOrEqual(2000);
      const lastLines = messages.at(-1)!.content.split('\n');
      expect(lastLines.at(-2)).toBe('✂️ *The answer was cut here: it was longer than 8 messages.*');
      expect(messages.slice(0, 7).some((m) => m.content.includes('cut here'))).toBe(false);
      // Gemini was asked for no more than fits.
      expect(w.gemini.requests.at(-1)!.body.generationConfig.maxOutputTokens).toBe(answerTokenBudget(8));
    } finally {
      w.gemini.setReply(undefined);
    }
  });

  it('refuses a prompt over MAX_PROMPT_CHARS without calling Gemini', async () => {
    const before = w.gemini.requests.length;
    const it1 = await w.discord.sendCommand({ name: 'ask', options: [str('prompt', 'x'.repeat(501))], user: alice, channelId: CHANNEL_ID });
    await it1.waitForResponse();
    expect(it1.ephemeral()).toBe(true);
    expect(it1.original()!.content).toMatch(/too long \(501 characters; the limit is 500\)/);
    expect(w.gemini.requests.length).toBe(before);
  });

  it('one request per user: a second one gets an ephemeral "still working"', async () => {
    w.gemini.setLatency(1200);
    try {
      const first = await w.discord.sendCommand({ name: 'ask', options: [str('prompt', 'slow one')], user: alice, channelId: CHANNEL_ID });
      await first.waitForResponse();
      const second = await w.discord.sendCommand({ name: 'art', options: [str('topic', 'a cat')], user: alice, channelId: CHANNEL_ID });
      await second.waitForResponse();
      expect(second.ephemeral()).toBe(true);
      expect(second.original()!.content).toContain('Still working on your last request');
      const [answer] = await waitForAnswer(w, first);
      expect(answer!.content).toContain('echo: slow one');
    } finally {
      w.gemini.setLatency(0);
    }
  });

  it('/art: a purple embed titled with the topic', async () => {
    const it1 = await w.discord.sendCommand({ name: 'art', options: [str('topic', 'a lighthouse at dawn')], user: bob, channelId: CHANNEL_ID });
    const m = await it1.waitForOriginal((o) => o.embeds.length > 0, 5000);
    expect(m.embeds[0]).toMatchObject({ title: 'a lighthouse at dawn', color: 0x9b59b6 });
    expect(m.embeds[0].description).toContain('a lighthouse at dawn');
  });

  it('/status: counts only, no key hints', async () => {
    const it1 = await w.discord.sendCommand({ name: 'status', user: bob, channelId: CHANNEL_ID });
    const m = await it1.waitForOriginal((o) => o.embeds.length > 0, 5000);
    const text = JSON.stringify(m.embeds);
    expect(text).toContain('gemini-2.5-flash');
    expect(text).not.toContain('embedding');
    expect(text).toMatch(/3 available/);
    expect(text).not.toMatch(/key#|\.\.\.|ey-\d/);
    expect(it1.ephemeral()).toBe(true);
  });

  it('serves /healthz and /metrics', async () => {
    const res = await fetch(`${w.bot.health!.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, gateway: 'connected' });
    const metrics = await (await fetch(`${w.bot.health!.url}/metrics`)).text();
    expect(metrics).toMatch(/bot_requests_total\{command="ask",model="gemini-2.5-flash",outcome="ok"\} \d/);
    expect(metrics).toContain('gemini_keys{state="active"} 3');
  });

  it('a key going bad is disabled, the answer still arrives, and the alert channel hears key#N only', async () => {
    w.gemini.setKey({ key: 'test-key-1', status: 'invalid' });
    w.gemini.setKey({ key: 'test-key-2', status: 'invalid' });
    for (let i = 0; i < 4 && w.discord.channelMessages(ALERT_CHANNEL_ID).length === 0; i++) {
      const it1 = await w.discord.sendCommand({ name: 'ask', options: [str('prompt', `still there ${i}?`)], user: bob, channelId: CHANNEL_ID });
      const [m] = await waitForAnswer(w, it1);
      expect(m!.content).toContain(`echo: still there ${i}?`);
    }
    const alerts = await w.discord.waitFor(() => {
      const ms = w.discord.channelMessages(ALERT_CHANNEL_ID);
      return ms.length > 0 ? ms : undefined;
    });
    // The first event goes out at once; a second key within the interval waits for the summary.
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.content).toMatch(/key#[12] disabled \(auth/);
  });

  it('every key rate-limited: a friendly "try again in ~N s", never a stack or a key', async () => {
    w.gemini.inject({ type: 'rateLimit', per: 'minute', retryDelay: '30s' }, { times: Number.POSITIVE_INFINITY });
    try {
      const it1 = await w.discord.sendCommand({ name: 'ask', options: [str('prompt', 'anyone?')], user: alice, channelId: CHANNEL_ID });
      // Done: no longer loading, and past "thinking" should the failure take a moment.
      const [m] = await waitForAnswer(w, it1, (ms) => !(ms[0]!.flags & 128) && ms[0]!.content !== THINKING_TEXT, 8000);
      expect(m!.content).toMatch(/rate-limited.*try again in ~\d+ s/);
      expect(m!.content).not.toMatch(/Error|at .*\.ts|test-key/);
    } finally {
      w.gemini.clearFaults();
    }
  });

  it('an unexpected exception still gets a friendly reply (never "did not respond")', async () => {
    // Thread creation fails on Discord's side: /chat throws after deferring.
    w.discord.injectFault({ method: 'POST', path: `/channels/${CHANNEL_ID}/threads`, status: 403, body: { message: 'Missing Permissions', code: 50013 }, times: 5 });
    const it1 = await w.discord.sendCommand({ name: 'chat', options: [str('prompt', 'hello')], user: bob, channelId: CHANNEL_ID });
    const m = await it1.waitForOriginal((o) => o.content.length > 0, 5000);
    expect(m.content).toContain('Something went wrong on our side');
  });
});

describe('streaming respects the edit rate', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({
      env: { EDIT_INTERVAL_MS: '1000' },
      gemini: { streamChunkChars: 12 },
      overrides: { clientFactory: slowStreams(70) },
    });
  });
  afterAll(async () => {
    if (!w) return;
    expectWorldInvariants(w);
    await w.close();
  });

  it('edits one message about once a second, never drawing a 429', async () => {
    const answer = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');
    w.gemini.setReply(() => answer);
    const it1 = await w.discord.sendCommand({ name: 'ask', options: [str('prompt', 'stream please')], user: alice, channelId: CHANNEL_ID });
    const [m] = await waitForAnswer(w, it1, undefined, 15_000);
    expect(m!.content.startsWith(answer)).toBe(true);
    // ~30 chunks 70 ms apart: about 2 s of streaming, so several edits, each >= ~1 s apart.
    expect(m!.editedAt.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < m!.editedAt.length; i++) expect(m!.editedAt[i]! - m!.editedAt[i - 1]!).toBeGreaterThanOrEqual(900);
    expect(w.discord.rateLimitedCalls()).toEqual([]);
  });
});
