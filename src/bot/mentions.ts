/**
 * Mentions and replies: in any server channel or thread the bot reads, a message that
 * @mentions it, or replies to one of its messages, is answered as a reply. The conversation
 * is the reply chain, read back from Discord (up to CHAT_HISTORY_TURNS messages): each
 * person's message as `Name: text`, each answer of the bot as the model's turn. Replying to
 * an older answer continues from there, so a chain can branch. Nothing is stored.
 */
import { MessageReferenceType } from 'discord.js';
import type { Message, SendableChannels } from 'discord.js';
import type { ChatPart, ChatTurn } from '../pool/types.ts';
import { admitWork, whereFrom } from './admission.ts';
import { DESCRIBE_THIS_TEXT, attachmentMetas } from './attachments.ts';
import { runControlledAnswer } from './answer.ts';
import { displayNameOf, userTurnText } from './conversations.ts';
import { NO_MENTIONS } from './render.ts';
import { answerTokenBudget, channelSink, showOnly } from './stream.ts';
import { channelAllowed, modelFor, placeOfMessage, systemInstructionFor } from './settings.ts';
import type { BotContext } from './types.ts';
import { failureText } from './userText.ts';

/** One message of a reply chain, as far as the conversation cares. */
export interface ChainMessage {
  /** An answer of the bot (the model's turn), or someone's message. */
  fromBot: boolean;
  /** Display name of the author. */
  author: string;
  text: string;
  /** Its files, as Gemini gets them (or notes for files no longer at hand). */
  files?: ChatPart[];
}

/**
 * Stands in for the question when a chain starts at an answer of the bot (a reply to an
 * `/ask` answer, whose prompt is not in the message): Gemini expects a user turn first.
 */
export const EARLIER_QUESTION_TEXT = '(an earlier question, not shown)';

/** Whether a message @mentions the bot: its user, or the role Discord gives it in a server. */
export function mentionsBot(message: Message, botId: string): boolean {
  return message.mentions.users.has(botId) || message.mentions.roles.some((r) => r.tags?.botId === botId);
}

/**
 * What someone wrote, as the model should read it: the mentions of the bot (`<@id>`, its
 * role `<@&id>`) dropped, other people's mentions written as `@Name`.
 */
export function messageText(content: string, dropIds: ReadonlySet<string>, names: ReadonlyMap<string, string>): string {
  return content
    .replace(/<@[!&]?(\d+)>/g, (whole, id: string) => (dropIds.has(id) ? '' : names.has(id) ? `@${names.get(id)}` : whole))
    .replace(/[ \t]{2,}/g, ' ')
    .trim();
}

/** The text of an answer of the bot without the small lines under it (footer, sources). */
export function answerText(content: string): string {
  const lines = content.split('\n');
  while (lines.length > 0 && (/^-# /.test(lines[lines.length - 1]!) || lines[lines.length - 1]!.trim() === '')) lines.pop();
  return lines.join('\n');
}

/**
 * The turns Gemini gets for a chain (oldest first): people's messages as user turns
 * (`Name: text`), the bot's as model turns. Neighbours of one role become one turn (an
 * answer that took several messages; two people writing in a row), and a chain that starts
 * with an answer gets a stand-in question first.
 */
export function chainTurns(chain: readonly ChainMessage[]): ChatTurn[] {
  const turns: ChatTurn[] = [];
  for (const m of chain) {
    const role = m.fromBot ? 'model' : 'user';
    const text = m.fromBot ? m.text : userTurnText(m.author, m.text);
    const last = turns[turns.length - 1];
    const lastPart = last?.parts[last.parts.length - 1];
    if (last?.role === role && lastPart && 'text' in lastPart) lastPart.text = `${lastPart.text}\n${text}`;
    else if (last?.role === role) last.parts.push({ text });
    else turns.push({ role, parts: [{ text }] });
    turns[turns.length - 1]!.parts.push(...(m.files ?? []));
  }
  if (turns[0]?.role === 'model') turns.unshift({ role: 'user', parts: [{ text: EARLIER_QUESTION_TEXT }] });
  return turns;
}

/** The message `message` replies to, when it is a plain reply in the same channel and still there. */
async function fetchParent(message: Message): Promise<Message | undefined> {
  const ref = message.reference;
  if (!ref?.messageId || ref.type === MessageReferenceType.Forward || ref.channelId !== message.channelId) return undefined;
  try {
    return await message.channel.messages.fetch(ref.messageId);
  } catch {
    // Deleted, or out of reach: the chain ends here.
    return undefined;
  }
}

/**
 * The chain ending with `message`, oldest first, at most `maxMessages` long. When it had to
 * be cut, it starts with a person's message, as a trimmed conversation does.
 */
async function readChain(message: Message, parent: Message | undefined, maxMessages: number): Promise<Message[]> {
  const chain = [message];
  const seen = new Set([message.id]);
  let next = parent;
  for (; next && chain.length < maxMessages && !seen.has(next.id); next = await fetchParent(next)) {
    chain.unshift(next);
    seen.add(next.id);
  }
  const cut = next !== undefined && !seen.has(next.id);
  while (cut && chain.length > 1 && chain[0]!.author.id === message.client.user.id) chain.shift();
  return chain;
}

/** A Discord message as a chain member. */
function chainMessage(m: Message, botId: string): ChainMessage {
  const fromBot = m.author.id === botId;
  if (fromBot) return { fromBot, author: m.author.displayName, text: answerText(m.content) };
  const names = new Map(m.mentions.users.map((u) => [u.id, displayNameOf(m.mentions.members?.get(u.id), u)]));
  const botIds = new Set([botId, ...m.mentions.roles.filter((r) => r.tags?.botId === botId).map((r) => r.id)]);
  return { fromBot, author: displayNameOf(m.member, m.author), text: messageText(m.content, botIds, names) };
}

/**
 * A server message that mentions the bot or replies to one of its answers: answered as a
 * reply, with the reply chain as the conversation. Other messages are left alone. DMs are
 * conversations of their own (see `chat.ts`).
 */
export async function answerMention(message: Message, ctx: BotContext): Promise<void> {
  if (!ctx.config.bot.mentions || !message.inGuild()) return;
  const botId = message.client.user.id;
  const mentioned = mentionsBot(message, botId);
  if (!mentioned && !message.reference?.messageId) return;
  const parent = await fetchParent(message);
  if (!mentioned && parent?.author.id !== botId) return;

  // A server that turned mentions off, or a channel it left out, hears nothing back.
  const where = await whereFrom(ctx, placeOfMessage(message));
  if (!where.settings.mentions || !channelAllowed(where.settings, where.place)) return;
  const self = chainMessage(message, botId);
  const files = attachmentMetas(message.attachments.values());
  const model = modelFor(where.settings, ctx.config.gemini.models, ctx.pool.defaultModel);
  const systemInstruction = systemInstructionFor(ctx.config.bot.systemPrompt, where.settings);
  const admission = await admitWork(ctx, 'mention', {
    userId: message.author.id,
    guildId: message.guildId,
    permissions: message.member?.permissions ?? null,
    prompt: self.text,
    model,
    attachments: files,
    where,
  });
  if (!admission.ok) {
    await message.reply({ content: failureText(admission.failure), allowedMentions: NO_MENTIONS, failIfNotExists: false });
    return;
  }
  const { work } = admission;
  try {
    const channel = message.channel as SendableChannels;
    // Typing is a courtesy: its failure must not stop the answer.
    void channel.sendTyping().catch(() => undefined);
    const sink = channelSink(channel, message, { chain: true });
    const chain = await readChain(message, parent, ctx.config.bot.chatHistoryTurns);
    const loaded = await ctx.attachments.load(files, ctx.lifecycle.signal);
    if (!loaded.ok) {
      ctx.metrics.observe({ command: 'mention', model, outcome: loaded.failure.kind, latencyMs: 0 });
      await showOnly(sink, failureText(loaded.failure));
      return;
    }
    if (!self.text && files.length > 0) self.text = DESCRIBE_THIS_TEXT;
    self.files = loaded.parts;
    // Earlier files: from the cache while the request has room (newest first), else a note.
    const budget = ctx.attachments.budgetAfter(loaded.parts);
    const earlier = chain.slice(0, -1).map((m) => chainMessage(m, botId));
    for (let i = earlier.length - 1; i >= 0; i--) {
      const refs = [...chain[i]!.attachments.values()].map((a) => ({ url: a.url, name: a.name, mimeType: a.contentType ?? '' }));
      if (refs.length > 0 && !earlier[i]!.fromBot) earlier[i]!.files = ctx.attachments.remembered(refs, budget);
    }
    const request = {
      model,
      contents: chainTurns([...earlier, self]),
      ...(systemInstruction !== undefined ? { systemInstruction } : {}),
      ...(where.settings.search ? { search: true } : {}),
      maxOutputTokens: answerTokenBudget(ctx.config.bot.maxAnswerMessages),
    };
    await work.run(() => runControlledAnswer(ctx, { command: 'mention', askerId: message.author.id, sink, request, work }));
  } finally {
    work.release();
  }
}
