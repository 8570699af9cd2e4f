/**
 * Gemini answers to interactions: `/ask` (streamed into the reply) and `/art` (one embed).
 * Each is admitted first (see `admission.ts`), then waits for a slot, calls the pool and
 * renders the result. Chats are in `chat.ts`.
 */
import { randomBytes } from 'node:crypto';
import type { MessageContextMenuCommandInteraction, RepliableInteraction } from 'discord.js';
import type { PoolStream } from '../pool/GeminiAPIPool.ts';
import { THINKING_BUDGET_TOKENS, type PoolResult, type ThinkingLevel } from '../pool/types.ts';
import { admitInteraction, whereFrom, type Work } from './admission.ts';
import { attachmentMetas, type AttachmentMeta } from './attachments.ts';
import { displayNameOf } from './conversations.ts';
import { regenerateRows, stopRows, type AnswerRecord, type Rerunnable } from './controls.ts';
import { DISCORD_LIMITS, NO_MENTIONS, artEmbed } from './render.ts';
import { ANSWER_CHARS, WaitNotice, answerTokenBudget, failureTextOf, showOnly, streamAnswer, type AnswerSink, type StreamAnswerOptions, interactionSink } from './stream.ts';
import { modelFor, placeOfInteraction, systemInstructionFor } from './settings.ts';
import type { BotContext } from './types.ts';
import { THINKING_TEXT, failureText, stoppedText } from './userText.ts';

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
 * Whether a model thinks before it writes: Gemini 2.5 Pro and Flash (and later ones) do by
 * default; any model does when given a thinking budget.
 */
export function modelThinks(model: string, thinking?: ThinkingLevel): boolean {
  return thinking !== undefined || (/^gemini-(2\.5|[3-9])/.test(model) && !/lite/.test(model)) || /thinking/.test(model);
}

/** The `maxOutputTokens` of an answer in messages, with room for its thinking budget. */
export function answerTokensFor(ctx: BotContext, thinking?: ThinkingLevel): number {
  return answerTokenBudget(ctx.config.bot.maxAnswerMessages, ANSWER_CHARS, thinking !== undefined ? THINKING_BUDGET_TOKENS[thinking] : undefined);
}

/**
 * Streams a pool answer into a sink, and counts it in the metrics and in the user's and the
 * server's usage (`work`). `start` gets the pool's `onWait` for the request: while the
 * request waits for quota, a deferred reply says so. With `thinks` (a model that thinks
 * first), "thinking" shows when no text has come within one edit interval.
 */
export async function runStreamedAnswer(
  ctx: BotContext,
  options: {
    command: string;
    sink: AnswerSink;
    work: Pick<Work, 'counted'>;
    start: (onWait: ((expectedWaitMs: number) => void) | undefined) => PoolStream;
    thinks?: boolean;
    stream?: Pick<StreamAnswerOptions, 'describe' | 'placeholder' | 'controls'>;
  },
): Promise<PoolResult> {
  const startedAt = Date.now();
  const sink = options.sink;
  const notice = waitNotice(ctx, sink.firstExists ? (text) => sink.edit(0, text) : undefined);
  const { result } = await streamAnswer(options.start(notice?.waiting), sink, {
    editIntervalMs: ctx.config.bot.editIntervalMs,
    layout: { maxChars: ANSWER_CHARS, maxMessages: ctx.config.bot.maxAnswerMessages },
    cancelled: ctx.lifecycle.signal,
    ...(notice ? { notice } : {}),
    ...(options.thinks ? { placeholder: { text: THINKING_TEXT, afterMs: ctx.config.bot.editIntervalMs } } : {}),
    ...options.stream,
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
  /** Files to ask about. */
  attachments?: readonly AttachmentMeta[];
  /** The command, for the metrics. @default 'ask' */
  command?: string;
  /** A thinking budget for the model. */
  thinking?: ThinkingLevel | undefined;
  /** Ground the answer in Google Search; its sources are listed under it. */
  search?: boolean | undefined;
}

/** `/ask`: one streamed answer in the reply and, past 2000 characters, follow-ups. */
export async function runAsk(interaction: RepliableInteraction, ctx: BotContext, o: AskOptions): Promise<void> {
  const files = o.attachments ?? [];
  const command = o.command ?? 'ask';
  const where = await whereFrom(ctx, placeOfInteraction(interaction));
  const work = await admitInteraction(interaction, ctx, { prompt: o.prompt, ephemeral: o.ephemeral, model: o.model, attachments: files, where });
  if (!work) return;
  const model = o.model ?? modelFor(where.settings, ctx.config.gemini.models, ctx.pool.defaultModel);
  const systemInstruction = systemInstructionFor(ctx.config.bot.systemPrompt, where.settings);
  try {
    await work.run(async () => {
      const sink = interactionSink(interaction, { ephemeral: o.ephemeral, onExpired: () => logTokenExpired(ctx, interaction) });
      const loaded = await ctx.attachments.load(files, ctx.lifecycle.signal);
      if (!loaded.ok) {
        ctx.metrics.observe({ command, model, outcome: loaded.failure.kind, latencyMs: 0 });
        await showOnly(sink, failureText(loaded.failure));
        return;
      }
      const request: Rerunnable = {
        contents: [{ role: 'user', parts: [{ text: o.prompt }, ...loaded.parts] }],
        model,
        ...(o.temperature !== undefined ? { temperature: o.temperature } : {}),
        ...((o.search ?? where.settings.search) ? { search: true } : {}),
        ...(systemInstruction !== undefined ? { systemInstruction } : {}),
        ...(o.thinking !== undefined ? { thinking: o.thinking } : {}),
        maxOutputTokens: answerTokensFor(ctx, o.thinking),
      };
      // A private answer gets no buttons: only its owner sees it, and can simply ask again.
      if (!o.ephemeral) await runControlledAnswer(ctx, { command, askerId: interaction.user.id, sink, request, work });
      else {
        const start = (onWait: ((expectedWaitMs: number) => void) | undefined) =>
          ctx.pool.generateContentStream({ ...request, client: work.client, ...(onWait ? { onWait } : {}), signal: ctx.lifecycle.signal });
        await runStreamedAnswer(ctx, { command, sink, work, start, thinks: modelThinks(model, o.thinking) });
      }
    });
  } finally {
    work.release();
  }
}

/**
 * What "Ask Gemini about this" asks: the message (cut to fit `maxChars`) as the subject,
 * its files attached.
 */
export function aboutMessagePrompt(author: string, text: string, hasFiles: boolean, maxChars: number): string {
  const head = `${author} wrote this message on Discord${hasFiles ? ' (its files are attached)' : ''}. Explain it, or answer it if it asks something.\n\n`;
  const room = Math.max(0, maxChars - head.length - 8);
  const body = text.length > room ? `${text.slice(0, Math.max(0, room - 1))}…` : text;
  return `${head}"""\n${body.trim() || '(no text)'}\n"""`;
}

/** The message context-menu command "Ask Gemini about this": an answer about a message, as `/ask` gives it. */
export async function runAboutMessage(interaction: MessageContextMenuCommandInteraction, ctx: BotContext): Promise<void> {
  const target = interaction.targetMessage;
  const attachments = attachmentMetas(target.attachments.values());
  const prompt = aboutMessagePrompt(displayNameOf(target.member, target.author), target.content, attachments.length > 0, ctx.config.bot.maxPromptChars);
  await runAsk(interaction, ctx, { prompt, ephemeral: false, attachments, command: 'ask-about' });
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
  const where = await whereFrom(ctx, placeOfInteraction(interaction));
  const work = await admitInteraction(interaction, ctx, { prompt: topic, ephemeral: false, where });
  if (!work) return;
  const systemInstruction = systemInstructionFor(ctx.config.bot.systemPrompt, where.settings);
  try {
    await work.run(async () => {
      const startedAt = Date.now();
      const notice = waitNotice(ctx, async (content) => void (await interaction.editReply({ content, allowedMentions: NO_MENTIONS })));
      const result = await ctx.pool.generateContent({
        prompt: artPrompt(topic),
        client: work.client,
        ...(notice ? { onWait: notice.waiting } : {}),
        model: modelFor(where.settings, ctx.config.gemini.models, ctx.pool.defaultModel),
        ...(systemInstruction !== undefined ? { systemInstruction } : {}),
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

/**
 * Streams an answer with its buttons: Stop on the first message while it streams,
 * Regenerate on the last once done. `key` names an answer written again.
 */
export async function runControlledAnswer(
  ctx: BotContext,
  o: {
    command: string;
    askerId: string;
    sink: AnswerSink;
    request: Rerunnable;
    /** The admitted work this answer runs as: its client, and where its use is counted. */
    work: Pick<Work, 'client' | 'counted'>;
    key?: string;
    placeholder?: StreamAnswerOptions['placeholder'];
  },
): Promise<PoolResult> {
  const key = o.key ?? randomBytes(6).toString('hex');
  const running: NonNullable<AnswerRecord['running']> = { stop: new AbortController() };
  const record: AnswerRecord = { key, command: o.command, askerId: o.askerId, request: o.request, messageIds: [], running };
  ctx.answers.keep(record);
  try {
    return await runStreamedAnswer(ctx, {
      command: o.command,
      sink: o.sink,
      thinks: modelThinks(o.request.model ?? ctx.pool.defaultModel, o.request.thinking),
      work: o.work,
      start: (onWait) =>
        ctx.pool.generateContentStream({
          ...o.request,
          client: o.work.client,
          ...(onWait ? { onWait } : {}),
          signal: AbortSignal.any([ctx.lifecycle.signal, running.stop.signal]),
        }),
      stream: {
        ...(o.placeholder !== undefined ? { placeholder: o.placeholder } : {}),
        controls: { streaming: (i) => (i === 0 ? stopRows(key) : []), final: (i, n) => (i === n - 1 ? regenerateRows(key) : []) },
        describe: (error) => (running.stop.signal.aborted ? stoppedText(running.by ?? 'someone') : failureTextOf(error, ctx.lifecycle.signal)),
      },
    });
  } finally {
    record.messageIds = o.sink.messageIds?.() ?? [];
    delete record.running;
  }
}
