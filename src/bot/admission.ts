/**
 * Admission: the one place that decides whether a request may start now, and tells the
 * user why not. {@link refusal} is the decision, in this order: the bot is stopping; an
 * admin command from someone who is not an admin; a DM when DMS is off; a channel or a role
 * the server's settings leave out; a private answer the server does not allow; a prompt over
 * MAX_PROMPT_CHARS; a model this bot does not serve; files it cannot read or that are too
 * big. {@link admit} adds the gate for Gemini work: the user already has a request running,
 * or the waiting line is full. {@link admitWork} then names the request's client and holds
 * the user and their server to their limits (USER_RPM, USER_DAILY_REQUESTS,
 * GUILD_DAILY_REQUESTS). Slash commands, buttons, menu commands and chat messages all go
 * through these; only the way the user is told differs ({@link replyFailure} for
 * interactions, a reply for messages).
 */
import { MessageFlags } from 'discord.js';
import type { ButtonInteraction, ChatInputCommandInteraction, MessageContextMenuCommandInteraction, RepliableInteraction } from 'discord.js';
import type { Limits } from '../limits/clientLimits.ts';
import type { PoolResult } from '../pool/types.ts';
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

/** Where Gemini work is asked for, as far as limits care. */
export interface WorkRequest extends AdmissionRequest {
  prompt: string;
  /** The server; null or absent in a DM. */
  guildId?: string | null | undefined;
  /** The member's permissions (null in DMs): admins are not held to the limits (LIMITS_EXEMPT_ADMINS). */
  permissions?: Requester['permissions'] | undefined;
}

/** Admitted Gemini work: the gate's ticket, the pool's client, and where its use is counted. */
export interface Work extends Ticket {
  /** The pool's client: `discord:guild:ID` in a server (servers share fairly), `discord:user:ID` in a DM. */
  readonly client: string;
  /** Counts what the request used, for the user and the server (once); call it with the pool's result. */
  counted(result: PoolResult): void;
}

/** The pool's client of a request: the server, or the user in a DM. */
export function clientOf(request: { userId: string; guildId?: string | null | undefined }): string {
  return request.guildId ? `discord:guild:${request.guildId}` : `discord:user:${request.userId}`;
}

/** The clients whose limits and usage a request counts in: the user, and the server if any. */
function limitEntries(ctx: BotContext, request: WorkRequest): Array<{ client: string; limits: Limits; scope: 'user' | 'guild' }> {
  const l = ctx.config.bot.clientLimits;
  const user: Limits = {};
  if (l.userRpm !== undefined) user.rpm = l.userRpm;
  if (l.userDailyRequests !== undefined) user.rpd = l.userDailyRequests;
  const entries: Array<{ client: string; limits: Limits; scope: 'user' | 'guild' }> = [{ client: `discord:user:${request.userId}`, limits: user, scope: 'user' }];
  if (request.guildId) entries.push({ client: `discord:guild:${request.guildId}`, limits: l.guildDailyRequests !== undefined ? { rpd: l.guildDailyRequests } : {}, scope: 'guild' });
  return entries;
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

/** The answer of {@link admitWork}. */
export type WorkAdmission = { ok: true; work: Work } | { ok: false; failure: Failure };

/**
 * Admits Gemini work: {@link admit} (refusals, the gate), then the limits of the user and
 * their server, which count the request from now on (admins are exempt with
 * LIMITS_EXEMPT_ADMINS, but their requests still count as usage). A request over a limit
 * is refused with when it may ask again, and counted in the metrics as `over_limit`. The
 * caller runs the work with `work.run`, passes the pool's result to `work.counted`, and
 * must `release()` it in a `finally` (a reservation never counted is given back then).
 */
export async function admitWork(ctx: BotContext, command: string, request: WorkRequest): Promise<WorkAdmission> {
  const gated = admit(ctx, command, request);
  if (!gated.ok) return gated;
  const entries = limitEntries(ctx, request);
  const exempt = ctx.config.bot.clientLimits.exemptAdmins && ctx.isAdmin({ userId: request.userId, permissions: request.permissions ?? null });
  let reserved: string[] = [];
  if (!exempt) {
    let decided: Awaited<ReturnType<BotContext['limits']['admitAll']>>;
    try {
      decided = await ctx.limits.admitAll(entries);
    } catch (err) {
      gated.ticket.release();
      throw err;
    }
    if (!decided.ok) {
      gated.ticket.release();
      const refused = decided;
      const scope = entries.find((e) => e.client === refused.client)!.scope;
      const limitValue = scope === 'guild' ? ctx.config.bot.clientLimits.guildDailyRequests : refused.limit === 'rpm' ? ctx.config.bot.clientLimits.userRpm : ctx.config.bot.clientLimits.userDailyRequests;
      const failure: Failure = {
        kind: 'over_limit',
        limit: scope === 'guild' ? 'guild_day' : refused.limit === 'rpm' ? 'user_minute' : 'user_day',
        retryAfterMs: refused.retryAfterMs,
        ...(limitValue !== undefined ? { limitValue } : {}),
      };
      const model = request.model === undefined ? ctx.pool.defaultModel : request.model;
      ctx.metrics.observe({ command, model, outcome: failure.kind, latencyMs: 0 });
      return { ok: false, failure };
    }
    reserved = entries.filter((e) => e.limits.rpm !== undefined || e.limits.rpd !== undefined || e.limits.tpd !== undefined).map((e) => e.client);
  }
  let settled = false;
  const { ticket } = gated;
  const work: Work = {
    client: clientOf(request),
    run: (task) => ticket.run(task),
    counted(result) {
      if (settled) return;
      settled = true;
      const usage = { requests: 1, tokens: result.ok ? result.usage.totalTokens : 0, errors: result.ok ? 0 : 1 };
      for (const e of entries) ctx.limits.record(e.client, usage);
    },
    release() {
      ticket.release();
      if (settled) return;
      settled = true;
      for (const client of reserved) ctx.limits.release(client);
    },
  };
  return { ok: true, work };
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
 * Admits an interaction's Gemini work ({@link admitWork}), then defers the reply within
 * Discord's 3 seconds. Returns the work to run, or undefined when the user was already told
 * (in a private reply) why not.
 */
export async function admitInteraction(
  interaction: RepliableInteraction,
  ctx: BotContext,
  options: { prompt: string; ephemeral: boolean; model?: string | undefined; attachments?: readonly AttachmentMeta[]; where?: Where },
): Promise<Work | undefined> {
  const command = interaction.isChatInputCommand() ? interaction.commandName : 'other';
  const admission = await admitWork(ctx, command, {
    userId: interaction.user.id,
    guildId: interaction.guildId,
    permissions: interaction.inGuild() ? interaction.memberPermissions : null,
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
    admission.work.release();
    throw err;
  }
  return admission.work;
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
