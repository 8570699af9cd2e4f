/**
 * What survives a restart and what several processes share, as one interface for each of
 * its users: {@link PoolStateStore} (the pool's key states and counters),
 * {@link ConversationStore} (the bot's conversations and meta values) and `GatewayStore`
 * (the gateway's client tokens, their usage and the request log; in gatewayTypes.ts).
 * Every store class implements all three over one connection ({@link StateStore}). Keys
 * and client tokens are only ever stored as their hash, never as themselves.
 *
 * The shapes here are what is persisted, owned by the store; the pool's and the bot's own
 * types are assignable to them.
 */
import type { DashboardStore } from './dashboardTypes.ts';
import type { GatewayStore } from './gatewayTypes.ts';

/**
 * A non-active state of a key. Active is the absence of a record. `kind` is the kind of
 * failure as the pool named it (an `ErrorKind`); the store keeps it as given.
 */
export type StoredKeyState =
  | { status: 'cooling'; until: number; reason: string; kind: string }
  | { status: 'disabled'; since: number; reason: string; kind: string };

/** `'*'` is the key itself (all models), e.g. a key disabled for auth. */
export type ModelScope = string;

/** Counter increments of one key for one model, summed since the last flush. */
export interface CounterDelta {
  keyHash: string;
  model: string;
  /** The Pacific day (`YYYY-MM-DD`) the requests and tokens belong to. */
  day: string;
  requests: number;
  tokens: number;
  usage: number;
  errors: number;
  latencyMs: number;
}

/** Counters of one key for one model: cumulative, plus today's. */
export interface CounterRow {
  keyHash: string;
  model: string;
  usage: number;
  errors: number;
  latencyMs: number;
  /** The day `requestsToday` and `tokensToday` belong to. */
  day: string;
  requestsToday: number;
  tokensToday: number;
}

/**
 * A file of a stored conversation, kept as a reference (where Discord serves it, its type and
 * name), never as its bytes: conversations stay small in every store.
 */
export interface StoredFileRef {
  url: string;
  mimeType: string;
  name: string;
}

/**
 * One turn of a stored conversation, in Gemini's `Content` shape (the pool's `ChatTurn`),
 * except that a file is a `fileRef` instead of its bytes.
 */
export interface StoredTurn {
  role: 'user' | 'model';
  parts: Array<{ text: string } | { fileRef: StoredFileRef }>;
}

/** A conversation the bot keeps (a thread, or a DM channel). */
export interface StoredConversation {
  model: string;
  history: StoredTurn[];
  /** Who started it, for `/chat-end` permission. */
  ownerId?: string;
  updatedAt: number;
}

/** A change another process made, delivered by stores that are shared. */
export interface KeyStateChange {
  keyHash: string;
  model: ModelScope;
  state: StoredKeyState | null;
}

/**
 * Requests one process sent to a quota group (Google Cloud project) and model since its
 * last report, so the other processes' quota limiters count them too.
 */
export interface UsageReport {
  group: string;
  model: string;
  requests: number;
  tokens: number;
}

/**
 * The pool's state: key states, counters and, for shared stores, the channel between
 * processes. What `GeminiAPIPool.attachStore` takes.
 */
export interface PoolStateStore {
  readonly kind: 'memory' | 'sqlite' | 'redis';

  /** Every stored non-active state of these keys. Expired cooldowns are not returned. */
  loadKeyStates(keyHashes: readonly string[], now: number): Promise<Map<string, Map<ModelScope, StoredKeyState>>>;
  /** Sets (or, with null, clears) the state of a key for a model or for `'*'`. */
  setKeyState(keyHash: string, model: ModelScope, state: StoredKeyState | null): Promise<void>;

  /**
   * Adds a batch of counter increments (atomically per row).
   * @throws StoreRejectedError, writing nothing, when a delta is not made of counts.
   */
  addCounters(deltas: readonly CounterDelta[]): Promise<void>;
  /**
   * Raises each stored counter to at least the value given, never lowering one: how a
   * process writes back what it knows to a store that lost it (a Redis restarted empty)
   * without counting twice what the store still holds. Today's fields follow `day` as in
   * `addCounters`: a row of a newer day replaces them, a row of an older day leaves them.
   * @throws StoreRejectedError, writing nothing, when a row is not made of counts.
   */
  raiseCounters(rows: readonly CounterRow[]): Promise<void>;
  /** Counters of these keys; today's fields are zero when the stored day is not `day`. */
  loadCounters(keyHashes: readonly string[], day: string): Promise<CounterRow[]>;
  /** Clears cumulative usage, errors and latency (today's counts stay). */
  resetCounters(): Promise<void>;

  /**
   * Shared stores report key-state changes made by other processes. Returns an
   * unsubscribe function. Local stores never call `listener`.
   */
  subscribe(listener: (change: KeyStateChange) => void): () => void;

  /** Optional (shared stores only: redis): tells the other processes what this one sent. */
  publishUsage?(reports: readonly UsageReport[]): Promise<void>;

  /** Optional (shared stores only): other processes' usage reports. Returns an unsubscribe function. */
  subscribeUsage?(listener: (reports: UsageReport[]) => void): () => void;

  /**
   * Optional (shared stores only: redis). Called when a shared store comes back after an
   * outage, so the caller can resync (reload key states, write back what it knows, flush
   * counters it kept in memory). Not called for the first connection. Returns an
   * unsubscribe function.
   */
  onReconnect?(listener: () => void): () => void;
}

/** The bot's state: conversations, and a few named values (the registered commands' hash). */
export interface ConversationStore {
  getConversation(id: string): Promise<StoredConversation | undefined>;
  saveConversation(id: string, conversation: StoredConversation): Promise<void>;
  deleteConversation(id: string): Promise<void>;
  /** Deletes conversations last updated before `olderThan` (epoch ms); returns how many. */
  pruneConversations(olderThan: number): Promise<number>;

  getMeta(name: string): Promise<string | undefined>;
  setMeta(name: string, value: string): Promise<void>;
}

/**
 * A whole store: the pool's, the bot's, the gateway's and the dashboard's interfaces over one connection,
 * and its lifetime. Three implementations: memory, sqlite (default), redis. Whoever opens
 * it (`createStore`) closes it; the pool, the bot and the gateway each get the narrow side
 * they use.
 */
export interface StateStore extends PoolStateStore, ConversationStore, GatewayStore, DashboardStore {
  /** Writes what is pending and releases the connection or file. Safe to call twice. */
  close(): Promise<void>;
}
