/** `/chat-end` (or the thread's "End conversation" button): ends the conversation here. */
import { InteractionContextType, SlashCommandBuilder } from 'discord.js';
import { endChat } from '../src/bot/chat.ts';
import type { Command } from '../src/bot/types.ts';

export default {
  data: new SlashCommandBuilder()
    .setName('chat-end')
    .setDescription('End the conversation in this thread or DM.')
    .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM),
  execute: (interaction, ctx) => endChat(interaction, ctx),
  button: (interaction, ctx) => endChat(interaction, ctx),
} satisfies Command;
