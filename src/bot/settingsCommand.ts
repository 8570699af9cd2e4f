/**
 * `/settings show | set | reset` (Manage Server): reads and changes this server's settings
 * (see `settings.ts`). A change names channels and roles as Discord writes them (`<#id>`,
 * `<@&id>`) or by id; anything that is not a channel or role of this server, or a model the
 * bot does not serve, changes nothing and is named in the reply.
 */
import { MessageFlags } from 'discord.js';
import type { APIEmbed, ChatInputCommandInteraction } from 'discord.js';
import { NO_MENTIONS } from './render.ts';
import { SETTING_NAMES, type SettingName, type StoredGuildSettings } from './settings.ts';
import type { BotContext } from './types.ts';
import { SETTINGS_DM_TEXT, SETTINGS_SAVED_TEXT, SETTINGS_TITLE, settingsLines, settingsProblemText } from './userText.ts';

/** Ids written in an option: `<#1>`, `<@&2>` or plain ids, separated by spaces or commas. */
export function idsIn(text: string): string[] {
  return [...new Set([...text.matchAll(/\d{5,25}/g)].map((m) => m[0]))];
}

/** The ids of `text` that `known` does not have, as the reply names them. */
function unknownIds(ids: readonly string[], known: ((id: string) => boolean) | undefined): string[] {
  return known ? ids.filter((id) => !known(id)) : [];
}

/** What `/settings set` asks for, checked against this server and the served models. */
function parseSet(interaction: ChatInputCommandInteraction<'cached' | 'raw'>, ctx: BotContext): { set: Partial<StoredGuildSettings>; reset: SettingName[]; problems: string[] } {
  const o = interaction.options;
  const set: Partial<StoredGuildSettings> = {};
  const reset: SettingName[] = [];
  const problems: string[] = [];
  const persona = o.getString('persona');
  if (persona !== null) set.persona = persona.trim();
  const model = o.getString('model');
  if (model !== null) {
    if (ctx.config.gemini.models.includes(model)) set.model = model;
    else problems.push(`model ${model} is not served here (available: ${ctx.config.gemini.models.join(', ')})`);
  }
  const guild = interaction.inCachedGuild() ? interaction.guild : undefined;
  const channels = o.getString('channels');
  if (channels !== null) {
    const ids = idsIn(channels);
    if (/^\s*all\s*$/i.test(channels)) reset.push('channels');
    else if (ids.length === 0) problems.push('`channels` takes channels (#name) or "all"');
    else {
      const unknown = unknownIds(ids, guild && ((id) => guild.channels.cache.has(id)));
      if (unknown.length > 0) problems.push(`not channels of this server: ${unknown.join(', ')}`);
      else set.channels = ids;
    }
  }
  const roles = o.getString('roles');
  if (roles !== null) {
    const ids = idsIn(roles);
    if (/^\s*@?everyone\s*$/i.test(roles)) reset.push('roles');
    else if (ids.length === 0) problems.push('`roles` takes roles (@name) or "everyone"');
    else {
      const unknown = unknownIds(ids, guild && ((id) => guild.roles.cache.has(id)));
      if (unknown.length > 0) problems.push(`not roles of this server: ${unknown.join(', ')}`);
      else set.roles = ids;
    }
  }
  const mentions = o.getBoolean('mentions');
  if (mentions !== null) set.mentions = mentions;
  const allowPrivate = o.getBoolean('private');
  if (allowPrivate !== null) set.allowPrivate = allowPrivate;
  const search = o.getBoolean('search');
  if (search !== null) set.search = search;
  return { set, reset, problems };
}

/** The ephemeral embed of a server's settings. */
async function settingsEmbed(ctx: BotContext, guildId: string, title: string): Promise<APIEmbed> {
  const s = await ctx.settings.forGuild(guildId);
  return {
    title,
    color: 0x5865f2,
    description: settingsLines({ ...s, defaultModel: ctx.pool.defaultModel }).join('\n'),
  };
}

/** Runs `/settings`. Admin-only: the dispatcher has checked Manage Server (or ADMIN_USER_IDS). */
export async function runSettings(interaction: ChatInputCommandInteraction, ctx: BotContext): Promise<void> {
  const reply = (body: { content?: string; embeds?: APIEmbed[] }) => interaction.reply({ ...body, flags: MessageFlags.Ephemeral, allowedMentions: NO_MENTIONS });
  if (!interaction.inGuild()) {
    await reply({ content: SETTINGS_DM_TEXT });
    return;
  }
  const guildId = interaction.guildId;
  const sub = interaction.options.getSubcommand();
  if (sub === 'show') {
    await reply({ embeds: [await settingsEmbed(ctx, guildId, SETTINGS_TITLE)] });
    return;
  }
  let set: Partial<StoredGuildSettings> = {};
  let reset: SettingName[];
  if (sub === 'reset') {
    const which = interaction.options.getString('setting');
    reset = which && (SETTING_NAMES as readonly string[]).includes(which) ? [which as SettingName] : [...SETTING_NAMES];
  } else {
    const parsed = parseSet(interaction, ctx);
    if (parsed.problems.length > 0) {
      await reply({ content: settingsProblemText(parsed.problems) });
      return;
    }
    ({ set, reset } = parsed);
  }
  await ctx.settings.change(guildId, set, reset);
  ctx.logger.info({ guildId, by: interaction.user.id, set: Object.keys(set), reset }, 'server settings changed');
  await reply({ content: SETTINGS_SAVED_TEXT, embeds: [await settingsEmbed(ctx, guildId, SETTINGS_TITLE)] });
}
