/**
 * StateStore: what survives a restart and what several processes share. Keys are only
 * ever stored as their hash (`PoolKey.hash`), never as the key.
 */
import type { ChatTurn, ErrorKind } from '../pool/types.ts';

/** A non-active state of a key. Active is the absence of a record. */
export type StoredKeyState =
  | { status: 'cooling'; until: number; reason: string; kind: ErrorKind }
  | { status: 'disabled'; since: number; reason: string; kind: ErrorKind };

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

/** A conversation the bot keeps (a thread, or a DM channel). */
export interface StoredConversation {
  model: string;
  history: ChatTurn[];
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

/** One interface, three implementations: memory, sqlite (default), redis. */
export interface StateStore {
  readonly kind: 'memory' | 'sqlite' | 'redis';

  /** Every stored non-active state of these keys. Expired cooldowns are not returned. */
  loadKeyStates(keyHashes: readonly string[], now: number): Promise<Map<string, Map<ModelScope, StoredKeyState>>>;
  /** Sets (or, with null, clears) the state of a key for a model or for `'*'`. */
  setKeyState(keyHash: string, model: ModelScope, state: StoredKeyState | null): Promise<void>;

  /** Adds a batch of counter increments (atomically per row). */
  addCounters(deltas: readonly CounterDelta[]): Promise<void>;
  /** Counters of these keys; today's fields are zero when the stored day is not `day`. */
  loadCounters(keyHashes: readonly string[], day: string): Promise<CounterRow[]>;
  /**
   * Raises each stored counter to at least the value given, never lowering one: how a
   * process writes back what it knows to a store that lost it (a Redis restarted empty)
   * without counting twice what the store still holds. Today's fields follow `day` as in
   * `addCounters`: a row of a newer day replaces them, a row of an older day leaves them.
   */
  raiseCounters(rows: readonly CounterRow[]): Promise<void>;
  /** Clears cumulative usage, errors and latency (today's counts stay). */
  resetCounters(): Promise<void>;

  getConversation(id: string): Promise<StoredConversation | undefined>;
  saveConversation(id: string, conversation: StoredConversation): Promise<void>;
  deleteConversation(id: string): Promise<void>;
  /** Deletes conversations last updated before `olderThan` (epoch ms); returns how many. */
  pruneConversations(olderThan: number): Promise<number>;

  getMeta(name: string): Promise<string | undefined>;
  setMeta(name: string, value: string): Promise<void>;

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
   * outage, so the caller can resync (reload key states, flush counters it kept in
   * memory). Not called for the first connection. Returns an unsubscribe function.
   */
  onReconnect?(listener: () => void): () => void;

  /**
   * Optional. False while the store cannot be reached (redis down); its methods then
   * reject at once and the caller keeps serving from memory. Local stores are always
   * healthy until closed.
   */
  isHealthy?(): boolean;

  close(): Promise<void>;
}
