/**
 * The end-to-end world: fake Gemini + fake Discord on 127.0.0.1 and the REAL bot
 * (`startBot`, as `npm start` runs it) pointed at them through its environment.
 */
import pino from 'pino';
import { expect } from 'vitest';
import { startBot, type RunningBot, type StartBotOverrides } from '../../src/bot/app.ts';
import { sdkClientFactory, type ClientFactory } from '../../src/gemini/adapter.ts';
import { FakeDiscord, type FakeDiscordOptions, type FakeInteraction, type FakeMessage, type FakeUser } from '../../fakes/fakeDiscord.ts';
import { FakeGemini, type FakeGeminiOptions } from '../../fakes/fakeGemini.ts';

export const APP_ID = '1100000000000000001';
export const GUILD_ID = '1100000000000000002';
export const CHANNEL_ID = '1100000000000000003';
export const ALERT_CHANNEL_ID = '1100000000000000004';
export const OWNER_ID = '1100000000000000005';

export const alice: FakeUser = { id: '1100000000000000010', username: 'alice', globalName: 'Alice' };
export const bob: FakeUser = { id: '1100000000000000011', username: 'bob', globalName: 'Bob' };
/** On ADMIN_USER_IDS, without Manage Server. */
export const carol: FakeUser = { id: '1100000000000000012', username: 'carol', globalName: 'Carol' };
export const robot: FakeUser = { id: '1100000000000000013', username: 'otherbot', bot: true };

export const MANAGE_GUILD = '32';

/** `test-key-1` ... `test-key-N`. */
export const testKeys = (n: number): string[] => Array.from({ length: n }, (_, i) => `test-key-${i + 1}`);

export interface World {
  gemini: FakeGemini;
  discord: FakeDiscord;
  bot: RunningBot;
  env: Record<string, string>;
  keys: string[];
  close(): Promise<void>;
}

/** The environment the bot gets: everything pointed at the fakes. */
export function worldEnv(discord: FakeDiscord, gemini: FakeGemini, keys: string[], extra: Record<string, string> = {}): Record<string, string> {
  return {
    // Never the developer's .env: the bot reads only what the test gives it.
    ENV_FILE: '',
    DISCORD_TOKEN: 'fake-bot-token',
    DISCORD_APPLICATION_ID: APP_ID,
    DISCORD_GUILD_ID: GUILD_ID,
    DISCORD_API_URL: discord.apiUrl,
    GEMINI_BASE_URL: gemini.url,
    GEMINI_API_KEYS: keys.join(','),
    GEMINI_MODELS: 'gemini-2.5-flash,gemini-2.5-pro',
    ADMIN_USER_IDS: carol.id,
    STORE: 'memory',
    EDIT_INTERVAL_MS: '250',
    SHUTDOWN_GRACE_MS: '5000',
    LOG_LEVEL: 'silent',
    ...extra,
  };
}

export async function startWorld(
  options: {
    keys?: number;
    env?: Record<string, string>;
    gemini?: FakeGeminiOptions;
    discord?: FakeDiscordOptions;
    overrides?: StartBotOverrides;
  } = {},
): Promise<World> {
  const keys = testKeys(options.keys ?? 3);
  const gemini = await FakeGemini.start(options.gemini ?? {});
  const discord = await FakeDiscord.start({
    applicationId: APP_ID,
    botUser: { id: APP_ID, username: 'GeminiBot' },
    guilds: [
      {
        id: GUILD_ID,
        name: 'Test Server',
        ownerId: OWNER_ID,
        channels: [
          { id: CHANNEL_ID, name: 'general' },
          { id: ALERT_CHANNEL_ID, name: 'bot-alerts' },
        ],
      },
    ],
    ...options.discord,
  });
  const env = worldEnv(discord, gemini, keys, options.env);
  const bot = await startBot(env, { logger: pino({ level: 'silent' }), healthHost: '127.0.0.1', ...options.overrides });
  return {
    gemini,
    discord,
    bot,
    env,
    keys,
    close: async () => {
      await bot.stop();
      await discord.close();
      await gemini.close();
    },
  };
}

/** A string option. */
export const str = (name: string, value: string) => ({ name, type: 3, value });
export const num = (name: string, value: number) => ({ name, type: 10, value });
export const bool = (name: string, value: boolean) => ({ name, type: 5, value });
export const int = (name: string, value: number) => ({ name, type: 4, value });

/** The messages of an interaction's answer: the reply, then its follow-ups. */
export function answerMessages(it: FakeInteraction): FakeMessage[] {
  const first = it.original();
  return [...(first ? [first] : []), ...it.followUps()];
}

/**
 * Waits until an answer is complete (its last message carries the footer, or `done` says
 * so) and the bot has let go of the request (so the user's next command is not "busy").
 */
export async function waitForAnswer(
  w: World,
  it: FakeInteraction,
  done: (messages: FakeMessage[]) => boolean = (ms) => /\n-# \S+ · /.test(ms[ms.length - 1]?.content ?? ''),
  timeoutMs = 10_000,
): Promise<FakeMessage[]> {
  const messages = await w.discord.waitFor(() => {
    const ms = answerMessages(it);
    return ms.length > 0 && done(ms) ? ms : undefined;
  }, timeoutMs);
  await w.discord.waitFor(() => w.bot.gate.inFlight === 0, 2000);
  return messages;
}

/**
 * The bot's answer to a user's message: the bot messages replying to it, then to each other,
 * once the last carries the footer (or `done` says so) and the bot has let go of the request.
 */
export async function replyAnswer(
  w: World,
  userMessage: FakeMessage,
  options: { channelId?: string; timeoutMs?: number; done?: (last: FakeMessage) => boolean } = {},
): Promise<FakeMessage[]> {
  const channelId = options.channelId ?? userMessage.channelId;
  const done = options.done ?? ((m: FakeMessage) => /\n-# \S+ · /.test(m.content));
  const chain = (): FakeMessage[] => {
    const out: FakeMessage[] = [];
    for (let parent = userMessage.id; ; ) {
      const next = w.discord.channelMessages(channelId).find((m) => m.referenceMessageId === parent);
      if (!next) return out;
      out.push(next);
      parent = next.id;
    }
  };
  const messages = await w.discord.waitFor(() => {
    const ms = chain();
    return ms.length > 0 && done(ms[ms.length - 1]!) ? ms : undefined;
  }, options.timeoutMs ?? 8000);
  await w.discord.waitFor(() => w.bot.gate.inFlight === 0, 2000);
  return messages;
}

/** Fence lines in a message: even means every code block is closed. */
export const fenceLines = (s: string): number => s.split('\n').filter((l) => /^ {0,3}```/.test(l)).length;

/** The answer text without footer, added fence lines and whitespace, for comparing with what Gemini sent. */
export const essence = (s: string): string =>
  s
    .split('\n')
    .filter((l) => !/^ {0,3}```/.test(l) && !/^-# /.test(l))
    .join('\n')
    .replace(/\s+/g, '');

/**
 * The invariants every test world must keep: no REST payload ever contains a key, and
 * every bot message was sent with `allowed_mentions: { parse: [] }`.
 */
export function expectWorldInvariants(world: World): void {
  const payloads = JSON.stringify(world.discord.calls.map((c) => ({ path: c.path, query: c.query, body: c.body })));
  for (const key of world.keys) expect(payloads.includes(key), `a REST payload contains ${key}`).toBe(false);
  expect(payloads.includes('fake-bot-token')).toBe(false);
  for (const m of world.discord.messages.values()) {
    if (m.authorId !== world.discord.botUser.id) continue;
    expect(m.allowedMentions?.parse, `message ${m.id} (${m.content.slice(0, 40)}) allowed_mentions`).toEqual([]);
    expect(m.pings).toEqual({ everyone: false, users: [], roles: [] });
  }
  expect(world.discord.internalErrors).toEqual([]);
}

/** Wraps the real Gemini client so each streamed chunk arrives `delayMs` after the previous (the fake sends them at once). */
export function slowStreams(delayMs: number): ClientFactory {
  return (apiKey, options) => {
    const real = sdkClientFactory(apiKey, options);
    return {
      generate: (req, signal) => real.generate(req, signal),
      check: (signal) => real.check(signal),
      native: (method, model, body, signal) => real.native(method, model, body, signal),
      nativeStream: (model, body, signal) => real.nativeStream(model, body, signal),
      async *stream(req, signal) {
        for await (const chunk of real.stream(req, signal)) {
          await new Promise((r) => setTimeout(r, delayMs));
          yield chunk;
        }
      },
    };
  };
}

/** A long answer: paragraphs, then a long code block, then more paragraphs (about `chars` long). */
export function longAnswer(chars = 9000): string {
  const sentence = (i: number) => `Sentence ${i} explains one more detail of the topic at hand.`;
  const para = (from: number, n: number) => Array.from({ length: n }, (_, i) => sentence(from + i)).join(' ');
  const code = Array.from({ length: 90 }, (_, i) => `def step_${i}(x):\n    return x * ${i}  # keeps going`).join('\n');
  let text = `${para(0, 20)}\n\n${para(20, 15)}\n\n\`\`\`python\n${code}\n\`\`\`\n\n`;
  for (let i = 100; text.length < chars; i += 8) text += `${para(i, 8)}\n\n`;
  return text.slice(0, chars).replace(/\s+\S*$/, '.');
}
