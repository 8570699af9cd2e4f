/** "Ask Gemini about this" (a message's *Apps* menu): an answer about that message, its text and files as the subject. */
import { ApplicationCommandType, ContextMenuCommandBuilder, InteractionContextType } from 'discord.js';
import { runAboutMessage } from '../src/bot/answer.ts';
import type { Command } from '../src/bot/types.ts';

export default {
  data: new ContextMenuCommandBuilder()
    .setName('Ask Gemini about this')
    .setType(ApplicationCommandType.Message)
    .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM),
  menu: (interaction, ctx) => runAboutMessage(interaction, ctx),
} satisfies Command;
