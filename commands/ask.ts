/** `/ask prompt [model] [temperature] [private] [attachment] [search] [thinking]`: one streamed answer. */
import { InteractionContextType, SlashCommandBuilder } from 'discord.js';
import { runAsk } from '../src/bot/answer.ts';
import { onAnswerButton } from '../src/bot/answerButtons.ts';
import { attachmentOption } from '../src/bot/attachments.ts';
import type { Command } from '../src/bot/types.ts';
import { THINKING_LEVELS } from '../src/pool/types.ts';

export default {
  data: new SlashCommandBuilder()
    .setName('ask')
    .setDescription('Ask Gemini a question; the answer streams in.')
    .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM)
    // Its longest length is MAX_PROMPT_CHARS, set at registration.
    .addStringOption((o) => o.setName('prompt').setDescription('Your question or request').setRequired(true))
    // Choices are the configured models, filled in at registration.
    .addStringOption((o) => o.setName('model').setDescription('Which model answers (default: the first configured)'))
    .addNumberOption((o) => o.setName('temperature').setDescription('Creativity, 0 (focused) to 2 (wild)').setMinValue(0).setMaxValue(2))
    .addBooleanOption((o) => o.setName('private').setDescription('Only you see the answer'))
    .addAttachmentOption((o) => o.setName('attachment').setDescription('An image, PDF or text file to ask about'))
    .addBooleanOption((o) => o.setName('search').setDescription('Search Google and cite the sources under the answer'))
    .addStringOption((o) =>
      o
        .setName('thinking')
        .setDescription('How much the model may think before it answers')
        .addChoices(...THINKING_LEVELS.map((level) => ({ name: level, value: level }))),
    ),
  async execute(interaction, ctx) {
    await runAsk(interaction, ctx, {
      prompt: interaction.options.getString('prompt', true),
      model: interaction.options.getString('model') ?? undefined,
      temperature: interaction.options.getNumber('temperature') ?? undefined,
      ephemeral: interaction.options.getBoolean('private') ?? false,
      attachments: attachmentOption(interaction),
      search: interaction.options.getBoolean('search') ?? undefined,
      thinking: THINKING_LEVELS.find((level) => level === interaction.options.getString('thinking')),
    });
  },
  // Stop and Regenerate under answers (of /ask, mentions and the message menu).
  button: (interaction, ctx) => onAnswerButton(interaction, ctx),
} satisfies Command;
