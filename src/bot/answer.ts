/**
 * Gemini answers to interactions: `/ask` (streamed into the reply) and `/art` (one embed).
 * Each is admitted first (see `admission.ts`), then waits for a slot, calls the pool and
 * renders the result. Chats are in `chat.ts`.
 */
import type { RepliableInteraction } from 'discord.js';
import type { PoolStream } from '../pool/GeminiAPIPool.ts';
import type { PoolResult } from '../pool/types.ts';
import { admitInteraction, type Work } from './admission.ts';
import { DISCORD_LIMITS, NO_MENTIONS, artEmbed } from './render.ts';
import { ANSWER_CHARS, WaitNotice, answerTokenBudget, failureTextOf, streamAnswer, type AnswerSink, interactionSink } from './stream.ts';
import type { BotContext } from './types.ts';

/** The wait notice is counted down at most this often (and never more often than EDIT_INTERVAL_MS). */
const WAIT_NOTICE_REFRESH_MS = 5_000;

/** A wait notice that edits message 0 of `sink`, when that is a deferred reply. */
export function waitNotice(ctx: BotContext, write: ((text: string) => Promise<void>) | undefined): WaitNotice | undefined {
  if (!write) return undefined;
  return new WaitNotice(write, {
    refreshMs: Math.max(ctx.config.bot.editIntervalMs, WAIT_NOTICE_REFRESH_MS),
    onError: (err) => ctx.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not show the wait notice'),
  });
}

/**
 * Streams a pool answer into a sink, and counts it in the metrics and in the user's and the
 * server's usage (`work`). `start` gets the pool's `onWait` for the request: while the
 * request waits for quota, a deferred reply says so.
 */
export async function runStreamedAnswer(
  ctx: BotContext,
  options: { command: string; sink: AnswerSink; work: Pick<Work, 'counted'>; start: (onWait: ((expectedWaitMs: number) => void) | undefined) => PoolStream },
): Promise<PoolResult> {
  const startedAt = Date.now();
  const sink = options.sink;
  const notice = waitNotice(ctx, sink.firstExists ? (text) => sink.edit(0, text) : undefined);
  const { result } = await streamAnswer(options.start(notice?.waiting), sink, {
    editIntervalMs: ctx.config.bot.editIntervalMs,
    layout: { maxChars: ANSWER_CHARS, maxMessages: ctx.config.bot.maxAnswerMessages },
    cancelled: ctx.lifecycle.signal,
    notice,
  });
  options.work.counted(result);
  record(ctx, options.command, result, Date.now() - startedAt);
  return result;
}

function record(ctx: BotContext, command: string, result: PoolResult, latencyMs: number): void {
  ctx.metrics.observe({ command, model: result.model, outcome: result.ok ? 'ok' : result.error.kind, latencyMs });
  if (!result.ok) {
    ctx.logger.info({ command, model: result.model, kind: result.error.kind, attempts: result.attempts }, 'gemini request failed');
  }
}

/** Discord's 15 minutes ran out mid-answer: the rest goes to the channel (see `interactionSink`). */
export function logTokenExpired(ctx: BotContext, interaction: RepliableInteraction): void {
  ctx.logger.info({ interactionId: interaction.id, userId: interaction.user.id }, 'interaction token expired mid-answer; continuing in the channel');
}

/** Options of `/ask`, parsed by the command. */
export interface AskOptions {
  prompt: string;
  model?: string | undefined;
  temperature?: number | undefined;
  ephemeral: boolean;
}

/** `/ask`: one streamed answer in the reply and, past 2000 characters, follow-ups. */
export async function runAsk(interaction: RepliableInteraction, ctx: BotContext, o: AskOptions): Promise<void> {
  const work = await admitInteraction(interaction, ctx, { prompt: o.prompt, ephemeral: o.ephemeral, model: o.model });
  if (!work) return;
  try {
    await work.run(() =>
      runStreamedAnswer(ctx, {
        command: 'ask',
        sink: interactionSink(interaction, { ephemeral: o.ephemeral, onExpired: () => logTokenExpired(ctx, interaction) }),
        work,
        start: (onWait) =>
          ctx.pool.generateContentStream({
            prompt: o.prompt,
            client: work.client,
            ...(onWait ? { onWait } : {}),
            ...(o.model !== undefined ? { model: o.model } : {}),
            ...(o.temperature !== undefined ? { temperature: o.temperature } : {}),
            ...(ctx.config.bot.systemPrompt !== undefined ? { systemInstruction: ctx.config.bot.systemPrompt } : {}),
            maxOutputTokens: answerTokenBudget(ctx.config.bot.maxAnswerMessages),
            signal: ctx.lifecycle.signal,
          }),
      }),
    );
  } finally {
    work.release();
  }
}

/** What `/art` asks Gemini for. */
export function artPrompt(topic: string): string {
  return (
    `Write an artistic description of "${topic}", as if describing a painting of it: ` +
    'colours, light, texture, mood and composition. One or two short paragraphs, under 250 words, no title.'
  );
}

/** `/art`: an artistic description of a topic in a purple embed titled with the topic. */
export async function runArt(interaction: RepliableInteraction, ctx: BotContext, topic: string): Promise<void> {
  const work = await admitInteraction(interaction, ctx, { prompt: topic, ephemeral: false });
  if (!work) return;
  try {
    await work.run(async () => {
      const startedAt = Date.now();
      const notice = waitNotice(ctx, async (content) => void (await interaction.editReply({ content, allowedMentions: NO_MENTIONS })));
      const result = await ctx.pool.generateContent({
        prompt: artPrompt(topic),
        client: work.client,
        ...(notice ? { onWait: notice.waiting } : {}),
        ...(ctx.config.bot.systemPrompt !== undefined ? { systemInstruction: ctx.config.bot.systemPrompt } : {}),
        // One embed's description is all that is shown.
        maxOutputTokens: answerTokenBudget(1, DISCORD_LIMITS.embedDescriptionChars),
        signal: ctx.lifecycle.signal,
      });
      await notice?.stop();
      work.counted(result);
      record(ctx, 'art', result, Date.now() - startedAt);
      if (!result.ok) {
        await interaction.editReply({ content: failureTextOf(result.error, ctx.lifecycle.signal), allowedMentions: NO_MENTIONS });
        return;
      }
      await interaction.editReply({
        // The wait notice, if there was one, goes: the embed is the answer.
        content: '',
        embeds: [artEmbed(topic, result.text, { model: result.model, latencyMs: result.latencyMs })],
        allowedMentions: NO_MENTIONS,
      });
    });
  } finally {
    work.release();
  }
}
