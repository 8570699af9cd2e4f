/**
 * Conversations: the history of a chat thread (or a DM) kept in the store, trimmed to
 * `CHAT_HISTORY_TURNS`, with user turns prefixed by the author's display name so the
 * model can tell people apart. One conversation answers one message at a time.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConversationStore, StoredConversation, StoredTurn } from '../store/types.ts';

/**
 * The last `maxTurns` turns (one turn = one message, user or model). The kept history
 * always starts with a user turn, as Gemini expects a conversation to.
 */
export function trimHistory<T extends { role: 'user' | 'model' }>(history: readonly T[], maxTurns: number): T[] {
  let kept = history.slice(Math.max(0, history.length - maxTurns));
  while (kept.length > 0 && kept[0]!.role !== 'user') kept = kept.slice(1);
  return kept;
}

/** The name people go by here: server nickname, else global name, else username. */
export function displayNameOf(member: unknown, user: { displayName: string }): string {
  if (member && typeof member === 'object' && 'displayName' in member && typeof member.displayName === 'string') return member.displayName;
  return user.displayName;
}

/** `Alice: hello`: several people may talk in one thread. */
export function userTurnText(displayName: string, text: string): string {
  const name = displayName.replace(/[\r\n:]+/g, ' ').trim() || 'someone';
  return `${name}: ${text}`;
}

/** The store did not answer a conversation call, even after trying again. */
export class ConversationStoreError extends Error {
  readonly brand = 'ConversationStoreError' as const;
  constructor(operation: string, cause: unknown) {
    super(`could not ${operation} a conversation in the store: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'ConversationStoreError';
  }
}

/** Whether `err` is a {@link ConversationStoreError}. */
export function isConversationStoreError(err: unknown): err is ConversationStoreError {
  return err instanceof Error && (err as Partial<ConversationStoreError>).brand === 'ConversationStoreError';
}

/** Options of {@link Conversations}. */
export interface ConversationsOptions {
  /** CHAT_HISTORY_TURNS. */
  historyTurns: number;
  /** @default Date.now */
  now?: () => number;
  /** A store call that has not answered after this long is given up and tried again. @default 2_000 */
  callTimeoutMs?: number;
  /** Tries of one store call. @default 3 */
  attempts?: number;
  /** Pause before the second try; it doubles for each further one. @default 250 */
  retryDelayMs?: number;
}

/**
 * Conversations in the store, answered one message at a time each. A store that stalls or
 * fails (Redis away for a moment) is tried again a few times, each try bounded; then the
 * call fails with a {@link ConversationStoreError}, so a message is answered late or gets
 * a one-line failure, and never waits in silence.
 */
export class Conversations {
  readonly #store: ConversationStore;
  readonly #maxTurns: number;
  readonly #now: () => number;
  readonly #callTimeoutMs: number;
  readonly #attempts: number;
  readonly #retryDelayMs: number;
  /** Per conversation: the tail of the chain of work, so messages are answered in order. */
  readonly #locks = new Map<string, Promise<unknown>>();

  constructor(store: ConversationStore, options: ConversationsOptions) {
    this.#store = store;
    this.#maxTurns = options.historyTurns;
    this.#now = options.now ?? Date.now;
    this.#callTimeoutMs = options.callTimeoutMs ?? 2_000;
    this.#attempts = options.attempts ?? 3;
    this.#retryDelayMs = options.retryDelayMs ?? 250;
  }

  /** Runs one store call, bounded and tried again. @throws ConversationStoreError */
  async #call<T>(operation: string, call: () => Promise<T>): Promise<T> {
    let lastError: unknown;
    for (let attempt = 0; attempt < this.#attempts; attempt++) {
      if (attempt > 0) await sleep(this.#retryDelayMs * 2 ** (attempt - 1));
      let timer: NodeJS.Timeout | undefined;
      try {
        return await Promise.race([
          call(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${this.#callTimeoutMs} ms`)), this.#callTimeoutMs);
          }),
        ]);
      } catch (err) {
        lastError = err;
      } finally {
        clearTimeout(timer);
      }
    }
    throw new ConversationStoreError(operation, lastError);
  }

  /**
   * Deletes conversations nobody wrote in for `retentionDays` (0 keeps them forever), so the
   * store does not grow without end. Returns how many went.
   */
  prune(retentionDays: number): Promise<number> {
    if (retentionDays <= 0) return Promise.resolve(0);
    return this.#store.pruneConversations(this.#now() - retentionDays * 86_400_000);
  }

  /** @throws ConversationStoreError */
  get(id: string): Promise<StoredConversation | undefined> {
    return this.#call('load', () => this.#store.getConversation(id));
  }

  /** Starts (or restarts) a conversation with an empty history. @throws ConversationStoreError */
  async start(id: string, init: { model: string; ownerId: string }): Promise<StoredConversation> {
    const c: StoredConversation = { model: init.model, history: [], ownerId: init.ownerId, updatedAt: this.#now() };
    await this.#call('save', () => this.#store.saveConversation(id, c));
    return c;
  }

  /** Appends one exchange and trims the history. @throws ConversationStoreError */
  async append(id: string, base: StoredConversation, turns: readonly StoredTurn[]): Promise<StoredConversation> {
    const next: StoredConversation = {
      ...base,
      history: trimHistory([...base.history, ...turns], this.#maxTurns),
      updatedAt: this.#now(),
    };
    await this.#call('save', () => this.#store.saveConversation(id, next));
    return next;
  }

  /** @throws ConversationStoreError */
  async end(id: string): Promise<boolean> {
    const existing = await this.get(id);
    if (!existing) return false;
    await this.#call('delete', () => this.#store.deleteConversation(id));
    return true;
  }

  /** The history to send with a new user message: trimmed so history + message fit. Files are references. */
  historyFor(c: StoredConversation): StoredTurn[] {
    return trimHistory(c.history, Math.max(0, this.#maxTurns - 1));
  }

  /** Runs `work` after every earlier piece of work of this conversation has settled. */
  withLock<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(id) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(work);
    const tail = run.catch(() => undefined);
    this.#locks.set(id, tail);
    void tail.then(() => {
      if (this.#locks.get(id) === tail) this.#locks.delete(id);
    });
    return run;
  }
}
