/** `/chat prompt [model] [attachment]`: a conversation in a new thread (or in this DM). */
import { InteractionContextType, SlashCommandBuilder } from 'discord.js';
import { startChat } from '../src/bot/chat.ts';
import { attachmentOption } from '../src/bot/attachments.ts';
import type { Command } from '../src/bot/types.ts';

export default {
  data: new SlashCommandBuilder()
    .setName('chat')
    .setDescription('Start a conversation: a thread where every message continues it.')
    .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM)
    // Its longest length is MAX_PROMPT_CHARS, set at registration.
    .addStringOption((o) => o.setName('prompt').setDescription('What to talk about').setRequired(true))
    // Choices are the configured models, filled in at registration.
    .addStringOption((o) => o.setName('model').setDescription('Which model answers (default: the first configured)'))
    .addAttachmentOption((o) => o.setName('attachment').setDescription('An image, PDF or text file to talk about')),
  async execute(interaction, ctx) {
    await startChat(interaction, ctx, {
      prompt: interaction.options.getString('prompt', true),
      model: interaction.options.getString('model') ?? undefined,
      attachments: attachmentOption(interaction),
    });
  },
} satisfies Command;
