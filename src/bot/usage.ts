/**
 * `/usage` (admin): who used the bot today (Google's day, since midnight Pacific): the top
 * users and servers by requests, as the store counts them for every process, with the
 * limits they are held to.
 */
import type { APIEmbed, RepliableInteraction } from 'discord.js';
import { pacificDay } from '../pool/time.ts';
import type { ClientUsage } from '../store/gatewayTypes.ts';
import { sendEmbedPages } from './admin.ts';
import { truncate } from './render.ts';
import type { BotContext } from './types.ts';

/** Lines per list: an embed description holds them with room to spare. */
export const USAGE_TOP = 10;

/** What `/usage` shows. */
export interface UsageView {
  day: string;
  users: Array<{ id: string } & ClientUsage>;
  /** `name`: the server's name when the bot knows it. */
  guilds: Array<{ id: string; name?: string | undefined } & ClientUsage>;
  limits: { userRpm?: number | undefined; userDailyRequests?: number | undefined; guildDailyRequests?: number | undefined; exemptAdmins: boolean };
}

const count = (n: number): string => n.toLocaleString('en-US');

/** One line of a list: who, requests, tokens, failed requests. */
function line(rank: number, who: string, u: ClientUsage): string {
  const errors = u.errors > 0 ? ` · ${count(u.errors)} failed` : '';
  return `${rank}. ${who}: **${count(u.requests)}** request${u.requests === 1 ? '' : 's'} · ${count(u.tokens)} tokens${errors}`;
}

/** The `/usage` embed. User mentions in an embed never ping. */
export function renderUsage(v: UsageView): APIEmbed {
  const users = v.users.map((u, i) => line(i + 1, `<@${u.id}>`, u));
  const guilds = v.guilds.map((g, i) => line(i + 1, g.name ? `${truncate(g.name, 60)} (${g.id})` : g.id, g));
  const l = v.limits;
  const held = [
    l.userRpm !== undefined ? `${count(l.userRpm)} a minute per user` : undefined,
    l.userDailyRequests !== undefined ? `${count(l.userDailyRequests)} a day per user` : undefined,
    l.guildDailyRequests !== undefined ? `${count(l.guildDailyRequests)} a day per server` : undefined,
  ].filter(Boolean);
  const limits = held.length > 0 ? `Limits: ${held.join(', ')}${l.exemptAdmins ? ' (admins exempt)' : ''}.` : 'No per-user or per-server limits are set.';
  return {
    title: `📊 Usage today (${v.day}, since midnight Pacific time)`,
    color: 0x3498db,
    description: [
      '**Top users**',
      ...(users.length > 0 ? users : ['Nobody has asked anything today.']),
      '',
      '**Top servers**',
      ...(guilds.length > 0 ? guilds : ['No server has asked anything today.']),
      '',
      `-# ${limits}`,
    ].join('\n'),
  };
}

/** Today's top users and servers from the store. */
export async function usageView(ctx: BotContext, guildName: (id: string) => string | undefined, now = Date.now()): Promise<UsageView> {
  const day = pacificDay(now);
  const [users, guilds] = await Promise.all([ctx.store.topClients(day, 'discord:user:', USAGE_TOP), ctx.store.topClients(day, 'discord:guild:', USAGE_TOP)]);
  const idOf = (client: string): string => client.slice(client.lastIndexOf(':') + 1);
  return {
    day,
    users: users.map(({ client, ...u }) => ({ id: idOf(client), ...u })),
    guilds: guilds.map(({ client, ...u }) => ({ id: idOf(client), name: guildName(idOf(client)), ...u })),
    limits: ctx.config.bot.clientLimits,
  };
}

/** `/usage`: an ephemeral embed for admins. */
export async function showUsage(interaction: RepliableInteraction, ctx: BotContext): Promise<void> {
  // What this process counted but has not written yet belongs in the list too.
  await ctx.limits.flush();
  const view = await usageView(ctx, (id) => interaction.client.guilds.cache.get(id)?.name);
  await sendEmbedPages(interaction, [[renderUsage(view)]], true);
}
