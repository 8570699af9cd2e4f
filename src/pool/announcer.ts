/**
 * What the pool tells the world: its events (`on`/`off`) and the log lines that go with
 * them, for every key-state change (it listens to {@link KeyStates}) and for a model that no
 * key can serve, and when it can again.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { ErrorKind } from '../gemini/types.ts';
import { isSoft } from './cooldown.ts';
import { describeKey, type KeyRing } from './keys.ts';
import type { KeyStates, StateChange } from './keyStates.ts';
import type { ResolvedOptions } from './options.ts';
import type { Clock } from './time.ts';
import type { PoolEvents } from './types.ts';

/** What a request that no key can take is told, by what keeps the keys away. */
export function unavailableMessage(kind: ErrorKind, retryAfterMs: number | undefined): string {
  switch (kind) {
    case 'quota_exhausted':
      return 'every key has used up its daily quota; try again later or add keys';
    case 'transient':
      return `Gemini is failing with server errors; ${retryAfterMs !== undefined ? `try again in ~${Math.max(1, Math.ceil(retryAfterMs / 1000))} s` : 'try again later'}`;
    case 'auth':
    case 'billing':
      return 'no usable API key: every key is disabled (invalid, suspended or without billing); add working keys';
    default:
      return 'all keys are rate-limited; try again later';
  }
}

/** The log line of a cooldown that ended, by why it ended (a reset is not announced). */
const ENDED_LOG = {
  expired: 'key recovered from cooldown',
  cleared: 'cooldown cleared by an admin',
  released: 'soft cooldown ended: the other keys are overloaded too, or none could take the request',
  reset: 'cooldown ended by a pool reset',
} as const;

/** What the announcer reads. */
export interface AnnouncerParts {
  ring: KeyRing;
  states: KeyStates;
  clock: Clock;
  log: Logger;
  /** `sameAuthFailureWindowMs`: auth refusals of every key within this long point at the path to Gemini. */
  options: Pick<ResolvedOptions, 'sameAuthFailureWindowMs'>;
}

export class Announcer {
  readonly #events = new EventEmitter();
  /** Models no key can serve right now (told once until one can again). */
  readonly #unavailable = new Set<string>();

  constructor(private readonly parts: AnnouncerParts) {
    parts.states.onChange((change) => this.#stateChanged(change));
  }

  on<E extends keyof PoolEvents>(event: E, listener: (payload: PoolEvents[E]) => void): void {
    this.#events.on(event, listener);
  }

  off<E extends keyof PoolEvents>(event: E, listener: (payload: PoolEvents[E]) => void): void {
    this.#events.off(event, listener);
  }

  emit<E extends keyof PoolEvents>(event: E, payload: PoolEvents[E]): void {
    try {
      this.#events.emit(event, payload);
    } catch (err) {
      // A listener's bug must not break a request.
      this.parts.log.error({ event, err: this.parts.ring.redact(String(err)) }, 'event listener failed');
    }
  }

  /** No key can take a request for `model`: said once, until {@link serviceBack}. */
  markUnavailable(model: string, kind: ErrorKind, retryAfterMs?: number): void {
    if (this.#unavailable.has(model)) return;
    this.#unavailable.add(model);
    const message = unavailableMessage(kind, retryAfterMs);
    const sameFailure = kind === 'auth' ? this.#sameAuthFailure() : undefined;
    this.parts.log.error({ model, kind, retryAfterMs, ...(sameFailure ? { sameFailure } : {}) }, sameFailure ? 'every key was refused at once with the same answer: suspect the path to Gemini (base URL, proxy), not the keys' : 'no key is usable for this model');
    this.emit('allKeysUnavailable', { model, kind, message, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}), ...(sameFailure ? { sameFailure } : {}) });
  }

  /** A request for `model` succeeded: if it was unavailable, say it is back. */
  serviceBack(model: string): void {
    if (!this.#unavailable.delete(model)) return;
    this.parts.log.info({ model }, 'service recovered');
    this.emit('serviceRecovered', { model });
  }

  /**
   * Every key (two or more) disabled with the same auth answer within a few seconds: Google
   * revoking every key at once is unlikely, a proxy or a wrong base URL refusing them all is
   * not. Returns how far apart the first and last refusal were, and the answer.
   */
  #sameAuthFailure(): { withinMs: number; reason: string } | undefined {
    const keys = this.parts.ring.live;
    if (keys.length < 2) return undefined;
    let first = Infinity;
    let last = -Infinity;
    let reason: string | undefined;
    for (const k of keys) {
      const d = this.parts.states.disabled(k.index);
      if (!d || d.kind !== 'auth' || (reason !== undefined && d.reason !== reason)) return undefined;
      reason = d.reason;
      first = Math.min(first, d.since);
      last = Math.max(last, d.since);
    }
    const withinMs = last - first;
    return reason !== undefined && withinMs <= this.parts.options.sameAuthFailureWindowMs ? { withinMs, reason } : undefined;
  }

  /** Logs and events of one key-state change; only this process's own changes are announced. */
  #stateChanged(change: StateChange): void {
    const { ring, log, states } = this.parts;
    const local = change.source === 'local';
    const ids = (keys: readonly number[]) => keys.map((i) => ring.keys[i]!.id);
    const now = this.parts.clock.now();
    switch (change.type) {
      case 'cooling': {
        const { model, cooling } = change;
        const by = ring.keys[change.by]!;
        if (change.capped) log.warn({ keys: ids(change.keys), model, kind: cooling.kind, cooldownMs: cooling.until - now }, 'a cooldown longer than the maximum was cut to it');
        if (!local) break;
        if (isSoft(cooling)) log.warn({ key: by.id, model, kind: cooling.kind, cooldownMs: cooling.until - now }, `key skipped for this model for a while: ${cooling.kind === 'timeout' ? 'too slow' : 'overloaded'} while other keys answered`);
        else if (change.scope === 'key') log.warn({ key: by.id, model, cooldownMs: cooling.until - now }, 'key cooling after repeated server errors');
        else log.warn({ key: by.id, keys: ids(change.keys), group: by.groupLabel, model, kind: cooling.kind, cooldownMs: cooling.until - now }, 'quota group cooling');
        this.emit('keyCooldown', { keyId: by.id, keyIds: ids(change.keys), group: by.groupLabel, model, untilMs: cooling.until, reason: cooling.reason, kind: cooling.kind });
        break;
      }
      case 'disabled': {
        const { disabled } = change;
        const by = ring.keys[change.by]!;
        if (!local) break;
        if (disabled.manual) log.warn({ key: describeKey(by) }, 'key disabled by an operator');
        else if (change.scope === 'key') log.error({ key: describeKey(by), reason: disabled.reason }, 'key disabled until a re-check succeeds');
        else log.error({ key: by.id, keys: ids(change.keys), group: by.groupLabel }, 'quota group disabled (billing) until a re-check succeeds');
        this.emit('keyDisabled', { keyId: by.id, keyIds: ids(change.keys), reason: disabled.reason, kind: disabled.kind });
        break;
      }
      case 'enabled':
        if (!local) break;
        for (const i of change.back) {
          const k = ring.keys[i]!;
          log.info({ key: describeKey(k) }, change.byOperator ? 'key enabled by an operator' : 'check passed; key enabled again');
          this.emit('keyRecovered', { keyId: k.id, model: null });
        }
        break;
      case 'added': {
        const k = ring.keys[change.keys[0]!]!;
        log.info({ key: describeKey(k), group: k.groupLabel, by: local ? 'this process' : 'another process' }, 'key added to the pool');
        this.emit('keyAdded', { keyId: k.id, hint: k.hint, group: k.groupLabel });
        break;
      }
      case 'retired': {
        const k = ring.keys[change.keys[0]!]!;
        log.info({ key: describeKey(k), by: local ? 'this process' : 'another process' }, 'key removed from the pool');
        this.emit('keyRemoved', { keyId: k.id });
        break;
      }
      case 'ended': {
        const { model } = change;
        if (!local || change.cause === 'reset') break;
        for (const i of change.keys) {
          if (!states.usable(i, model, now)) continue;
          const key = ring.keys[i]!;
          log.info({ key: key.id, model }, ENDED_LOG[change.cause]);
          this.emit('keyRecovered', { keyId: key.id, model });
        }
        break;
      }
    }
  }
}
