/**
 * End to end: thinking models. "Thinking…" shows (with Stop) while a model that thinks has
 * written nothing yet, and the `thinking` option of /ask reaches Gemini's thinkingConfig,
 * with maxOutputTokens leaving room for it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANSWER_CHARS, answerTokenBudget } from '../../src/bot/stream.ts';
import { THINKING_TEXT } from '../../src/bot/userText.ts';
import { CHANNEL_ID, alice, expectWorldInvariants, startWorld, str, waitForAnswer, type World } from './harness.ts';

describe('thinking models', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({ env: { GEMINI_MODELS: 'gemini-2.5-flash,gemini-2.0-flash' } });
  });
  afterAll(async () => {
    if (!w) return;
    expectWorldInvariants(w);
    await w.close();
  });

  /** The contents the bot wrote into a message, in order (creates and edits). */
  const writesOf = (messageId: string | undefined, interactionToken: string): string[] =>
    w.discord.calls
      .filter((c) => c.status === 200 && typeof c.body?.content === 'string' && (c.path.includes(interactionToken) || (messageId !== undefined && c.path.endsWith(messageId))))
      .map((c) => c.body.content as string);

  it('thinking:high reaches generationConfig.thinkingConfig, and maxOutputTokens has room for it', async () => {
    const it1 = await w.discord.sendCommand({ name: 'ask', options: [str('prompt', 'think hard'), str('thinking', 'high')], user: alice, channelId: CHANNEL_ID });
    await waitForAnswer(w, it1);
    const config = w.gemini.requests.at(-1)!.body.generationConfig;
    expect(config.thinkingConfig).toEqual({ thinkingBudget: 24_576 });
    expect(config.maxOutputTokens).toBe(answerTokenBudget(5, ANSWER_CHARS, 24_576));
    const plain = await w.discord.sendCommand({ name: 'ask', options: [str('prompt', 'no budget')], user: alice, channelId: CHANNEL_ID });
    await waitForAnswer(w, plain);
    expect(w.gemini.requests.at(-1)!.body.generationConfig.thinkingConfig).toBeUndefined();
  });

  it('a model that thinks shows "Thinking…" with Stop until its first text; one that does not, nothing', async () => {
    w.gemini.inject({ type: 'latency', ms: 1_500 }, { times: 2 });
    const thinker = await w.discord.sendCommand({ name: 'ask', options: [str('prompt', 'slow thinker')], user: alice, channelId: CHANNEL_ID });
    const thinking = await thinker.waitForOriginal((m) => m.content === THINKING_TEXT, 5000);
    expect(JSON.stringify(thinking.components)).toContain('ask:stop:');
    const [answer] = await waitForAnswer(w, thinker);
    expect(answer!.content).toMatch(/^echo: slow thinker\n-# gemini-2\.5-flash · /);

    const plain = await w.discord.sendCommand({ name: 'ask', options: [str('prompt', 'slow plain'), str('model', 'gemini-2.0-flash')], user: alice, channelId: CHANNEL_ID });
    const [plainAnswer] = await waitForAnswer(w, plain);
    expect(plainAnswer!.content).toMatch(/^echo: slow plain\n-# gemini-2\.0-flash · /);
    expect(writesOf(undefined, plain.token)).not.toContain(THINKING_TEXT);
  });

  it('a chat thread shows it too, in the message that then becomes the answer', async () => {
    w.gemini.inject({ type: 'latency', ms: 1_500 });
    await w.discord.sendCommand({ name: 'chat', options: [str('prompt', 'let us think')], user: alice, channelId: CHANNEL_ID });
    const thread = await w.discord.waitFor(() => [...w.discord.threads.values()].find((t) => t.name === 'let us think'));
    const placeholder = await w.discord.waitFor(() => w.discord.channelMessages(thread.id).find((m) => m.content === THINKING_TEXT), 5000);
    await w.discord.waitFor(() => /^echo: Alice: let us think\n-# /.test(w.discord.messages.get(placeholder.id)!.content), 5000);
    await w.discord.waitFor(() => w.bot.gate.inFlight === 0, 2000);
  });
});
