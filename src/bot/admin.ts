/**
 * Status and admin replies: reports from the pool rendered as embeds (see `render.ts`),
 * sent as one reply plus follow-ups when they do not fit one message.
 */
import { MessageFlags } from 'discord.js';
import type { APIEmbed, RepliableInteraction } from 'discord.js';
import { NO_MENTIONS, renderKeyStats, renderPoolStats, renderStatus, type GatewayUsage, type StatusView } from './render.ts';
import { TokenRegistry } from '../gateway/tokens.ts';
import { refusal, replyFailure } from './admission.ts';
import type { BotContext } from './types.ts';
import { STATS_RESET_TEXT, poolResetText, resetPoolKeyText } from './userText.ts';

/** Sends pages of embeds: the first as the reply, the others as follow-ups. */
export async function sendEmbedPages(interaction: RepliableInteraction, pages: readonly APIEmbed[][], ephemeral: boolean): Promise<void> {
  const flags = ephemeral ? { flags: MessageFlags.Ephemeral as const } : {};
  const [first, ...rest] = pages;
  await interaction.reply({ embeds: first ?? [], allowedMentions: NO_MENTIONS, ...flags });
  for (const embeds of rest) await interaction.followUp({ embeds, allowedMentions: NO_MENTIONS, ...flags });
}

/** What `/status` shows: counts only, no key ids or hints. */
export function statusView(ctx: BotContext): StatusView {
  const t = ctx.pool.getKeyStats().totals;
  return {
    models: ctx.config.gemini.models,
    keys: { active: t.active, cooling: t.cooling, disabled: t.disabled },
    queue: { running: ctx.gate.running, waiting: ctx.gate.waiting },
    poolWaiting: ctx.pool.getPoolStats().waiting,
  };
}

/** `/status`: an ephemeral embed for anyone. */
export async function showStatus(interaction: RepliableInteraction, ctx: BotContext): Promise<void> {
  await sendEmbedPages(interaction, [[renderStatus(statusView(ctx))]], true);
}

/**
 * What the gateway's client tokens used, summed: today and in total. Undefined when there
 * is no token, or when the store cannot say (the key statistics still show).
 */
export async function gatewayUsage(ctx: BotContext): Promise<GatewayUsage | undefined> {
  try {
    const tokens = await new TokenRegistry(ctx.store).list();
    if (tokens.length === 0) return undefined;
    const sum = (pick: (t: (typeof tokens)[number]) => { requests: number; tokens: number; errors: number }) =>
      tokens.reduce((a, t) => ({ requests: a.requests + pick(t).requests, tokens: a.tokens + pick(t).tokens, errors: a.errors + pick(t).errors }), { requests: 0, tokens: 0, errors: 0 });
    return { clients: tokens.filter((t) => t.status === 'active').length, today: sum((t) => t.today), total: sum((t) => t.total) };
  } catch (err) {
    ctx.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not read the gateway clients\' usage');
    return undefined;
  }
}

/** `/api-key-stats`: ephemeral embeds, paged when there are many keys; the gateway's clients in the totals. */
export async function showKeyStats(interaction: RepliableInteraction, ctx: BotContext): Promise<void> {
  await sendEmbedPages(interaction, renderKeyStats(ctx.pool.getKeyStats(), await gatewayUsage(ctx)), true);
}

/** `/pool-stats [model]`: ephemeral embeds per model. */
export async function showPoolStats(interaction: RepliableInteraction, ctx: BotContext, model: string | undefined): Promise<void> {
  const refused = refusal(ctx, { userId: interaction.user.id, model });
  if (refused) {
    await replyFailure(interaction, refused);
    return;
  }
  await sendEmbedPages(interaction, renderPoolStats(ctx.pool.getPoolStats(), model), true);
}

/** `/reset-pool [model]`: rebuilds instances; cooldowns and disabled keys stay. */
export async function resetPool(
  interaction: RepliableInteraction,
  ctx: BotContext,
  options: { model?: string | undefined; clearCooldowns?: boolean; keyNumber?: number | undefined },
): Promise<void> {
  const { model, clearCooldowns = false, keyNumber } = options;
  const refused = refusal(ctx, { userId: interaction.user.id, model });
  if (refused) {
    await replyFailure(interaction, refused);
    return;
  }
  // Numbers of keys removed at runtime are never reused, so the keys in use may have gaps.
  const ids = ctx.pool.keys.map((k) => k.id);
  if (keyNumber !== undefined && (!clearCooldowns || !ids.includes(`key#${keyNumber}`))) {
    await interaction.reply({ content: resetPoolKeyText(keyNumber, ids, clearCooldowns), flags: MessageFlags.Ephemeral, allowedMentions: NO_MENTIONS });
    return;
  }
  ctx.pool.resetPool(model);
  const cleared = clearCooldowns ? ctx.pool.clearCooldowns(keyNumber === undefined ? undefined : keyNumber - 1, model) : undefined;
  ctx.logger.info({ model: model ?? 'all', by: interaction.user.id, cooldownsCleared: cleared }, 'pool reset by an admin');
  await interaction.reply({ content: poolResetText(model, cleared), flags: MessageFlags.Ephemeral, allowedMentions: NO_MENTIONS });
}

/** `/reset-api-stats`: clears usage, error and latency counters. */
export async function resetStats(interaction: RepliableInteraction, ctx: BotContext): Promise<void> {
  ctx.pool.resetStats();
  ctx.logger.info({ by: interaction.user.id }, 'statistics reset by an admin');
  await interaction.reply({ content: STATS_RESET_TEXT, flags: MessageFlags.Ephemeral, allowedMentions: NO_MENTIONS });
}
