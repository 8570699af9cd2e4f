/** `/reset-api-stats` (admin): clears usage, error and latency counters. */
import { InteractionContextType, PermissionFlagsBits, SlashCommandBuilder } from 'discord.js';
import { resetStats } from '../src/bot/admin.ts';
import type { Command } from '../src/bot/types.ts';

export default {
  data: new SlashCommandBuilder()
    .setName('reset-api-stats')
    .setDescription('Admin: clear the usage and error counters of every key.')
    .setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild)
    .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM),
  adminOnly: true,
  execute: (interaction, ctx) => resetStats(interaction, ctx),
} satisfies Command;
