/**
 * `/reset-pool [model] [clear-cooldowns] [key]` (admin): rebuilds the instances of one model
 * or of all; with `clear-cooldowns`, also ends the cooldowns (of one key and its project, or of all).
 */
import { InteractionContextType, PermissionFlagsBits, SlashCommandBuilder } from 'discord.js';
import { resetPool } from '../src/bot/admin.ts';
import type { Command } from '../src/bot/types.ts';

export default {
  data: new SlashCommandBuilder()
    .setName('reset-pool')
    .setDescription('Admin: rebuild the instance pool (of one model, or all).')
    .setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild)
    .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM)
    // Choices are the configured models, filled in at registration.
    .addStringOption((o) => o.setName('model').setDescription('Only this model'))
    .addBooleanOption((o) =>
      o.setName('clear-cooldowns').setDescription('Also end cooldowns now (a wrong cooldown; the known quota limits still hold)'),
    )
    .addIntegerOption((o) => o.setName('key').setDescription('With clear-cooldowns: only key#N (and the keys of its project)').setMinValue(1)),
  adminOnly: true,
  execute: (interaction, ctx) =>
    resetPool(interaction, ctx, {
      model: interaction.options.getString('model') ?? undefined,
      clearCooldowns: interaction.options.getBoolean('clear-cooldowns') ?? false,
      keyNumber: interaction.options.getInteger('key') ?? undefined,
    }),
} satisfies Command;
