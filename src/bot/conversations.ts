/**
 * Conversations: the history of a chat thread (or a DM) kept in the store, trimmed to
 * `CHAT_HISTORY_TURNS`, with user turns prefixed by the author's display name so the
 * model can tell people apart. One conversation answers one message at a time.
 */
import type { ChatTurn } from '../pool/types.ts';
import type { StateStore, StoredConversation } from '../store/types.ts';

/**
 * The last `maxTurns` turns (one turn = one message, user or model). The kept history
 * always starts with a user turn, as Gemini expects a conversation to.
 */
export function trimHistory(history: readonly ChatTurn[], maxTurns: number): ChatTurn[] {
  let kept = history.slice(Math.max(0, history.length - maxTurns));
  while (kept.length > 0 && kept[0]!.role !== 'user') kept = kept.slice(1);
  return kept;
}

/** `Alice: hello`: several people may talk in one thread. */
export function userTurnText(displayName: string, text: string): string {
  const name = displayName.replace(/[\r\n:]+/g, ' ').trim() || 'someone';
  return `${name}: ${text}`;
}

/** Conversations in the store, answered one message at a time each. */
export class Conversations {
  readonly #store: StateStore;
  readonly #maxTurns: number;
  readonly #now: () => number;
  /** Per conversation: the tail of the chain of work, so messages are answered in order. */
  readonly #locks = new Map<string, Promise<unknown>>();

  constructor(store: StateStore, options: { historyTurns: number; now?: () => number }) {
    this.#store = store;
    this.#maxTurns = options.historyTurns;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Deletes conversations nobody wrote in for `retentionDays` (0 keeps them forever), so the
   * store does not grow without end. Returns how many went.
   */
  prune(retentionDays: number): Promise<number> {
    if (retentionDays <= 0) return Promise.resolve(0);
    return this.#store.pruneConversations(this.#now() - retentionDays * 86_400_000);
  }

  get(id: string): Promise<StoredConversation | undefined> {
    return this.#store.getConversation(id);
  }

  /** Starts (or restarts) a conversation with an empty history. */
  async start(id: string, init: { model: string; ownerId: string }): Promise<StoredConversation> {
    const c: StoredConversation = { model: init.model, history: [], ownerId: init.ownerId, updatedAt: this.#now() };
    await this.#store.saveConversation(id, c);
    return c;
  }

  /** Appends one exchange and trims the history. */
  async append(id: string, base: StoredConversation, turns: readonly ChatTurn[]): Promise<StoredConversation> {
    const next: StoredConversation = {
      ...base,
      history: trimHistory([...base.history, ...turns], this.#maxTurns),
      updatedAt: this.#now(),
    };
    await this.#store.saveConversation(id, next);
    return next;
  }

  async end(id: string): Promise<boolean> {
    const existing = await this.#store.getConversation(id);
    if (!existing) return false;
    await this.#store.deleteConversation(id);
    return true;
  }

  /** The history to send with a new user message: trimmed so history + message fit. */
  historyFor(c: StoredConversation): ChatTurn[] {
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
