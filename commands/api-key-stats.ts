/** `/api-key-stats` (admin): per key state, usage, errors, timing and today's requests; totals. */
import { InteractionContextType, PermissionFlagsBits, SlashCommandBuilder } from 'discord.js';
import { showKeyStats } from '../src/bot/admin.ts';
import type { Command } from '../src/bot/types.ts';

export default {
  data: new SlashCommandBuilder()
    .setName('api-key-stats')
    .setDescription('Admin: statistics of every API key (shown as key#N).')
    .setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild)
    .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM),
  adminOnly: true,
  execute: (interaction, ctx) => showKeyStats(interaction, ctx),
} satisfies Command;
