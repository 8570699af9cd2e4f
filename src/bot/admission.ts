/**
 * Admission: the one place that decides whether a request may start now, and tells the
 * user why not. {@link refusal} is the decision, in this order: the bot is stopping; an
 * admin command from someone who is not an admin; a DM when DMS is off; a channel or a role
 * the server's settings leave out; a private answer the server does not allow; a prompt over
 * MAX_PROMPT_CHARS; a model this bot does not serve; files it cannot read or that are too big. {@link admit} adds the gate for Gemini work: the user already
 * has a request running, or the waiting line is full. Slash commands, buttons and chat
 * messages all go through these; only the way the user is told differs
 * ({@link replyFailure} for interactions, a reply for messages).
 */
import { MessageFlags } from 'discord.js';
import type { ButtonInteraction, ChatInputCommandInteraction, MessageContextMenuCommandInteraction, RepliableInteraction } from 'discord.js';
import type { AttachmentMeta } from './attachments.ts';
import { errorSummary } from './errors.ts';
import { channelAllowed, roleAllowed, type GuildSettings, type RequestPlace } from './settings.ts';
import type { Ticket } from './gate.ts';
import { isConversationStoreError } from './conversations.ts';
import { NO_MENTIONS } from './render.ts';
import { isMenuCommand, type BotContext, type Command, type Requester } from './types.ts';
import { failureText, modelNotServed, type Failure } from './userText.ts';

/** What a request asks to do, as far as admission cares. */
export interface AdmissionRequest {
  userId: string;
  /** Set for admin commands: the member's permissions (null in DMs). */
  admin?: Requester['permissions'];
  /** Gemini work: the prompt, checked against MAX_PROMPT_CHARS. */
  prompt?: string;
  /** A model asked for by name, checked against the served ones. */
  model?: string | undefined;
  /** Files sent with the prompt: readable types, MAX_ATTACHMENT_MB, what one request carries. */
  attachments?: readonly AttachmentMeta[];
  /** Gemini work: where it comes from, and the settings there (DMS, a server's channels and roles). */
  where?: Where;
  /** Asks for a private answer (a server may not allow them). */
  private?: boolean;
}

/** Where a request comes from and the settings that hold there. */
export interface Where {
  place: RequestPlace;
  settings: GuildSettings;
}

/** The settings of the server a request comes from (the defaults in a DM). Never throws. */
export async function whereFrom(ctx: BotContext, place: RequestPlace): Promise<Where> {
  return { place, settings: await ctx.settings.forGuild(place.guildId) };
}

/** Why `request` may not start now, or undefined when it may. The only place that decides. */
export function refusal(ctx: BotContext, request: AdmissionRequest): Failure | undefined {
  if (ctx.lifecycle.stopping) return { kind: 'shutting_down' };
  if (request.admin !== undefined && !ctx.isAdmin({ userId: request.userId, permissions: request.admin })) return { kind: 'not_admin' };
  const where = request.where;
  if (where && where.place.guildId === null && !ctx.config.bot.dms) return { kind: 'dms_off' };
  if (where && !channelAllowed(where.settings, where.place)) return { kind: 'channel_not_allowed', channels: where.settings.channels ?? [] };
  if (where && !roleAllowed(where.settings, where.place)) return { kind: 'role_not_allowed' };
  if (where && request.private && !where.settings.allowPrivate) return { kind: 'private_not_allowed' };
  const maxPromptChars = ctx.config.bot.maxPromptChars;
  if (request.prompt !== undefined && request.prompt.length > maxPromptChars) {
    return { kind: 'prompt_too_long', promptChars: request.prompt.length, maxPromptChars };
  }
  // The chat models: the pool also serves embedding models, which the bot does not offer.
  const chatModels = ctx.config.gemini.models;
  if (request.model !== undefined && !chatModels.includes(request.model)) return modelNotServed(request.model, chatModels);
  if (request.attachments && request.attachments.length > 0) return ctx.attachments.refusal(request.attachments);
  return undefined;
}

/** The answer of {@link admit}: a gate ticket to run the work with, or why not. */
export type Admission = { ok: true; ticket: Ticket } | { ok: false; failure: Failure };

/**
 * Admits Gemini work: {@link refusal}, then a slot in the gate (one request per user, a
 * bounded waiting line). A refusal is counted in the metrics under `command`. The caller
 * must `release()` an admitted ticket in a `finally` (a no-op once run).
 */
export function admit(ctx: BotContext, command: string, request: AdmissionRequest & { prompt: string }): Admission {
  let failure = refusal(ctx, request);
  if (!failure) {
    const gated = ctx.gate.admit(request.userId);
    if (gated.ok) return gated;
    failure = { kind: gated.reason };
  }
  // A label only from the configured list: user input must not grow the metric's series.
  const model = request.model === undefined ? ctx.pool.defaultModel : ctx.config.gemini.models.includes(request.model) ? request.model : 'unknown';
  ctx.metrics.observe({ command, model, outcome: failure.kind, latencyMs: 0 });
  return { ok: false, failure };
}

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

/**
 * Admits an interaction's Gemini work ({@link admit}), then defers the reply within
 * Discord's 3 seconds. Returns the ticket to run the work with, or undefined when the
 * user was already told why not.
 */
export async function admitInteraction(
  interaction: RepliableInteraction,
  ctx: BotContext,
  options: { prompt: string; ephemeral: boolean; model?: string | undefined; attachments?: readonly AttachmentMeta[]; where?: Where },
): Promise<Ticket | undefined> {
  const command = interaction.isChatInputCommand() ? interaction.commandName : 'other';
  const admission = admit(ctx, command, {
    userId: interaction.user.id,
    prompt: options.prompt,
    model: options.model,
    ...(options.attachments ? { attachments: options.attachments } : {}),
    ...(options.where ? { where: options.where, private: options.ephemeral } : {}),
  });
  if (!admission.ok) {
    await replyFailure(interaction, admission.failure);
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

/**
 * Runs a routed interaction: refuses it when {@link refusal} says so (stopping, or an admin
 * command from a non-admin), runs its command, and turns any exception into a friendly
 * reply, so users never see "The application did not respond". Never throws.
 */
export async function runInteraction(
  interaction: ChatInputCommandInteraction | MessageContextMenuCommandInteraction | ButtonInteraction,
  command: Command | undefined,
  ctx: BotContext,
): Promise<void> {
  const name = command?.data.name ?? (interaction.isButton() ? interaction.customId : interaction.commandName);
  const log = ctx.logger.child({ command: name, interactionId: interaction.id, userId: interaction.user.id });
  try {
    if (!command) {
      log.warn('interaction for an unknown command');
      await replyFailure(interaction, { kind: 'internal' });
      return;
    }
    const permissions = interaction.inGuild() ? interaction.memberPermissions : null;
    const refused = refusal(ctx, { userId: interaction.user.id, ...(command.adminOnly ? { admin: permissions } : {}) });
    if (refused) {
      if (refused.kind === 'not_admin') log.info('admin command refused');
      await replyFailure(interaction, refused);
      return;
    }
    if (interaction.isButton()) await command.button!(interaction, ctx);
    else if (interaction.isMessageContextMenuCommand() && isMenuCommand(command)) await command.menu(interaction, ctx);
    else if (interaction.isChatInputCommand() && !isMenuCommand(command)) await command.execute(interaction, ctx);
    else throw new Error(`${name} is not a command of this kind`);
  } catch (err) {
    log.error({ err: errorSummary(err) }, 'command failed');
    await replyFailure(interaction, { kind: isConversationStoreError(err) ? 'store_unavailable' : 'internal' }).catch((e: unknown) =>
      log.warn({ err: errorSummary(e) }, 'could not tell the user about the failure'),
    );
  }
}
