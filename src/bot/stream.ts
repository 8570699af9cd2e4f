/**
 * Streaming an answer into Discord messages: the text grows in the first message, edited
 * at most once per `editIntervalMs` per message (Discord allows about one edit a second),
 * and continues in further messages once it passes a message's length. The Discord side
 * is an {@link AnswerSink}, so this logic is tested without Discord.
 */
import { MessageFlags } from 'discord.js';
import type { Message, RepliableInteraction, SendableChannels } from 'discord.js';
import type { PoolStream } from '../pool/GeminiAPIPool.ts';
import type { PoolResult } from '../pool/types.ts';
import { DISCORD_LIMITS, FOOTER_RESERVE_CHARS, NO_MENTIONS, answerFooter, splitMessage, truncate } from './render.ts';
import { poolFailureText } from './userText.ts';

/** Where an answer's messages go. Message 0 may already exist (a deferred reply). */
export interface AnswerSink {
  /** True when message 0 exists already and must be edited, not created. */
  readonly firstExists: boolean;
  /** Creates message `index` (they are created in order). */
  create(index: number, content: string): Promise<void>;
  /** Replaces the content of message `index`. */
  edit(index: number, content: string): Promise<void>;
}

/** Time, injectable so the rate of edits is tested without waiting. */
export interface StreamClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: StreamClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** Characters per message for the answer body; the rest is kept for the footer. */
export const ANSWER_CHARS = DISCORD_LIMITS.contentChars - FOOTER_RESERVE_CHARS;

/**
 * The messages of an answer as shown so far. `show(parts)` makes message i read parts[i],
 * creating missing messages and editing changed ones, never editing one message twice
 * within `editIntervalMs` (it waits instead).
 */
export class LiveMessages {
  readonly #sink: AnswerSink;
  readonly #editIntervalMs: number;
  readonly #clock: StreamClock;
  /** What each message shows; undefined for a deferred reply not yet written. */
  readonly #shown: Array<string | undefined> = [];
  /** When each message was last written (created or edited). */
  readonly #writtenAt: number[] = [];

  constructor(sink: AnswerSink, options: { editIntervalMs: number; clock?: StreamClock }) {
    this.#sink = sink;
    this.#editIntervalMs = options.editIntervalMs;
    this.#clock = options.clock ?? realClock;
    if (sink.firstExists) this.#writtenAt[0] = Number.NEGATIVE_INFINITY;
  }

  /** Messages that exist (created, or the deferred reply). */
  get count(): number {
    return this.#writtenAt.length;
  }

  async show(parts: readonly string[]): Promise<void> {
    for (let i = 0; i < parts.length; i++) {
      const content = parts[i]!;
      if (i >= this.#writtenAt.length) {
        this.#writtenAt[i] = this.#clock.now();
        await this.#sink.create(i, content);
        this.#shown[i] = content;
        continue;
      }
      if (this.#shown[i] === content) continue;
      const waitMs = this.#writtenAt[i]! + this.#editIntervalMs - this.#clock.now();
      if (waitMs > 0) await this.#clock.sleep(waitMs);
      this.#writtenAt[i] = this.#clock.now();
      await this.#sink.edit(i, content);
      this.#shown[i] = content;
    }
  }
}

/**
 * Shows a stream of text deltas as it arrives, at most one update per `editIntervalMs`,
 * and returns the whole text once the stream ends. Message boundaries are stable while the
 * text grows (`splitMessage` is greedy), so earlier messages are written once more at most.
 */
export async function pumpStream(
  deltas: AsyncIterable<string>,
  live: LiveMessages,
  options: { editIntervalMs: number; maxChars?: number; clock?: StreamClock },
): Promise<string> {
  const clock = options.clock ?? realClock;
  const maxChars = options.maxChars ?? ANSWER_CHARS;
  let text = '';
  let changed = false;
  let ended = false;
  let wake: (() => void) | undefined;
  const poke = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const consumed = (async () => {
    try {
      for await (const delta of deltas) {
        text += delta;
        changed = true;
        poke();
      }
    } finally {
      ended = true;
      poke();
    }
  })();
  const endedSignal = consumed.then(
    () => undefined,
    () => undefined,
  );
  let lastShowAt = Number.NEGATIVE_INFINITY;
  while (!ended) {
    if (!changed) await new Promise<void>((resolve) => (wake = resolve));
    if (ended) break;
    const waitMs = lastShowAt + options.editIntervalMs - clock.now();
    // Wait out the interval, but stop waiting when the stream ends: the final render follows.
    if (waitMs > 0) await Promise.race([clock.sleep(waitMs), endedSignal]);
    if (ended) break;
    changed = false;
    lastShowAt = clock.now();
    if (text.trim()) await live.show(splitMessage(text, maxChars));
  }
  await consumed;
  return text;
}

/**
 * The final messages of an answer: the text split into messages with the footer under the
 * last; a failure after some text keeps the text and adds the reason; a failure before any
 * text is only the reason.
 */
export function finalAnswerParts(result: PoolResult, streamedText: string, maxChars: number = ANSWER_CHARS): string[] {
  if (result.ok) {
    const body = streamedText.trim() ? streamedText : result.text;
    const parts = splitMessage(body.trim() ? body : '*(Gemini returned an empty answer.)*', maxChars);
    const footer = answerFooter(truncate(result.model, 60), result.latencyMs);
    parts[parts.length - 1] = `${parts[parts.length - 1]}\n${footer}`;
    return parts;
  }
  const reason = poolFailureText(result.error);
  const partial = streamedText.trim() ? streamedText : (result.partialText ?? '');
  if (!partial.trim()) return [reason];
  return splitMessage(`${partial}\n\n⚠️ The answer was cut off. ${reason}`, maxChars);
}

/** Streams a pool answer into a sink and writes its final form. Returns the pool's result. */
export async function streamAnswer(
  stream: PoolStream,
  sink: AnswerSink,
  options: { editIntervalMs: number; clock?: StreamClock },
): Promise<{ result: PoolResult; text: string }> {
  const live = new LiveMessages(sink, options);
  const text = await pumpStream(stream, live, options);
  const result = await stream.result;
  await live.show(finalAnswerParts(result, text));
  return { result, text };
}

// ------------------------------------------------------------------ sinks over discord.js

/** An answer in an interaction's (deferred) reply and its follow-ups. */
export function interactionSink(interaction: RepliableInteraction, options: { ephemeral: boolean }): AnswerSink {
  const ids: string[] = ['@original'];
  const flags = options.ephemeral ? MessageFlags.Ephemeral : undefined;
  return {
    firstExists: true,
    async create(index, content) {
      const m = await interaction.followUp({ content, allowedMentions: NO_MENTIONS, ...(flags ? { flags } : {}) });
      ids[index] = m.id;
    },
    async edit(index, content) {
      await interaction.editReply({ message: ids[index] ?? '@original', content, allowedMentions: NO_MENTIONS });
    },
  };
}

/** An answer as channel messages, the first replying to `replyTo` when given. */
export function channelSink(channel: SendableChannels, replyTo?: Message): AnswerSink {
  const messages: Message[] = [];
  return {
    firstExists: false,
    async create(index, content) {
      messages[index] =
        index === 0 && replyTo
          ? await replyTo.reply({ content, allowedMentions: NO_MENTIONS, failIfNotExists: false })
          : await channel.send({ content, allowedMentions: NO_MENTIONS });
    },
    async edit(index, content) {
      const m = messages[index];
      if (m) await m.edit({ content, allowedMentions: NO_MENTIONS });
    },
  };
}
