/**
 * Where an answer's messages go on Discord: an interaction's reply and follow-ups (which
 * outlive the interaction's 15-minute token by moving to the channel), or plain channel
 * messages. Both are {@link AnswerSink}s for `stream.ts`.
 */
import { DiscordAPIError, MessageFlags, RESTJSONErrorCodes } from 'discord.js';
import type { Message, RepliableInteraction, SendableChannels } from 'discord.js';
import { NO_MENTIONS } from './render.ts';
import type { AnswerSink } from './stream.ts';
import { expiredPrivateAnswerText } from './userText.ts';

/**
 * True for Discord's answer to an interaction token past its 15 minutes: 401 with code
 * 50027 "Invalid Webhook Token". The token is dead for good, so nothing more goes to it.
 */
export function isExpiredInteractionToken(err: unknown): boolean {
  return err instanceof DiscordAPIError && (err.code === RESTJSONErrorCodes.InvalidWebhookToken || err.status === 401);
}

/**
 * An answer in an interaction's (deferred) reply and its follow-ups. Discord lets a bot
 * use an interaction's token for 15 minutes only: when it expires mid-answer, the rest
 * goes to the channel as normal messages (the first replying to the answer so far), and a
 * message that can no longer be edited is posted there whole. A private answer is never
 * posted in the channel: its owner gets one line there saying it could not be finished.
 */
export function interactionSink(
  interaction: RepliableInteraction,
  options: { ephemeral: boolean; onExpired?: () => void },
): AnswerSink {
  /** What edits address: `@original`, then the follow-ups' ids. */
  const ids: string[] = ['@original'];
  /** The ids of the messages written so far, by index. */
  const written: string[] = [];
  const flags = options.ephemeral ? MessageFlags.Ephemeral : undefined;
  /** After expiry: the channel messages that took over, by index. */
  const moved: Message[] = [];
  let expired = false;
  let noticeSent = false;

  const channel = async (): Promise<SendableChannels> => {
    const c = interaction.channel ?? (interaction.channelId ? await interaction.client.channels.fetch(interaction.channelId) : null);
    if (!c?.isSendable()) throw new Error('the interaction token expired and its channel does not take messages');
    return c;
  };
  const toChannel = async (index: number, content: string): Promise<void> => {
    if (options.ephemeral) {
      if (noticeSent) return;
      noticeSent = true;
      await (await channel()).send({ content: expiredPrivateAnswerText(interaction.user.id), allowedMentions: NO_MENTIONS });
      return;
    }
    const existing = moved[index];
    if (existing) {
      await existing.edit({ content, allowedMentions: NO_MENTIONS });
      return;
    }
    // The first message that moves replies to the answer so far, so it reads as its sequel.
    const after = moved.length === 0 ? written.slice(0, index + 1).filter(Boolean).at(-1) : undefined;
    moved[index] = await (await channel()).send({
      content,
      allowedMentions: NO_MENTIONS,
      ...(after ? { reply: { messageReference: after, failIfNotExists: false } } : {}),
    });
  };
  const viaToken = async (index: number, content: string, write: () => Promise<Message>): Promise<void> => {
    if (!expired) {
      try {
        written[index] = (await write()).id;
        return;
      } catch (err) {
        if (!isExpiredInteractionToken(err)) throw err;
        expired = true;
        options.onExpired?.();
      }
    }
    await toChannel(index, content);
  };
  return {
    firstExists: true,
    create: (index, content, components) =>
      viaToken(index, content, async () => {
        const m = await interaction.followUp({ content, allowedMentions: NO_MENTIONS, ...(flags ? { flags } : {}), ...(components ? { components } : {}) });
        ids[index] = m.id;
        return m;
      }),
    edit: (index, content, components) =>
      viaToken(index, content, () =>
        interaction.editReply({ message: ids[index] ?? '@original', content, allowedMentions: NO_MENTIONS, ...(components ? { components } : {}) }),
      ),
    messageIds: () => written.map((id, i) => moved[i]?.id ?? id),
  };
}

/**
 * An answer as channel messages, the first replying to `replyTo` when given. With `chain`,
 * each further message replies to the one before it, so the whole answer can be followed
 * back from its last message (mention answers read their history that way).
 */
export function channelSink(channel: SendableChannels, replyTo?: Message, options: { chain?: boolean } = {}): AnswerSink {
  const messages: Message[] = [];
  return {
    firstExists: false,
    async create(index, content, components) {
      const target = index === 0 ? replyTo : options.chain ? messages[index - 1] : undefined;
      const body = { content, allowedMentions: NO_MENTIONS, ...(components ? { components } : {}) };
      messages[index] = target ? await target.reply({ ...body, failIfNotExists: false }) : await channel.send(body);
    },
    async edit(index, content, components) {
      const m = messages[index];
      if (m) await m.edit({ content, allowedMentions: NO_MENTIONS, ...(components ? { components } : {}) });
    },
    messageIds: () => messages.map((m) => m.id),
  };
}
