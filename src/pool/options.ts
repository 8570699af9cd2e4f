/**
 * The pool's options: their documentation, their defaults (the only place they are written)
 * and their validation. The environment configuration (`config.ts`) takes its defaults from
 * {@link POOL_DEFAULTS}.
 */
import type { Logger } from 'pino';
import type { ClientFactory } from '../gemini/adapter.ts';
import type { KeySpec } from './keys.ts';
import type { LimiterOptions } from './limiter.ts';
import { DEFAULT_ROTATION_RULES, type RotationRules } from './select.ts';
import type { Clock } from './time.ts';
import { STRATEGIES, type Strategy } from './types.ts';

/** Options of {@link GeminiAPIPool}. Every duration is in ms. */
export interface GeminiAPIPoolOptions {
  /** API keys, as `key`, `group:key` or `{ key, group }`. Duplicates are dropped. */
  keys: ReadonlyArray<string | KeySpec>;
  /** Models served; the first is the default. @default ['gemini-2.5-flash'] */
  models?: string[];
  /** Instances per model. @default 5 */
  poolSize?: number;
  /** @default 'health' */
  strategy?: Strategy;
  /** Gemini endpoint; undefined means Google's. */
  baseUrl?: string;
  /** @default 'v1beta' */
  apiVersion?: string;
  /**
   * An attempt without its answer (a stream: without its first text) this long ends, and so
   * does a started stream that sends no text this long. @default 30_000
   */
  attemptTimeoutMs?: number;
  /** A whole request, retries and waits included, until its answer starts streaming to the caller. @default 60_000 */
  deadlineMs?: number;
  /** @default 4 */
  maxAttempts?: number;
  /** Health rotation runs at most this often. @default 300_000 */
  rotationIntervalMs?: number;
  /** Disabled keys are re-checked this often. @default 3_600_000 */
  recheckIntervalMs?: number;
  /** Cooldown for a per-minute 429 without RetryInfo. @default 60_000 */
  rateLimitCooldownMs?: number;
  /** First cooldown for a 429 without details; doubles on each repeat. @default 30_000 */
  bareRateLimitCooldownMs?: number;
  /** The longest any cooldown lasts (RetryInfo's delay included), except a day's quota, which ends at Pacific midnight. @default 600_000 */
  maxCooldownMs?: number;
  /** Cooldown after repeated server errors on one key. @default 30_000 */
  transientCooldownMs?: number;
  /** Consecutive server errors on one key before it cools. @default 3 */
  transientFailuresBeforeCooldown?: number;
  /** Backoff base when the same key must be retried: 2 s, 4 s, 8 s with jitter. @default 2_000 */
  retryBackoffMs?: number;
  /**
   * The wait when every key of a model answers 503 (model overloaded): one wait for the
   * model, shared by every request, doubling while the overload lasts. @default 1_000
   */
  overloadedBackoffMs?: number;
  /**
   * A 503 or a timeout counts against its key only when another key answered the same model
   * within this long: then the overload (or slowness) is the key's own. @default 5_000
   */
  localOverloadWindowMs?: number;
  /** 503s or timeouts in a row that are the key's own before the key is skipped for that model. @default 3 */
  overloadStrikes?: number;
  /** How long such a key is first skipped for that model (a soft cooldown); doubles on each repeat. @default 5_000 */
  softCooldownMs?: number;
  /** The longest soft cooldown. @default 60_000 */
  maxSoftCooldownMs?: number;
  /** Consecutive failures of one instance before it is rebuilt. @default 3 */
  instanceFailuresBeforeRebuild?: number;
  /**
   * When every key is refused with the same auth answer within this long, the pool suspects
   * the path to Gemini (a proxy, a wrong base URL) rather than the keys, and says so in its
   * `allKeysUnavailable` event. @default 5_000
   */
  sameAuthFailureWindowMs?: number;
  /** Thresholds of the health rotation. */
  rotationRules?: Partial<RotationRules>;
  /**
   * Known quota per group (project) and model. The pool never sends past a known limit;
   * limits Gemini names in a 429 are learned. `maxQueued` bounds the requests waiting for
   * quota (@default 100).
   */
  limits?: LimiterOptions & { maxQueued?: number };
  /** Injected time and randomness. */
  clock?: Partial<Clock>;
  /** pino logger; silent when omitted. */
  logger?: Logger;
  /** Builds the client of one instance. @default the @google/genai adapter */
  clientFactory?: ClientFactory;
  /** Run rotation and re-checks on interval timers too (they also run on the request path). @default true */
  timers?: boolean;
}

/** Options after defaults and validation. */
export type ResolvedOptions = Required<Omit<GeminiAPIPoolOptions, 'keys' | 'baseUrl' | 'clock' | 'logger' | 'clientFactory' | 'rotationRules' | 'limits'>> & {
  baseUrl: string | undefined;
  rotationRules: RotationRules;
};

/** Every default of the pool, in one place. */
export const POOL_DEFAULTS = {
  models: ['gemini-2.5-flash'],
  poolSize: 5,
  strategy: 'health',
  apiVersion: 'v1beta',
  attemptTimeoutMs: 30_000,
  deadlineMs: 60_000,
  maxAttempts: 4,
  rotationIntervalMs: 300_000,
  recheckIntervalMs: 3_600_000,
  rateLimitCooldownMs: 60_000,
  bareRateLimitCooldownMs: 30_000,
  maxCooldownMs: 600_000,
  transientCooldownMs: 30_000,
  transientFailuresBeforeCooldown: 3,
  retryBackoffMs: 2_000,
  overloadedBackoffMs: 1_000,
  localOverloadWindowMs: 5_000,
  overloadStrikes: 3,
  softCooldownMs: 5_000,
  maxSoftCooldownMs: 60_000,
  instanceFailuresBeforeRebuild: 3,
  sameAuthFailureWindowMs: 5_000,
  maxQueued: 100,
  flushIntervalMs: 1_000,
} as const satisfies Record<string, unknown> & { strategy: Strategy };

/** `v` when it is an integer >= 1; else a TypeError naming the option. */
export function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new TypeError(`GeminiAPIPool: \`${name}\` must be an integer >= 1 (got ${v})`);
  return v;
}

/** `v` when it is a finite number >= 0; else a TypeError naming the option. */
export function nonNegative(name: string, v: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new TypeError(`GeminiAPIPool: \`${name}\` must be a number >= 0 (got ${v})`);
  return v;
}

/** The options with their defaults, validated: a TypeError names the first bad one. */
export function resolveOptions(options: GeminiAPIPoolOptions): ResolvedOptions {
  const d = POOL_DEFAULTS;
  const models = (options.models ?? d.models).map((m) => m.trim()).filter(Boolean);
  if (models.length === 0) throw new TypeError('GeminiAPIPool: `models` must name at least one model');
  const strategy = options.strategy ?? d.strategy;
  if (!STRATEGIES.includes(strategy)) {
    throw new TypeError(`GeminiAPIPool: \`strategy\` must be one of ${STRATEGIES.join(', ')} (got ${String(strategy)})`);
  }
  return {
    models: [...new Set(models)],
    poolSize: positiveInt('poolSize', options.poolSize ?? d.poolSize),
    strategy,
    baseUrl: options.baseUrl,
    apiVersion: options.apiVersion ?? d.apiVersion,
    attemptTimeoutMs: positiveInt('attemptTimeoutMs', options.attemptTimeoutMs ?? d.attemptTimeoutMs),
    deadlineMs: positiveInt('deadlineMs', options.deadlineMs ?? d.deadlineMs),
    maxAttempts: positiveInt('maxAttempts', options.maxAttempts ?? d.maxAttempts),
    rotationIntervalMs: positiveInt('rotationIntervalMs', options.rotationIntervalMs ?? d.rotationIntervalMs),
    recheckIntervalMs: positiveInt('recheckIntervalMs', options.recheckIntervalMs ?? d.recheckIntervalMs),
    rateLimitCooldownMs: nonNegative('rateLimitCooldownMs', options.rateLimitCooldownMs ?? d.rateLimitCooldownMs),
    bareRateLimitCooldownMs: nonNegative('bareRateLimitCooldownMs', options.bareRateLimitCooldownMs ?? d.bareRateLimitCooldownMs),
    maxCooldownMs: nonNegative('maxCooldownMs', options.maxCooldownMs ?? d.maxCooldownMs),
    transientCooldownMs: nonNegative('transientCooldownMs', options.transientCooldownMs ?? d.transientCooldownMs),
    transientFailuresBeforeCooldown: positiveInt('transientFailuresBeforeCooldown', options.transientFailuresBeforeCooldown ?? d.transientFailuresBeforeCooldown),
    retryBackoffMs: nonNegative('retryBackoffMs', options.retryBackoffMs ?? d.retryBackoffMs),
    overloadedBackoffMs: nonNegative('overloadedBackoffMs', options.overloadedBackoffMs ?? d.overloadedBackoffMs),
    localOverloadWindowMs: nonNegative('localOverloadWindowMs', options.localOverloadWindowMs ?? d.localOverloadWindowMs),
    overloadStrikes: positiveInt('overloadStrikes', options.overloadStrikes ?? d.overloadStrikes),
    softCooldownMs: nonNegative('softCooldownMs', options.softCooldownMs ?? d.softCooldownMs),
    maxSoftCooldownMs: nonNegative('maxSoftCooldownMs', options.maxSoftCooldownMs ?? d.maxSoftCooldownMs),
    instanceFailuresBeforeRebuild: positiveInt('instanceFailuresBeforeRebuild', options.instanceFailuresBeforeRebuild ?? d.instanceFailuresBeforeRebuild),
    sameAuthFailureWindowMs: nonNegative('sameAuthFailureWindowMs', options.sameAuthFailureWindowMs ?? d.sameAuthFailureWindowMs),
    rotationRules: { ...DEFAULT_ROTATION_RULES, ...options.rotationRules },
    timers: options.timers ?? true,
  };
}
