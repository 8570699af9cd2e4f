/** `/usage` (admin): today's top users and servers, and the limits they are held to. */
import { InteractionContextType, PermissionFlagsBits, SlashCommandBuilder } from 'discord.js';
import type { Command } from '../src/bot/types.ts';
import { showUsage } from '../src/bot/usage.ts';

export default {
  data: new SlashCommandBuilder()
    .setName('usage')
    .setDescription('Admin: today\'s top users and servers (since midnight Pacific time).')
    .setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild)
    .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM),
  adminOnly: true,
  execute: (interaction, ctx) => showUsage(interaction, ctx),
} satisfies Command;
