/**
 * Multi-turn chats. `/chat` in a server text channel opens a thread named after the prompt
 * and answers there; every later message in the thread continues the conversation. In a
 * DM (or inside a bot thread) the channel itself is the conversation. History lives in the
 * store (see `conversations.ts`), so a chat survives a restart and any key failing.
 */
import {
  ActionRowBuilder,
  ButtonBuilder,
  ButtonStyle,
  ChannelType,
  PermissionFlagsBits,
  ThreadAutoArchiveDuration,
} from 'discord.js';
import type {
  ButtonInteraction,
  ChatInputCommandInteraction,
  Message,
  NewsChannel,
  RepliableInteraction,
  SendableChannels,
  TextChannel,
} from 'discord.js';
import type { StoredConversation, StoredTurn } from '../store/types.ts';
import { admitInteraction, admitWork, replyFailure, whereFrom, type Work } from './admission.ts';
import { DESCRIBE_THIS_TEXT, attachmentMetas, type AttachmentMeta } from './attachments.ts';
import { logTokenExpired, modelThinks, runStreamedAnswer } from './answer.ts';
import { displayNameOf, isConversationStoreError, userTurnText } from './conversations.ts';
import { NO_MENTIONS, threadName } from './render.ts';
import { answerTokenBudget, channelSink, interactionSink, showOnly, type AnswerSink } from './stream.ts';
import { modelFor, placeOfInteraction, placeOfMessage, systemInstructionFor } from './settings.ts';
import type { BotContext } from './types.ts';
import {
  END_CHAT_BUTTON_LABEL,
  THREAD_REASONS,
  chatEndedText,
  chatIntroText,
  chatStartedText,
  failureText,
  type Failure,
} from './userText.ts';

/** Custom id of the "End conversation" button; the dispatcher routes it to `/chat-end`. */
export const END_CHAT_BUTTON_ID = 'chat-end';

/** Where a `/chat` answer goes. */
export type ChatPlace =
  | { kind: 'new-thread'; channel: TextChannel | NewsChannel }
  | { kind: 'in-place'; conversationId: string }
  | { kind: 'unsupported' };

/** A server text channel gets a new thread; a DM or a thread is the conversation itself. */
export function chatPlace(interaction: RepliableInteraction): ChatPlace {
  const channel = interaction.channel;
  if (!interaction.inGuild()) return { kind: 'in-place', conversationId: interaction.channelId ?? interaction.user.id };
  if (!channel) return { kind: 'unsupported' };
  if (channel.isThread()) return { kind: 'in-place', conversationId: channel.id };
  if (channel.type === ChannelType.GuildText || channel.type === ChannelType.GuildAnnouncement) return { kind: 'new-thread', channel };
  return { kind: 'unsupported' };
}

/** The first message of a chat thread: who started it, the prompt, how it works, an end button. */
function introMessage(ctx: BotContext, starter: string, model: string, prompt: string) {
  const row = new ActionRowBuilder<ButtonBuilder>().addComponents(
    new ButtonBuilder().setCustomId(END_CHAT_BUTTON_ID).setLabel(END_CHAT_BUTTON_LABEL).setStyle(ButtonStyle.Secondary),
  );
  return {
    content: chatIntroText({ starter, model, prompt, historyTurns: ctx.config.bot.chatHistoryTurns }),
    components: [row],
    allowedMentions: NO_MENTIONS,
  };
}

/**
 * Answers one user message (and its files) in a conversation and stores the exchange, the
 * files as references. Runs under the conversation's lock and the admitted work (the caller's job).
 */
async function converse(
  ctx: BotContext,
  conversationId: string,
  said: { author: string; text: string; files: readonly AttachmentMeta[]; systemInstruction: string | undefined; search: boolean },
  sink: AnswerSink,
  work: Pick<Work, 'client' | 'counted'>,
): Promise<void> {
  const conversation = await ctx.conversations.get(conversationId);
  if (!conversation) {
    // Ended while this message waited its turn.
    await sink.create(0, failureText({ kind: 'no_conversation' }));
    return;
  }
  const loaded = await ctx.attachments.load(said.files, ctx.lifecycle.signal);
  if (!loaded.ok) {
    ctx.metrics.observe({ command: 'chat', model: conversation.model, outcome: loaded.failure.kind, latencyMs: 0 });
    await showOnly(sink, failureText(loaded.failure));
    return;
  }
  const userText = userTurnText(said.author, said.text || (said.files.length > 0 ? DESCRIBE_THIS_TEXT : ''));
  const history = ctx.attachments.history(ctx.conversations.historyFor(conversation), ctx.attachments.budgetAfter(loaded.parts));
  const result = await runStreamedAnswer(ctx, {
    command: 'chat',
    sink,
    thinks: modelThinks(conversation.model),
    work,
    start: (onWait) =>
      ctx.pool.generateContentStream({
        client: work.client,
        ...(onWait ? { onWait } : {}),
        model: conversation.model,
        contents: [...history, { role: 'user', parts: [{ text: userText }, ...loaded.parts] }],
        ...(said.systemInstruction !== undefined ? { systemInstruction: said.systemInstruction } : {}),
        ...(said.search ? { search: true } : {}),
        maxOutputTokens: answerTokenBudget(ctx.config.bot.maxAnswerMessages),
        signal: ctx.lifecycle.signal,
      }),
  });
  if (!result.ok) return;
  const turns: StoredTurn[] = [
    { role: 'user', parts: [{ text: userText }, ...loaded.refs.map((fileRef) => ({ fileRef }))] },
    { role: 'model', parts: [{ text: result.text }] },
  ];
  try {
    const latest = await ctx.conversations.get(conversationId);
    if (latest) await ctx.conversations.append(conversationId, latest, turns);
  } catch (err) {
    if (!isConversationStoreError(err)) throw err;
    // The answer is shown; only the memory of this exchange is lost.
    ctx.logger.warn({ conversationId, err: err.message }, 'could not save a chat exchange');
  }
}

/** `/chat prompt [model] [attachment]`. */
export async function startChat(
  interaction: ChatInputCommandInteraction,
  ctx: BotContext,
  options: { prompt: string; model?: string | undefined; attachments?: readonly AttachmentMeta[] },
): Promise<void> {
  const place = chatPlace(interaction);
  if (place.kind === 'unsupported') {
    await replyFailure(interaction, { kind: 'wrong_channel' });
    return;
  }
  const files = options.attachments ?? [];
  const where = await whereFrom(ctx, placeOfInteraction(interaction));
  const work = await admitInteraction(interaction, ctx, { prompt: options.prompt, ephemeral: false, model: options.model, attachments: files, where });
  if (!work) return;
  const said = {
    author: displayNameOf(interaction.member, interaction.user),
    text: options.prompt,
    files,
    systemInstruction: systemInstructionFor(ctx.config.bot.systemPrompt, where.settings),
    search: where.settings.search,
  };
  const serverModel = modelFor(where.settings, ctx.config.gemini.models, ctx.pool.defaultModel);
  try {
    if (place.kind === 'new-thread') {
      const model = options.model ?? serverModel;
      const thread = await place.channel.threads.create({
        name: threadName(options.prompt),
        autoArchiveDuration: ThreadAutoArchiveDuration.OneDay,
        reason: THREAD_REASONS.started(interaction.user.username),
      });
      await ctx.conversations.start(thread.id, { model, ownerId: interaction.user.id });
      await interaction.editReply({ content: chatStartedText(thread.id), allowedMentions: NO_MENTIONS });
      await thread.send(introMessage(ctx, said.author, model, options.prompt));
      await ctx.conversations.withLock(thread.id, () =>
        work.run(() => converse(ctx, thread.id, said, channelSink(thread), work)),
      );
      return;
    }
    const id = place.conversationId;
    const existing = await ctx.conversations.get(id);
    if (!existing) await ctx.conversations.start(id, { model: options.model ?? serverModel, ownerId: interaction.user.id });
    else if (options.model !== undefined && options.model !== existing.model) {
      // The history is ours, so switching models mid-conversation just works.
      await ctx.conversations.append(id, { ...existing, model: options.model }, []);
    }
    const sink = interactionSink(interaction, { ephemeral: false, onExpired: () => logTokenExpired(ctx, interaction) });
    await ctx.conversations.withLock(id, () => work.run(() => converse(ctx, id, said, sink, work)));
  } finally {
    work.release();
  }
}

/** `/chat-end` or the "End conversation" button: forgets the conversation of this channel. */
export async function endChat(interaction: ChatInputCommandInteraction | ButtonInteraction, ctx: BotContext): Promise<void> {
  const id = interaction.channelId;
  const conversation = id ? await ctx.conversations.get(id) : undefined;
  if (!id || !conversation) {
    await replyFailure(interaction, { kind: 'no_conversation' });
    return;
  }
  const permissions = interaction.inGuild() ? interaction.memberPermissions : null;
  const allowed =
    !interaction.inGuild() ||
    conversation.ownerId === undefined ||
    conversation.ownerId === interaction.user.id ||
    (permissions?.has(PermissionFlagsBits.ManageThreads) ?? false) ||
    ctx.isAdmin({ userId: interaction.user.id, permissions });
  if (!allowed) {
    await replyFailure(interaction, { kind: 'not_owner' });
    return;
  }
  await ctx.conversations.end(id);
  const who = displayNameOf(interaction.member, interaction.user);
  await interaction.reply({ content: chatEndedText(who), allowedMentions: NO_MENTIONS });
  const channel = interaction.channel;
  if (channel?.isThread() && channel.ownerId === interaction.client.user.id) {
    await channel.setArchived(true, THREAD_REASONS.ended).catch((err: unknown) => {
      ctx.logger.warn({ err: String(err), threadId: channel.id }, 'could not archive the chat thread');
    });
  }
}

/**
 * A message in a DM or a bot chat thread: continues the conversation. Returns false, doing
 * nothing, when the channel is no conversation (a server channel, a thread the bot did not
 * start with `/chat`), so the message may still be a mention. Ignores the bot's own
 * messages, other bots and system messages.
 */
export async function onChatMessage(message: Message, ctx: BotContext): Promise<boolean> {
  if (message.author.bot || message.system || message.author.id === message.client.user.id) return true;
  const channel = message.channel;
  const inDm = channel.isDMBased();
  if (!inDm && !channel.isThread()) return false;
  const text = message.content.trim();
  const id = message.channelId;
  const tell = async (f: Failure): Promise<void> => {
    await message.reply({ content: failureText(f), allowedMentions: NO_MENTIONS, failIfNotExists: false });
  };
  const storeAway = async (err: Error, model: string): Promise<void> => {
    ctx.logger.warn({ conversationId: id, err: err.message }, 'could not reach the conversation in the store');
    ctx.metrics.observe({ command: 'chat', model, outcome: 'store_unavailable', latencyMs: 0 });
    await tell({ kind: 'store_unavailable' });
  };
  let conversation: StoredConversation | undefined;
  try {
    conversation = await ctx.conversations.get(id);
  } catch (err) {
    if (!isConversationStoreError(err)) throw err;
    // Without the store it is unknown whether a thread is a conversation: a DM always is,
    // and so is a thread the bot started; other threads are left alone.
    if (inDm || (channel.isThread() && channel.ownerId === message.client.user.id)) {
      await storeAway(err, ctx.pool.defaultModel);
      return true;
    }
    return false;
  }
  // Threads are conversations only when /chat made them; a DM always is one.
  if (!conversation && !inDm) return false;
  const files = attachmentMetas(message.attachments.values());
  if (!text && files.length === 0) return true;
  const model = conversation?.model ?? ctx.pool.defaultModel;
  const where = await whereFrom(ctx, placeOfMessage(message));
  const admission = await admitWork(ctx, 'chat', {
    userId: message.author.id,
    guildId: message.guildId,
    permissions: message.inGuild() ? (message.member?.permissions ?? null) : null,
    prompt: text,
    model,
    attachments: files,
    where,
  });
  if (!admission.ok) {
    await tell(admission.failure);
    return true;
  }
  const { work } = admission;
  try {
    if (!conversation) await ctx.conversations.start(id, { model, ownerId: message.author.id });
    const sendable = channel as SendableChannels;
    // Typing is a courtesy: its failure must not stop the answer.
    void sendable.sendTyping().catch(() => undefined);
    const said = {
      author: displayNameOf(message.member, message.author),
      text,
      files,
      systemInstruction: systemInstructionFor(ctx.config.bot.systemPrompt, where.settings),
      search: where.settings.search,
    };
    await ctx.conversations.withLock(id, () => work.run(() => converse(ctx, id, said, channelSink(sendable, message), work)));
  } catch (err) {
    if (!isConversationStoreError(err)) throw err;
    await storeAway(err, model);
  } finally {
    work.release();
  }
  return true;
}
