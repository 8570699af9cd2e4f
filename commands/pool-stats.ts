/** `/pool-stats [model]` (admin): instances per model, their state, usage and keys. */
import { InteractionContextType, PermissionFlagsBits, SlashCommandBuilder } from 'discord.js';
import { showPoolStats } from '../src/bot/admin.ts';
import type { Command } from '../src/bot/types.ts';

export default {
  data: new SlashCommandBuilder()
    .setName('pool-stats')
    .setDescription('Admin: the instance pool of each model.')
    .setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild)
    .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM)
    // Choices are the configured models, filled in at registration.
    .addStringOption((o) => o.setName('model').setDescription('Only this model')),
  adminOnly: true,
  execute: (interaction, ctx) => showPoolStats(interaction, ctx, interaction.options.getString('model') ?? undefined),
} satisfies Command;
