/**
 * Status and admin replies: reports from the pool rendered as embeds (see `render.ts`),
 * sent as one reply plus follow-ups when they do not fit one message.
 */
import { MessageFlags } from 'discord.js';
import type { APIEmbed, RepliableInteraction } from 'discord.js';
import { NO_MENTIONS, renderKeyStats, renderPoolStats, renderStatus, type StatusView } from './render.ts';
import type { BotContext } from './types.ts';
import { replyFailure } from './answer.ts';

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
    models: ctx.pool.models,
    keys: { active: t.active, cooling: t.cooling, disabled: t.disabled },
    queue: { running: ctx.gate.running, waiting: ctx.gate.waiting },
    poolWaiting: ctx.pool.getPoolStats().waiting,
  };
}

/** `/status`: an ephemeral embed for anyone. */
export async function showStatus(interaction: RepliableInteraction, ctx: BotContext): Promise<void> {
  await sendEmbedPages(interaction, [[renderStatus(statusView(ctx))]], true);
}

/** `/api-key-stats`: ephemeral embeds, paged when there are many keys. */
export async function showKeyStats(interaction: RepliableInteraction, ctx: BotContext): Promise<void> {
  await sendEmbedPages(interaction, renderKeyStats(ctx.pool.getKeyStats()), true);
}

/** `/pool-stats [model]`: ephemeral embeds per model. */
export async function showPoolStats(interaction: RepliableInteraction, ctx: BotContext, model: string | undefined): Promise<void> {
  if (model !== undefined && !ctx.pool.models.includes(model)) {
    await replyFailure(interaction, { kind: 'bad_request', message: `model ${model} is not served here (available: ${ctx.pool.models.join(', ')})` });
    return;
  }
  await sendEmbedPages(interaction, renderPoolStats(ctx.pool.getPoolStats(), model), true);
}

/** `/reset-pool [model]`: rebuilds instances; cooldowns and disabled keys stay. */
export async function resetPool(interaction: RepliableInteraction, ctx: BotContext, model: string | undefined): Promise<void> {
  if (model !== undefined && !ctx.pool.models.includes(model)) {
    await replyFailure(interaction, { kind: 'bad_request', message: `model ${model} is not served here (available: ${ctx.pool.models.join(', ')})` });
    return;
  }
  ctx.pool.resetPool(model);
  ctx.logger.info({ model: model ?? 'all', by: interaction.user.id }, 'pool reset by an admin');
  await interaction.reply({
    content: `♻️ Pool rebuilt for ${model ? `\`${model}\`` : 'every model'}. Cooldowns and disabled keys stay: they are Google's answers.`,
    flags: MessageFlags.Ephemeral,
    allowedMentions: NO_MENTIONS,
  });
}

/** `/reset-api-stats`: clears usage, error and latency counters. */
export async function resetStats(interaction: RepliableInteraction, ctx: BotContext): Promise<void> {
  ctx.pool.resetStats();
  ctx.logger.info({ by: interaction.user.id }, 'statistics reset by an admin');
  await interaction.reply({
    content: '🧹 Usage, error and latency counters cleared. Today\'s request counts stay: they mirror Google\'s daily quota.',
    flags: MessageFlags.Ephemeral,
    allowedMentions: NO_MENTIONS,
  });
}
