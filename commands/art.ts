/** `/art topic`: an artistic description of a topic in a purple embed. */
import { InteractionContextType, SlashCommandBuilder } from 'discord.js';
import { runArt } from '../src/bot/answer.ts';
import type { Command } from '../src/bot/types.ts';

export default {
  data: new SlashCommandBuilder()
    .setName('art')
    .setDescription('An artistic description of a topic, as if it were a painting.')
    .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM)
    .addStringOption((o) => o.setName('topic').setDescription('What to describe').setRequired(true).setMaxLength(200)),
  execute: (interaction, ctx) => runArt(interaction, ctx, interaction.options.getString('topic', true)),
} satisfies Command;
