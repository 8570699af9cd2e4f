/**
 * Streaming an answer into Discord messages: the text grows in the first message, edited
 * at most once per `editIntervalMs` per message (Discord allows about one edit a second),
 * and continues in further messages once it passes a message's length. The Discord side
 * is an {@link AnswerSink}, so this logic is tested without Discord.
 */
import type { APIActionRowComponent, APIComponentInMessageActionRow } from 'discord.js';
import type { PoolStream } from '../pool/GeminiAPIPool.ts';
import type { PoolError, PoolResult } from '../pool/types.ts';
import { DISCORD_LIMITS, FOOTER_RESERVE_CHARS, answerFooter, sourceLines, splitMessage, truncate } from './render.ts';
import { EMPTY_ANSWER_TEXT, answerCutOffText, answerCutText, failureText, poolFailureText } from './userText.ts';
import type { WaitNotice } from './waitNotice.ts';

/** Rows of buttons under a message, as Discord's JSON. */
export type ComponentRows = APIActionRowComponent<APIComponentInMessageActionRow>[];

/** Where an answer's messages go. Message 0 may already exist (a deferred reply). */
export interface AnswerSink {
  /** True when message 0 exists already and must be edited, not created. */
  readonly firstExists: boolean;
  /** Creates message `index` (they are created in order), with these buttons when given. */
  create(index: number, content: string, components?: ComponentRows): Promise<void>;
  /** Replaces the content of message `index` (and its buttons, when given). */
  edit(index: number, content: string, components?: ComponentRows): Promise<void>;
  /** Ids of the messages written so far, by index (what the answer's buttons act on later). */
  messageIds?(): string[];
}

/** The buttons of each message of an answer: `rows(index, count)`; undefined leaves them as they are. */
export type RowsFor = (index: number, count: number) => ComponentRows | undefined;

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

/** How an answer is laid out in messages: characters per message, and messages at most. */
export interface AnswerLayout {
  /** @default ANSWER_CHARS */
  maxChars: number;
  /** MAX_ANSWER_MESSAGES. @default 5 */
  maxMessages: number;
}

const DEFAULT_LAYOUT: AnswerLayout = { maxChars: ANSWER_CHARS, maxMessages: 5 };

/**
 * Few languages pack more than this many characters into one token (English is about 4,
 * code and most other languages fewer): an answer budget in tokens computed with it rarely
 * runs out before the messages do.
 */
const CHARS_PER_TOKEN_LOW = 3;
/**
 * Thinking models (Gemini 2.5) count their thoughts against `maxOutputTokens`, up to 8,192
 * tokens when left to decide: without this room a tight budget is spent on thinking and the
 * answer comes back cut or empty.
 */
const THINKING_ROOM_TOKENS = 8_192;

/**
 * The `maxOutputTokens` that fits an answer shown in at most `maxMessages` messages (or one
 * embed, with `maxChars`), plus `thinkingTokens` (a request's own thinking budget): so
 * Gemini stops about where Discord would, and a runaway answer costs no more than that.
 */
export function answerTokenBudget(maxMessages: number, maxChars: number = ANSWER_CHARS, thinkingTokens: number = THINKING_ROOM_TOKENS): number {
  return Math.ceil((maxMessages * maxChars) / CHARS_PER_TOKEN_LOW) + thinkingTokens;
}

/**
 * The first `layout.maxMessages` messages of `text`, and whether text was left out. Only a
 * bounded prefix is split, so a huge answer costs no more than one at the cap.
 */
export function layoutAnswer(text: string, layout: AnswerLayout): { parts: string[]; cut: boolean } {
  const prefixChars = (layout.maxMessages + 1) * layout.maxChars;
  const prefix = text.length > prefixChars ? text.slice(0, prefixChars) : text;
  const parts = splitMessage(prefix, layout.maxChars);
  const cut = prefix.length < text.length || parts.length > layout.maxMessages;
  return { parts: parts.slice(0, layout.maxMessages), cut };
}

/**
 * Ends the messages with `line` on a line of its own, making room for it in the last
 * message (or the next one, within `maxMessages`; what then no longer fits is dropped:
 * the line says the answer ends there).
 */
function endWith(parts: readonly string[], line: string, layout: AnswerLayout): string[] {
  const head = parts.slice(0, -1);
  const pieces = splitMessage(parts[parts.length - 1] ?? '', Math.max(100, layout.maxChars - line.length - 2));
  const kept = pieces.slice(0, Math.max(1, layout.maxMessages - head.length));
  kept[kept.length - 1] = `${kept[kept.length - 1]}\n${line}`;
  return [...head, ...kept];
}

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
  /** The buttons each message shows, as JSON. */
  readonly #shownRows: Array<string | undefined> = [];
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

  /** Message `index` was written at `at` by someone else (the wait notice): its next edit keeps the interval. */
  written(index: number, at: number): void {
    if (index < this.#writtenAt.length && at > this.#writtenAt[index]!) this.#writtenAt[index] = at;
  }

  /** The show in progress: shows run one after the other, never two at once. */
  #showing: Promise<void> = Promise.resolve();

  /** Makes message i read `parts[i]`, with the buttons `rows` gives it (when given). */
  show(parts: readonly string[], rows?: RowsFor): Promise<void> {
    const next = this.#showing.then(() => this.#show(parts, rows));
    this.#showing = next.catch(() => undefined);
    return next;
  }

  /** Shows `content` as the first message only while nothing has been written there yet. */
  showFirst(content: string, rows?: RowsFor): Promise<void> {
    const next = this.#showing.then(() => (this.#shown[0] === undefined ? this.#show([content], rows) : undefined));
    this.#showing = next.catch(() => undefined);
    return next;
  }

  async #show(parts: readonly string[], rows?: RowsFor): Promise<void> {
    for (let i = 0; i < parts.length; i++) {
      const content = parts[i]!;
      const components = rows?.(i, parts.length);
      const rowsJson = components ? JSON.stringify(components) : this.#shownRows[i];
      if (i >= this.#writtenAt.length) {
        this.#writtenAt[i] = this.#clock.now();
        await this.#sink.create(i, content, components);
        this.#shown[i] = content;
        this.#shownRows[i] = rowsJson;
        continue;
      }
      if (this.#shown[i] === content && this.#shownRows[i] === rowsJson) continue;
      const waitMs = this.#writtenAt[i]! + this.#editIntervalMs - this.#clock.now();
      if (waitMs > 0) await this.#clock.sleep(waitMs);
      this.#writtenAt[i] = this.#clock.now();
      await this.#sink.edit(i, content, components);
      this.#shown[i] = content;
      this.#shownRows[i] = rowsJson;
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
  options: { editIntervalMs: number; layout?: AnswerLayout; clock?: StreamClock; rows?: RowsFor },
): Promise<string> {
  const clock = options.clock ?? realClock;
  const layout = options.layout ?? DEFAULT_LAYOUT;
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
    // Past the cap nothing more is shown: the final render says the answer was cut.
    if (text.trim()) await live.show(layoutAnswer(text, layout).parts, options.rows);
  }
  await consumed;
  return text;
}

/**
 * The final messages of an answer: the text split into at most `layout.maxMessages`
 * messages with the footer under the last (and above it, for a grounded answer, its sources,
 * in one more message when they do not fit); an answer longer than that, or stopped by its
 * token budget, ends with a line saying it was cut. A failure after some text keeps the
 * text and adds the reason; a failure before any text is only the reason.
 */
export function finalAnswerParts(
  result: PoolResult,
  streamedText: string,
  layout: AnswerLayout = DEFAULT_LAYOUT,
  describe: (error: PoolError) => string = poolFailureText,
): string[] {
  if (result.ok) {
    const body = streamedText.trim() ? streamedText : result.text;
    const { parts, cut } = layoutAnswer(body.trim() ? body : EMPTY_ANSWER_TEXT, layout);
    const footer = answerFooter(truncate(result.model, 60), result.latencyMs);
    const stoppedByBudget = result.finishReason === 'MAX_TOKENS';
    const final = cut || stoppedByBudget ? endWith(parts, answerCutText(cut ? { maxMessages: layout.maxMessages } : {}), layout) : parts;
    // Sources and footer under the last message, or in one more when they do not fit there.
    const tail = [...sourceLines(result.sources ?? []), footer].join('\n');
    if (final[final.length - 1]!.length + 1 + tail.length <= DISCORD_LIMITS.contentChars) final[final.length - 1] = `${final[final.length - 1]}\n${tail}`;
    else final.push(tail);
    return final;
  }
  const reason = describe(result.error);
  const partial = streamedText.trim() ? streamedText : (result.partialText ?? '');
  if (!partial.trim()) return [reason];
  return endWith(layoutAnswer(partial, layout).parts, answerCutOffText(reason), layout);
}

/** Options of {@link streamAnswer}. */
export interface StreamAnswerOptions {
  editIntervalMs: number;
  layout?: AnswerLayout;
  clock?: StreamClock;
  /** Aborted when the bot is shutting down: the answer then ends with the line saying it restarted. */
  cancelled?: AbortSignal;
  /** Words for a failure, when the caller knows better (an answer someone stopped). */
  describe?: (error: PoolError) => string;
  /**
   * Shown (with the streaming buttons) when no text has come after `afterMs`: "thinking"
   * for a model that thinks first. 0 shows it at once.
   */
  placeholder?: { text: string; afterMs: number };
  /** Buttons while the answer streams, and under its final form. */
  controls?: { streaming: RowsFor; final: RowsFor };
  /** The deferred reply says the request waits for quota until the answer begins. */
  notice?: WaitNotice;
}

/** The deltas of `stream`, the notice stopped (and its write done) before the first. */
async function* afterNotice(stream: AsyncIterable<string>, notice: WaitNotice, live: LiveMessages): AsyncGenerator<string> {
  let first = true;
  for await (const delta of stream) {
    if (first) {
      first = false;
      await notice.stop();
      live.written(0, notice.lastWriteAt);
    }
    yield delta;
  }
}

/**
 * Streams a pool answer into a sink and writes its final form. Returns the pool's result.
 * A request that failed because `cancelled` aborted (the bot is shutting down) ends with
 * the line saying the bot restarted, whatever the pool calls the cancellation. With
 * `notice`, the deferred reply said the request was waiting for quota until the answer
 * began.
 */
export async function streamAnswer(stream: PoolStream, sink: AnswerSink, options: StreamAnswerOptions): Promise<{ result: PoolResult; text: string }> {
  const live = new LiveMessages(sink, options);
  const clock = options.clock ?? realClock;
  const notice = options.notice;
  const source: AsyncIterable<string> = notice ? afterNotice(stream, notice, live) : stream;
  let deltas: AsyncIterable<string> = source;
  let placeholder: Promise<void> = Promise.resolve();
  if (options.placeholder) {
    const { text: waiting, afterMs } = options.placeholder;
    let firstText: () => void = () => undefined;
    const textCame = new Promise<'text'>((resolve) => (firstText = () => resolve('text')));
    deltas = (async function* () {
      try {
        for await (const d of source) {
          firstText();
          yield d;
        }
      } finally {
        firstText();
      }
    })();
    placeholder = (async () => {
      const after = (ms: number) => (ms > 0 ? Promise.race([clock.sleep(ms).then(() => 'time' as const), textCame]) : ('time' as const));
      let first = await after(afterMs);
      // While the request waits for quota the notice says so: the placeholder comes after the wait.
      while (first === 'time' && notice && notice.msLeft() > 0) first = await after(notice.msLeft() + afterMs);
      if (first !== 'time') return;
      if (notice) live.written(0, notice.lastWriteAt);
      await live.showFirst(waiting, options.controls?.streaming);
    })();
  }
  const text = await pumpStream(deltas, live, { ...options, ...(options.controls ? { rows: options.controls.streaming } : {}) });
  await placeholder;
  const result = await stream.result;
  if (notice) {
    await notice.stop();
    live.written(0, notice.lastWriteAt);
  }
  const describe = options.describe ?? ((error: PoolError) => failureTextOf(error, options.cancelled));
  await live.show(finalAnswerParts(result, text, options.layout, describe), options.controls?.final);
  return { result, text };
}

/** Shows one line as the whole answer: the deferred reply edited, or a first message sent. */
export async function showOnly(sink: AnswerSink, content: string): Promise<void> {
  if (sink.firstExists) await sink.edit(0, content);
  else await sink.create(0, content);
}

/** The words for a failed request: "the bot restarted" when `cancelled` is why. */
export function failureTextOf(error: PoolError, cancelled: AbortSignal | undefined): string {
  return cancelled?.aborted ? failureText({ kind: 'interrupted' }) : poolFailureText(error);
}

// The sinks over discord.js live in sinks.ts, the wait notice in waitNotice.ts; they are part of this module's surface.
export { channelSink, interactionSink, isExpiredInteractionToken } from './sinks.ts';
export { WaitNotice } from './waitNotice.ts';
