/**
 * Configuration: the only reader of process.env. A zod schema turns the environment into a
 * typed {@link Config}; every problem is reported at once, in one line each, and no message
 * ever echoes a key.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { parseKeySpec, type KeySpec } from './pool/keys.ts';
import { STRATEGIES, type Strategy } from './pool/types.ts';

/** Bad configuration: one line per problem, no stack trace needed to understand it. */
export class ConfigError extends Error {
  readonly brand = 'ConfigError' as const;
  constructor(readonly problems: string[]) {
    super(`Configuration problems:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export const isConfigError = (e: unknown): e is ConfigError =>
  e instanceof Error && (e as { brand?: string }).brand === 'ConfigError';

export interface GeminiConfig {
  keys: KeySpec[];
  models: string[];
  poolSize: number;
  strategy: Strategy;
  baseUrl: string | undefined;
  apiVersion: string;
  attemptTimeoutMs: number;
  deadlineMs: number;
  maxAttempts: number;
  rotationIntervalMs: number;
  recheckIntervalMs: number;
  rateLimitCooldownMs: number;
  bareRateLimitCooldownMs: number;
  maxCooldownMs: number;
  transientCooldownMs: number;
}

export interface Config {
  gemini: GeminiConfig;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** A whole number within bounds, from a string variable, with a default. */
const int = (min: number, def: number) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return def;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) {
        ctx.addIssue({ code: 'custom', message: `must be a whole number >= ${min} (got "${v}")` });
        return z.NEVER;
      }
      return n;
    });

const enumOf = <T extends string>(values: readonly T[], def: T) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return def;
      if (!(values as readonly string[]).includes(v)) {
        ctx.addIssue({ code: 'custom', message: `must be one of ${values.join(', ')} (got "${v}")` });
        return z.NEVER;
      }
      return v as T;
    });

const url = z
  .string()
  .trim()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v === '') return undefined;
    try {
      const u = new URL(v);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('protocol');
      return v.replace(/\/+$/, '');
    } catch {
      ctx.addIssue({ code: 'custom', message: `must be an http(s) URL (got "${v}")` });
      return z.NEVER;
    }
  });

const list = (def: string[]) =>
  z
    .string()
    .optional()
    .transform((v) => {
      const items = (v ?? '').split(/[,\n]/).map((s) => s.trim()).filter(Boolean);
      return items.length > 0 ? [...new Set(items)] : def;
    });

/** The schema of every variable, keyed by its name. */
const schema = z.object({
  GEMINI_MODELS: list(['gemini-2.5-flash']),
  GEMINI_POOL_SIZE: int(1, 5),
  GEMINI_STRATEGY: enumOf(STRATEGIES, 'health'),
  GEMINI_BASE_URL: url,
  GEMINI_API_VERSION: enumOf(['v1beta', 'v1', 'v1alpha'] as const, 'v1beta'),
  GEMINI_TIMEOUT_MS: int(1, 30_000),
  GEMINI_DEADLINE_MS: int(1, 60_000),
  GEMINI_MAX_ATTEMPTS: int(1, 4),
  GEMINI_ROTATION_INTERVAL_MS: int(1, 300_000),
  GEMINI_RECHECK_INTERVAL_MS: int(1, 3_600_000),
  GEMINI_RATE_LIMIT_COOLDOWN_MS: int(0, 60_000),
  GEMINI_BARE_429_COOLDOWN_MS: int(0, 30_000),
  GEMINI_MAX_COOLDOWN_MS: int(0, 600_000),
  GEMINI_TRANSIENT_COOLDOWN_MS: int(0, 30_000),
  LOG_LEVEL: enumOf(LOG_LEVELS, 'info'),
});

/** Splits a list of keys given as one variable (comma or newline separated). */
function splitKeys(v: string | undefined): string[] {
  return (v ?? '').split(/[,\n\r]/).map((s) => s.trim()).filter(Boolean);
}

/** GEMINI_API_KEY, then GEMINI_API_KEY_2 ... GEMINI_API_KEY_N in numeric order (any N). */
function numberedKeys(env: Env): string[] {
  const numbered = Object.keys(env)
    .map((name) => ({ name, m: /^GEMINI_API_KEY_(\d+)$/.exec(name) }))
    .filter((x): x is { name: string; m: RegExpExecArray } => x.m !== null)
    .sort((a, b) => Number(a.m[1]) - Number(b.m[1]));
  return [env.GEMINI_API_KEY, ...numbered.map((x) => env[x.name])].flatMap((v) => splitKeys(v));
}

function keysFromFile(path: string, problems: string[]): string[] {
  const full = resolve(path);
  if (!existsSync(full)) {
    problems.push(`GEMINI_KEYS_FILE: no such file: ${full}`);
    return [];
  }
  if (!statSync(full).isFile()) {
    problems.push(`GEMINI_KEYS_FILE: not a file: ${full}`);
    return [];
  }
  return readFileSync(full, 'utf8')
    .split(/\r?\n/)
    .map((line) => line.replace(/#.*$/, '').trim())
    .filter(Boolean);
}

/**
 * Reads the keys from GEMINI_API_KEYS, GEMINI_API_KEY(_N) and GEMINI_KEYS_FILE, in that
 * order, dropping duplicates. A key may carry its quota group as `group:key`.
 */
export function collectKeys(env: Env, problems: string[]): KeySpec[] {
  const raw = [...splitKeys(env.GEMINI_API_KEYS), ...numberedKeys(env)];
  if (env.GEMINI_KEYS_FILE?.trim()) raw.push(...keysFromFile(env.GEMINI_KEYS_FILE.trim(), problems));
  const seen = new Set<string>();
  const keys: KeySpec[] = [];
  for (const r of raw) {
    const spec = parseKeySpec(r);
    if (seen.has(spec.key)) continue;
    seen.add(spec.key);
    keys.push(spec);
  }
  return keys;
}

/** Removes any configured key from a message before it is shown. */
function scrub(text: string, keys: KeySpec[]): string {
  let out = text;
  for (const k of keys) if (k.key.length >= 4 && out.includes(k.key)) out = out.split(k.key).join('<a key>');
  return out;
}

/**
 * Builds the typed configuration from an environment (default `process.env`).
 * @throws ConfigError listing every problem.
 */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const keys = collectKeys(env, problems);
  if (keys.length === 0 && !problems.some((p) => p.startsWith('GEMINI_KEYS_FILE'))) {
    problems.push('no Gemini API key: set GEMINI_API_KEY, GEMINI_API_KEYS or GEMINI_KEYS_FILE (see .env.example)');
  }
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join('.')}: ${issue.message}`);
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems.map((p) => scrub(p, keys)));
  const e = parsed.data;
  return {
    gemini: {
      keys,
      models: e.GEMINI_MODELS,
      poolSize: e.GEMINI_POOL_SIZE,
      strategy: e.GEMINI_STRATEGY,
      baseUrl: e.GEMINI_BASE_URL,
      apiVersion: e.GEMINI_API_VERSION,
      attemptTimeoutMs: e.GEMINI_TIMEOUT_MS,
      deadlineMs: e.GEMINI_DEADLINE_MS,
      maxAttempts: e.GEMINI_MAX_ATTEMPTS,
      rotationIntervalMs: e.GEMINI_ROTATION_INTERVAL_MS,
      recheckIntervalMs: e.GEMINI_RECHECK_INTERVAL_MS,
      rateLimitCooldownMs: e.GEMINI_RATE_LIMIT_COOLDOWN_MS,
      bareRateLimitCooldownMs: e.GEMINI_BARE_429_COOLDOWN_MS,
      maxCooldownMs: e.GEMINI_MAX_COOLDOWN_MS,
      transientCooldownMs: e.GEMINI_TRANSIENT_COOLDOWN_MS,
    },
    logLevel: e.LOG_LEVEL,
  };
}

/**
 * Loads `.env` from the working directory into the environment, when there is one.
 * Variables already set win over the file.
 */
export function loadDotEnv(path = '.env'): void {
  if (existsSync(path)) process.loadEnvFile(path);
}
