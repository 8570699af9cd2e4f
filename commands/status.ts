/** `/status`: models served, keys by state (counts only), queue length. For everyone. */
import { InteractionContextType, SlashCommandBuilder } from 'discord.js';
import { showStatus } from '../src/bot/admin.ts';
import type { Command } from '../src/bot/types.ts';

export default {
  data: new SlashCommandBuilder()
    .setName('status')
    .setDescription('Is the bot healthy? Models, keys available and queue length.')
    .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM),
  execute: (interaction, ctx) => showStatus(interaction, ctx),
} satisfies Command;
