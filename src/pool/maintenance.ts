/**
 * The pool's periodic work: ending due cooldowns, the health rotation and the re-check of
 * disabled keys, run from a timer and from the request path (whichever comes first). Every
 * background task here logs its failure and never throws.
 */
import type { Logger } from 'pino';
import type { KeyRing } from './keys.ts';
import type { KeyStates } from './keyStates.ts';
import type { ResolvedOptions } from './options.ts';
import type { Clock } from './time.ts';

/** What maintenance reads and runs. */
export interface MaintenanceParts {
  ring: KeyRing;
  states: KeyStates;
  clock: Clock;
  log: Logger;
  options: Pick<ResolvedOptions, 'rotationIntervalMs' | 'recheckIntervalMs' | 'timers'>;
  /** The health rotation. */
  rotate(): void;
  /** Checks one key; what it learns becomes the key's state. */
  check(index: number): Promise<{ ok: true } | { ok: false; error: { kind: string } }>;
}

export class Maintenance {
  #lastRotation: number;
  #lastRecheck: number;
  #recheckRunning: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(private readonly parts: MaintenanceParts) {
    const now = parts.clock.now();
    this.#lastRotation = now;
    this.#lastRecheck = now;
    if (parts.options.timers) {
      this.#timer = setInterval(() => this.run(), Math.min(parts.options.rotationIntervalMs, parts.options.recheckIntervalMs));
      this.#timer.unref();
    }
  }

  /** The rotation ran now (from here or by hand). */
  rotated(now: number): void {
    this.#lastRotation = now;
  }

  /** Whatever is due at `now`: expired cooldowns end, rotation, re-check. Never throws. */
  run(now = this.parts.clock.now()): void {
    const { states, options } = this.parts;
    try {
      states.sweep(now);
      if (now - this.#lastRotation >= options.rotationIntervalMs) this.parts.rotate();
      if (!this.#stopped && now - this.#lastRecheck >= options.recheckIntervalMs && states.anyDisabled) {
        this.recheck().catch((err: unknown) => this.failed('re-check', err));
      }
    } catch (err) {
      this.failed('maintenance', err);
    }
  }

  /** Re-checks every disabled key now (one run at a time); a key that answers is enabled again. */
  recheck(): Promise<void> {
    if (this.#recheckRunning) return this.#recheckRunning;
    this.#lastRecheck = this.parts.clock.now();
    this.#recheckRunning = this.#recheckAll().finally(() => (this.#recheckRunning = undefined));
    return this.#recheckRunning;
  }

  /** Stops the timer and waits for a re-check in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#recheckRunning;
  }

  /** One log line for a background task that failed (its error redacted). */
  failed(task: string, err: unknown): void {
    let text: string;
    try {
      text = this.parts.ring.redact(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
    } catch {
      text = 'unprintable error';
    }
    this.parts.log.error({ task, err: text }, `${task} failed; it runs again later`);
  }

  async #recheckAll(): Promise<void> {
    const { ring, states, log } = this.parts;
    for (const index of states.recheckTargets()) {
      const key = ring.keys[index]!;
      const r = await this.parts.check(index).catch((err: unknown) => {
        this.failed('re-check', err);
        return undefined;
      });
      // A passing check has enabled the key (and its project) again.
      if (!r || r.ok) continue;
      if (r.error.kind === 'auth' || r.error.kind === 'billing') log.info({ key: key.id, kind: r.error.kind }, 're-check failed; key stays disabled');
      // Rate limited or a network hiccup says nothing about the key itself: try next time.
      else log.info({ key: key.id, kind: r.error.kind }, 're-check inconclusive; key stays disabled');
    }
  }
}
