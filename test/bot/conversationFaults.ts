/**
 * A store whose conversation calls can be made to fail or stall, as Redis does while it
 * is away (ioredis rejects a command after its timeout) or hangs; everything else passes
 * through to the wrapped store.
 */
import type { StateStore } from '../../src/store/types.ts';

/** How conversation calls behave: pass, reject, or never answer (`times` calls, then pass). */
export type ConversationFault = { kind: 'none' } | { kind: 'reject' | 'stall'; times: number };

const CONVERSATION_CALLS = new Set<PropertyKey>(['getConversation', 'saveConversation', 'deleteConversation']);

/** Switchable faults on the conversation calls of a store. */
export class ConversationFaults {
  fault: ConversationFault = { kind: 'none' };
  /** Conversation calls that were failed or stalled. */
  faulted = 0;

  /** The store with its conversation calls under this switch. */
  readonly wrap = (store: StateStore): StateStore =>
    new Proxy(store, {
      get: (target, prop) => {
        const value: unknown = Reflect.get(target, prop, target);
        if (typeof value !== 'function') return value;
        const method = value as (...args: unknown[]) => unknown;
        if (!CONVERSATION_CALLS.has(prop)) return method.bind(target);
        return (...args: unknown[]): unknown => {
          const f = this.fault;
          if (f.kind === 'none' || f.times <= 0) return method.apply(target, args);
          f.times--;
          this.faulted++;
          return f.kind === 'reject' ? Promise.reject(new Error('Command timed out')) : new Promise(() => undefined);
        };
      },
    });
}
