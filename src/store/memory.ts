/**
 * MemoryStore: the StateStore in plain maps. Nothing touches the disk, nothing is shared,
 * `subscribe` never fires. For tests and for people who want no state on disk.
 */
import { MemoryDashboardStore } from './dashboardMemory.ts';
import { DelegatesGatewayStore } from './gatewayDelegate.ts';
import { MemoryGatewayStore } from './gatewayMemory.ts';
import type {
  CounterDelta,
  CounterRow,
  KeyStateChange,
  ModelScope,
  StateStore,
  StoredConversation,
  StoredKeyState,
} from './types.ts';
import { assertCounterDeltas, assertCounterRows } from './validate.ts';

/** Row key of a key+model pair; `\u0000` cannot occur in a hash or a model name. */
const rowKey = (keyHash: string, model: string): string => `${keyHash}\u0000${model}`;

/** Deep copy of a JSON-shaped value, so callers never share objects with the store. */
const copy = <T>(value: T): T => structuredClone(value);

export class MemoryStore extends DelegatesGatewayStore implements StateStore {
  readonly kind = 'memory' as const;
  protected readonly gateway = new MemoryGatewayStore();
  protected readonly dashboard = new MemoryDashboardStore();

  /** keyHash -> model -> state. */
  private readonly states = new Map<string, Map<ModelScope, StoredKeyState>>();
  /** rowKey -> counters. */
  private readonly counters = new Map<string, CounterRow>();
  private readonly conversations = new Map<string, StoredConversation>();
  private readonly meta = new Map<string, string>();

  async loadKeyStates(keyHashes: readonly string[], now: number): Promise<Map<string, Map<ModelScope, StoredKeyState>>> {
    const out = new Map<string, Map<ModelScope, StoredKeyState>>();
    for (const hash of new Set(keyHashes)) {
      const models = this.states.get(hash);
      if (!models) continue;
      for (const [model, state] of models) {
        // Expired cooldowns are dropped here too, so the map does not grow forever.
        if (state.status === 'cooling' && state.until <= now) {
          models.delete(model);
          continue;
        }
        let m = out.get(hash);
        if (!m) out.set(hash, (m = new Map()));
        m.set(model, { ...state });
      }
      if (models.size === 0) this.states.delete(hash);
    }
    return out;
  }

  async setKeyState(keyHash: string, model: ModelScope, state: StoredKeyState | null): Promise<void> {
    if (state === null) {
      const models = this.states.get(keyHash);
      models?.delete(model);
      if (models?.size === 0) this.states.delete(keyHash);
      return;
    }
    let models = this.states.get(keyHash);
    if (!models) this.states.set(keyHash, (models = new Map()));
    models.set(model, { ...state });
  }

  async addCounters(deltas: readonly CounterDelta[]): Promise<void> {
    assertCounterDeltas(deltas);
    for (const d of deltas) {
      const key = rowKey(d.keyHash, d.model);
      const row = this.counters.get(key);
      if (!row) {
        this.counters.set(key, {
          keyHash: d.keyHash,
          model: d.model,
          usage: d.usage,
          errors: d.errors,
          latencyMs: d.latencyMs,
          day: d.day,
          requestsToday: d.requests,
          tokensToday: d.tokens,
        });
        continue;
      }
      row.usage += d.usage;
      row.errors += d.errors;
      row.latencyMs += d.latencyMs;
      if (row.day === d.day) {
        row.requestsToday += d.requests;
        row.tokensToday += d.tokens;
      } else if (d.day > row.day) {
        // A new day starts at zero.
        row.day = d.day;
        row.requestsToday = d.requests;
        row.tokensToday = d.tokens;
      }
      // else: a late delta of an older day no longer counts for "today".
    }
  }

  async raiseCounters(rows: readonly CounterRow[]): Promise<void> {
    assertCounterRows(rows);
    for (const r of rows) {
      const key = rowKey(r.keyHash, r.model);
      const row = this.counters.get(key);
      if (!row) {
        this.counters.set(key, { ...r });
        continue;
      }
      row.usage = Math.max(row.usage, r.usage);
      row.errors = Math.max(row.errors, r.errors);
      row.latencyMs = Math.max(row.latencyMs, r.latencyMs);
      if (row.day === r.day) {
        row.requestsToday = Math.max(row.requestsToday, r.requestsToday);
        row.tokensToday = Math.max(row.tokensToday, r.tokensToday);
      } else if (r.day > row.day) {
        row.day = r.day;
        row.requestsToday = r.requestsToday;
        row.tokensToday = r.tokensToday;
      }
    }
  }

  async loadCounters(keyHashes: readonly string[], day: string): Promise<CounterRow[]> {
    const wanted = new Set(keyHashes);
    const out: CounterRow[] = [];
    for (const row of this.counters.values()) {
      if (!wanted.has(row.keyHash)) continue;
      out.push(
        row.day === day ? { ...row } : { ...row, day, requestsToday: 0, tokensToday: 0 },
      );
    }
    return out;
  }

  async resetCounters(): Promise<void> {
    for (const row of this.counters.values()) {
      row.usage = 0;
      row.errors = 0;
      row.latencyMs = 0;
    }
  }

  async getConversation(id: string): Promise<StoredConversation | undefined> {
    const c = this.conversations.get(id);
    return c === undefined ? undefined : copy(c);
  }

  async saveConversation(id: string, conversation: StoredConversation): Promise<void> {
    this.conversations.set(id, copy(conversation));
  }

  async deleteConversation(id: string): Promise<void> {
    this.conversations.delete(id);
  }

  async pruneConversations(olderThan: number): Promise<number> {
    let n = 0;
    for (const [id, c] of this.conversations) {
      if (c.updatedAt < olderThan && this.conversations.delete(id)) n++;
    }
    return n;
  }

  async getMeta(name: string): Promise<string | undefined> {
    return this.meta.get(name);
  }

  async setMeta(name: string, value: string): Promise<void> {
    this.meta.set(name, value);
  }

  subscribe(_listener: (change: KeyStateChange) => void): () => void {
    // A local store has no other process to hear from.
    return () => {};
  }

  async close(): Promise<void> {
    // Nothing to release; the data stays readable for tests that inspect it after close.
  }
}
