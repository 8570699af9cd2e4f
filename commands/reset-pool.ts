/** `/reset-pool [model]` (admin): rebuilds the instances of one model or of all. */
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
    .addStringOption((o) => o.setName('model').setDescription('Only this model')),
  adminOnly: true,
  execute: (interaction, ctx) => resetPool(interaction, ctx, interaction.options.getString('model') ?? undefined),
} satisfies Command;
