/**
 * Thought signatures of tool calls, kept across the OpenAI round trip.
 *
 * Gemini 3 puts an opaque `thoughtSignature` on the functionCall parts it answers with and
 * refuses (400) a later turn that replays those calls without it. OpenAI clients only keep
 * the tool call's `id`, so the signature stays here, under that id, and comes back when the
 * client sends the call again. Ids stay short (`call_` + 24 characters): signatures run to
 * kilobytes, and clients store and echo ids everywhere.
 */
import { randomBytes } from 'node:crypto';

/**
 * Where signatures live between two requests of one conversation. The in-memory
 * {@link MemorySignatureStore} is the default; a store shared by several processes can
 * implement the same two methods.
 */
export interface SignatureStore {
  /**
   * Keeps `signature` under the tool call `id`. Must not throw: a store that writes
   * elsewhere writes behind and handles its own failures (a lost signature only means the
   * placeholder is sent later).
   */
  put(id: string, signature: string): void;
  /** The signature kept under `id`, or undefined when it is unknown or expired. */
  get(id: string): string | undefined | Promise<string | undefined>;
}

/**
 * Sent in place of a signature we no longer have (expired, another process, a conversation
 * started elsewhere): Gemini's documented value that skips the signature check, so the turn
 * goes through instead of failing with 400.
 */
export const SKIP_SIGNATURE = 'skip_thought_signature_validator';

/** Length of the random part of a tool call id. */
const ID_CHARS = 24;

/** A new tool call id: `call_` and 24 base64url characters (144 random bits). */
export function newToolCallId(): string {
  return `call_${randomBytes((ID_CHARS * 3) / 4).toString('base64url')}`;
}

export interface MemorySignatureStoreOptions {
  /**
   * Signatures kept at most; the least recently used go first.
   * @default 10000
   */
  maxEntries?: number;
  /**
   * How long a signature is kept after it was stored.
   * @default 86400000 (24 h)
   */
  ttlMs?: number;
  /** The clock. @default Date.now */
  now?: () => number;
}

/** A bounded in-memory {@link SignatureStore}: least recently used first out, and a time to live. */
export class MemorySignatureStore implements SignatureStore {
  readonly maxEntries: number;
  readonly ttlMs: number;
  readonly #now: () => number;
  /** Insertion order is recency order: a read moves its entry to the end. */
  readonly #entries = new Map<string, { signature: string; expiresAt: number }>();

  constructor(options: MemorySignatureStoreOptions = {}) {
    this.maxEntries = options.maxEntries ?? 10_000;
    this.ttlMs = options.ttlMs ?? 24 * 60 * 60 * 1000;
    this.#now = options.now ?? Date.now;
    if (!Number.isInteger(this.maxEntries) || this.maxEntries < 1) {
      throw new TypeError(`maxEntries must be a positive integer, got ${String(options.maxEntries)}`);
    }
    if (!Number.isFinite(this.ttlMs) || this.ttlMs <= 0) {
      throw new TypeError(`ttlMs must be a positive number, got ${String(options.ttlMs)}`);
    }
  }

  /** Entries held now, expired ones not yet dropped included. */
  get size(): number {
    return this.#entries.size;
  }

  put(id: string, signature: string): void {
    this.#entries.delete(id);
    this.#entries.set(id, { signature, expiresAt: this.#now() + this.ttlMs });
    while (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value);
    }
  }

  get(id: string): string | undefined {
    const entry = this.#entries.get(id);
    if (!entry) return undefined;
    this.#entries.delete(id);
    if (entry.expiresAt <= this.#now()) return undefined;
    this.#entries.set(id, entry);
    return entry.signature;
  }
}
