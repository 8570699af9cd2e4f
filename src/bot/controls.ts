/**
 * Control of an answer: a Stop button under it while it streams, and a Regenerate button
 * once it is done (same request, a new answer written over the old one). Here: the buttons
 * and the memory of recent answers (who asked, the request, the messages), kept for the
 * most recent answers only: after a restart, or for an old answer, the buttons say so.
 * Answers are streamed with them by `runControlledAnswer` (`answer.ts`); presses are handled
 * in `answerButtons.ts`. Private answers have none.
 */
import { ButtonStyle, ComponentType } from 'discord.js';
import type { GenerateRequest } from '../pool/types.ts';
import { requestBytesOf } from './attachments.ts';
import type { ComponentRows } from './stream.ts';
import { REGENERATE_BUTTON_LABEL, STOP_BUTTON_LABEL } from './userText.ts';

/** Custom ids: `ask:stop:<key>`, `ask:regen:<key>` (the `/ask` command owns the buttons). */
const BUTTON_PREFIX = 'ask';

/** A request as it can be sent again: everything but its signal. */
export type Rerunnable = Omit<GenerateRequest, 'signal'>;

/** What an answer's buttons act on. */
export interface AnswerRecord {
  key: string;
  /** The command it answered, for the metrics. */
  command: string;
  askerId: string;
  request: Rerunnable;
  /** The answer's messages, first to last. */
  messageIds: string[];
  /** Set while the answer streams: aborting `stop` ends it. */
  running?: { stop: AbortController; by?: string };
}

/** Rows with one button. */
function buttonRow(customId: string, label: string, style: ButtonStyle.Secondary | ButtonStyle.Danger): ComponentRows {
  return [{ type: ComponentType.ActionRow, components: [{ type: ComponentType.Button, custom_id: customId, label, style }] }];
}

export const stopRows = (key: string): ComponentRows => buttonRow(`${BUTTON_PREFIX}:stop:${key}`, STOP_BUTTON_LABEL, ButtonStyle.Secondary);
export const regenerateRows = (key: string): ComponentRows => buttonRow(`${BUTTON_PREFIX}:regen:${key}`, REGENERATE_BUTTON_LABEL, ButtonStyle.Secondary);

/** Bytes of files a request holds (they are shared with the file cache while both keep them). */
function requestBytes(r: Rerunnable): number {
  return (r.contents ?? []).reduce((n, t) => n + t.parts.reduce((m, p) => m + ('inlineData' in p ? requestBytesOf(p) : 0), 0), 0);
}

/** The most recent answers' records, bounded in count and in the bytes of their files. */
export class AnswerRegistry {
  readonly #records = new Map<string, { record: AnswerRecord; bytes: number }>();
  readonly #maxAnswers: number;
  readonly #maxBytes: number;
  #bytes = 0;

  /** @param maxAnswers @default 500 @param maxBytes @default 64 MB */
  constructor(maxAnswers = 500, maxBytes = 64 * 1024 * 1024) {
    this.#maxAnswers = maxAnswers;
    this.#maxBytes = maxBytes;
  }

  get(key: string): AnswerRecord | undefined {
    return this.#records.get(key)?.record;
  }

  /** Keeps a record (the newest last); the oldest go past the limits, never one that streams. */
  keep(record: AnswerRecord): void {
    const before = this.#records.get(record.key);
    if (before) this.#bytes -= before.bytes;
    this.#records.delete(record.key);
    const bytes = requestBytes(record.request);
    this.#records.set(record.key, { record, bytes });
    this.#bytes += bytes;
    for (const [key, entry] of this.#records) {
      if (this.#records.size <= this.#maxAnswers && this.#bytes <= this.#maxBytes) break;
      if (entry.record.running || key === record.key) continue;
      this.#records.delete(key);
      this.#bytes -= entry.bytes;
    }
  }
}
