/**
 * Every message the bot can read goes here: in a DM or a `/chat` thread it continues that
 * conversation (`chat.ts`); anywhere else it may be a mention or a reply to the bot
 * (`mentions.ts`). The bot's own messages, other bots and system messages are ignored.
 */
import type { Message } from 'discord.js';
import { onChatMessage } from './chat.ts';
import { answerMention } from './mentions.ts';
import type { BotContext } from './types.ts';

/** Routes one message; never answers a bot. */
export async function onMessage(message: Message, ctx: BotContext): Promise<void> {
  if (message.author.bot || message.system || message.author.id === message.client.user.id) return;
  if (await onChatMessage(message, ctx)) return;
  await answerMention(message, ctx);
}
