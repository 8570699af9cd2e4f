/**
 * Presses of an answer's buttons: Stop ends the answer that streams; Regenerate sends the
 * same request again and writes the new answer over the old one. Only the person who asked,
 * a moderator (Manage Messages) or an admin may press them.
 */
import { PermissionFlagsBits } from 'discord.js';
import type { ButtonInteraction, SendableChannels } from 'discord.js';
import { admitWork, replyFailure } from './admission.ts';
import { runControlledAnswer } from './answer.ts';
import { displayNameOf } from './conversations.ts';
import type { AnswerRecord } from './controls.ts';
import { NO_MENTIONS } from './render.ts';
import type { AnswerSink } from './stream.ts';
import type { BotContext } from './types.ts';
import { REGENERATING_TEXT } from './userText.ts';

/**
 * An answer written again over the messages of an earlier one: message 0 is edited in place
 * (a reply stays a reply), the earlier answer's other messages are deleted first, and further
 * messages are sent as replies to the one before, so the answer can be followed back.
 */
async function rewriteSink(channel: SendableChannels, ids: readonly string[]): Promise<AnswerSink> {
  await Promise.all(ids.slice(1).map((id) => channel.messages.delete(id).catch(() => undefined)));
  const written: string[] = [ids[0]!];
  return {
    firstExists: true,
    async create(index, content, components) {
      const m = await channel.send({
        content,
        allowedMentions: NO_MENTIONS,
        reply: { messageReference: written[index - 1]!, failIfNotExists: false },
        ...(components ? { components } : {}),
      });
      written[index] = m.id;
    },
    async edit(index, content, components) {
      await channel.messages.edit(written[index]!, { content, allowedMentions: NO_MENTIONS, ...(components ? { components } : {}) });
    },
    messageIds: () => [...written],
  };
}

/** Whoever asked, a moderator (Manage Messages) or an admin. */
function mayControl(interaction: ButtonInteraction, ctx: BotContext, record: AnswerRecord): boolean {
  const permissions = interaction.inGuild() ? interaction.memberPermissions : null;
  return (
    interaction.user.id === record.askerId ||
    (permissions?.has(PermissionFlagsBits.ManageMessages) ?? false) ||
    ctx.isAdmin({ userId: interaction.user.id, permissions })
  );
}

/** A Stop or Regenerate press. */
export async function onAnswerButton(interaction: ButtonInteraction, ctx: BotContext): Promise<void> {
  const [, action, key] = interaction.customId.split(':');
  const record = key ? ctx.answers.get(key) : undefined;
  if (!record || (record.messageIds.length === 0 && !record.running)) {
    await replyFailure(interaction, { kind: 'answer_gone' });
    return;
  }
  if (!mayControl(interaction, ctx, record)) {
    await replyFailure(interaction, { kind: 'not_asker' });
    return;
  }
  if (action === 'stop') {
    await interaction.deferUpdate();
    if (record.running) {
      record.running.by = displayNameOf(interaction.member, interaction.user);
      record.running.stop.abort(new Error('stopped'));
    }
    return;
  }
  if (record.running) {
    await replyFailure(interaction, { kind: 'still_answering' });
    return;
  }
  const admission = await admitWork(ctx, 'regenerate', {
    userId: interaction.user.id,
    guildId: interaction.guildId,
    permissions: interaction.inGuild() ? interaction.memberPermissions : null,
    prompt: '',
    model: record.request.model,
  });
  if (!admission.ok) {
    await replyFailure(interaction, admission.failure);
    return;
  }
  const { work } = admission;
  try {
    await interaction.deferUpdate();
    const channel = interaction.channel ?? (await interaction.client.channels.fetch(interaction.channelId));
    if (!channel?.isSendable()) throw new Error('the answer\'s channel does not take messages');
    const sink = await rewriteSink(channel, record.messageIds);
    await work.run(() =>
      runControlledAnswer(ctx, { command: record.command, askerId: record.askerId, sink, request: record.request, work, key: record.key, placeholder: { text: REGENERATING_TEXT, afterMs: 0 } }),
    );
  } finally {
    work.release();
  }
}
