/**
 * `/settings show | set | reset` (admin): this server's persona, default model, channels,
 * mentions, private answers, allowed roles and search default.
 */
import { InteractionContextType, PermissionFlagsBits, SlashCommandBuilder } from 'discord.js';
import { MAX_PERSONA_CHARS, SETTING_NAMES } from '../src/bot/settings.ts';
import { runSettings } from '../src/bot/settingsCommand.ts';
import type { Command } from '../src/bot/types.ts';

export default {
  data: new SlashCommandBuilder()
    .setName('settings')
    .setDescription('Admin: how the bot behaves on this server.')
    .setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild)
    .setContexts(InteractionContextType.Guild)
    .addSubcommand((s) => s.setName('show').setDescription("Show this server's settings"))
    .addSubcommand((s) =>
      s
        .setName('set')
        .setDescription('Change settings (only the options you give)')
        .addStringOption((o) => o.setName('persona').setDescription('Persona / system prompt for this server').setMaxLength(MAX_PERSONA_CHARS))
        // Choices are the configured models, filled in at registration.
        .addStringOption((o) => o.setName('model').setDescription('Default model on this server'))
        .addStringOption((o) => o.setName('channels').setDescription('Channels the bot answers in: #one #two, or "all"'))
        .addBooleanOption((o) => o.setName('mentions').setDescription('Answer @mentions and replies to the bot'))
        .addBooleanOption((o) => o.setName('private').setDescription('Members may ask for private answers'))
        .addStringOption((o) => o.setName('roles').setDescription('Roles that may use the bot: @one @two, or "everyone"'))
        .addBooleanOption((o) => o.setName('search').setDescription('Search Google by default')),
    )
    .addSubcommand((s) =>
      s
        .setName('reset')
        .setDescription('Back to the default')
        .addStringOption((o) =>
          o
            .setName('setting')
            .setDescription('Which one (default: all)')
            .addChoices(...SETTING_NAMES.map((n) => ({ name: n, value: n }))),
        ),
    ),
  adminOnly: true,
  execute: (interaction, ctx) => runSettings(interaction, ctx),
} satisfies Command;
