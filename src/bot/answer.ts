/**
 * The path every Gemini-backed interaction takes: refuse early (restarting, prompt too
 * long, user busy, queue full) with an ephemeral message, otherwise defer within Discord's
 * 3 seconds, wait for a slot, call the pool, and render the result. `/ask` and `/art` live
 * here; chats are in `chat.ts`.
 */
import { MessageFlags } from 'discord.js';
import type { RepliableInteraction } from 'discord.js';
import type { PoolStream } from '../pool/GeminiAPIPool.ts';
import type { PoolResult } from '../pool/types.ts';
import type { Ticket } from './gate.ts';
import { DISCORD_LIMITS, NO_MENTIONS, artEmbed } from './render.ts';
import { ANSWER_CHARS, answerTokenBudget, failureTextOf, streamAnswer, type AnswerSink, interactionSink } from './stream.ts';
import type { BotContext } from './types.ts';
import { failureText, type Failure } from './userText.ts';

/**
 * Tells the user about a failure, whatever state the interaction is in: a fresh one gets
 * an ephemeral reply, a deferred one gets its reply edited, an answered one a follow-up.
 */
export async function replyFailure(interaction: RepliableInteraction, failure: Failure): Promise<void> {
  const content = failureText(failure);
  if (interaction.deferred && !interaction.replied) {
    await interaction.editReply({ content, embeds: [], components: [], allowedMentions: NO_MENTIONS });
  } else if (interaction.replied || interaction.deferred) {
    await interaction.followUp({ content, flags: MessageFlags.Ephemeral, allowedMentions: NO_MENTIONS });
  } else {
    await interaction.reply({ content, flags: MessageFlags.Ephemeral, allowedMentions: NO_MENTIONS });
  }
}

/** A prompt within MAX_PROMPT_CHARS, or the failure that says why not. */
export function checkPrompt(prompt: string, maxPromptChars: number): Failure | undefined {
  if (prompt.length > maxPromptChars) return { kind: 'prompt_too_long', promptChars: prompt.length, maxPromptChars };
  return undefined;
}

/** A model the pool serves (or none asked for), or the failure that says why not. */
export function checkModel(model: string | undefined, served: readonly string[]): Failure | undefined {
  if (model === undefined || served.includes(model)) return undefined;
  return { kind: 'bad_request', message: `model ${model} is not served here (available: ${served.join(', ')})` };
}

/**
 * Admits an interaction: the checks that answer at once, then `deferReply`. Returns the
 * ticket to run the work with, or undefined when the user was already told why not.
 * The caller must `release()` the ticket in a `finally` (it is a no-op once run).
 */
export async function admitInteraction(
  interaction: RepliableInteraction,
  ctx: BotContext,
  options: { prompt: string; ephemeral: boolean; model?: string | undefined },
): Promise<Ticket | undefined> {
  const refusal: Failure | undefined = !ctx.accepting()
    ? { kind: 'shutting_down' }
    : (checkPrompt(options.prompt, ctx.config.bot.maxPromptChars) ?? checkModel(options.model, ctx.pool.models));
  const command = interaction.isChatInputCommand() ? interaction.commandName : 'other';
  // A label only from the configured list: user input must not grow the metric's series.
  const model = options.model === undefined ? ctx.pool.defaultModel : ctx.pool.models.includes(options.model) ? options.model : 'unknown';
  if (refusal) {
    ctx.metrics.observe({ command, model, outcome: refusal.kind, latencyMs: 0 });
    await replyFailure(interaction, refusal);
    return undefined;
  }
  const admission = ctx.gate.admit(interaction.user.id);
  if (!admission.ok) {
    ctx.metrics.observe({ command, model, outcome: admission.reason, latencyMs: 0 });
    await replyFailure(interaction, { kind: admission.reason });
    return undefined;
  }
  try {
    await interaction.deferReply(options.ephemeral ? { flags: MessageFlags.Ephemeral } : {});
  } catch (err) {
    admission.ticket.release();
    throw err;
  }
  return admission.ticket;
}

/** Streams a pool answer into a sink, and counts it in the metrics. */
export async function runStreamedAnswer(
  ctx: BotContext,
  options: { command: string; sink: AnswerSink; start: () => PoolStream },
): Promise<PoolResult> {
  const startedAt = Date.now();
  const { result } = await streamAnswer(options.start(), options.sink, {
    editIntervalMs: ctx.config.bot.editIntervalMs,
    layout: { maxChars: ANSWER_CHARS, maxMessages: ctx.config.bot.maxAnswerMessages },
    cancelled: ctx.shutdown,
  });
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
  const ticket = await admitInteraction(interaction, ctx, { prompt: o.prompt, ephemeral: o.ephemeral, model: o.model });
  if (!ticket) return;
  try {
    await ticket.run(() =>
      runStreamedAnswer(ctx, {
        command: 'ask',
        sink: interactionSink(interaction, { ephemeral: o.ephemeral, onExpired: () => logTokenExpired(ctx, interaction) }),
        start: () =>
          ctx.pool.generateContentStream({
            prompt: o.prompt,
            ...(o.model !== undefined ? { model: o.model } : {}),
            ...(o.temperature !== undefined ? { temperature: o.temperature } : {}),
            ...(ctx.config.bot.systemPrompt !== undefined ? { systemInstruction: ctx.config.bot.systemPrompt } : {}),
            maxOutputTokens: answerTokenBudget(ctx.config.bot.maxAnswerMessages),
            signal: ctx.shutdown,
          }),
      }),
    );
  } finally {
    ticket.release();
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
  const ticket = await admitInteraction(interaction, ctx, { prompt: topic, ephemeral: false });
  if (!ticket) return;
  try {
    await ticket.run(async () => {
      const startedAt = Date.now();
      const result = await ctx.pool.generateContent({
        prompt: artPrompt(topic),
        ...(ctx.config.bot.systemPrompt !== undefined ? { systemInstruction: ctx.config.bot.systemPrompt } : {}),
        // One embed's description is all that is shown.
        maxOutputTokens: answerTokenBudget(1, DISCORD_LIMITS.embedDescriptionChars),
        signal: ctx.shutdown,
      });
      record(ctx, 'art', result, Date.now() - startedAt);
      if (!result.ok) {
        await interaction.editReply({ content: failureTextOf(result.error, ctx.shutdown), allowedMentions: NO_MENTIONS });
        return;
      }
      await interaction.editReply({
        embeds: [artEmbed(topic, result.text, { model: result.model, latencyMs: result.latencyMs })],
        allowedMentions: NO_MENTIONS,
      });
    });
  } finally {
    ticket.release();
  }
}
