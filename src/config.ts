/**
 * Configuration: the only reader of process.env. A zod schema turns the environment into a
 * typed {@link Config}; every problem is reported at once, in one line each, and no message
 * ever echoes a key.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { parseKeySpec, redactSecrets, type KeySpec } from './pool/keys.ts';
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

/** Known quota of one quota group (Google Cloud project) for one model. */
export interface ModelLimits {
  rpm?: number;
  rpd?: number;
  tpm?: number;
}

export interface LimitsConfig {
  /** Applies to every model unless `perModel` says otherwise. */
  defaults: ModelLimits;
  perModel: Record<string, ModelLimits>;
  /** Requests that may wait for quota at once; more are refused at once. */
  maxQueued: number;
}

export interface DiscordConfig {
  /** Required to run the bot; not needed by the CLI. */
  token: string | undefined;
  applicationId: string | undefined;
  guildId: string | undefined;
  /** discord.js `rest.api`; undefined means Discord's. */
  apiUrl: string | undefined;
  adminUserIds: string[];
  alertChannelId: string | undefined;
}

export interface BotConfig {
  maxPromptChars: number;
  chatHistoryTurns: number;
  /** Conversations idle this long are deleted; 0 keeps them forever. */
  chatRetentionDays: number;
  maxConcurrent: number;
  maxQueued: number;
  editIntervalMs: number;
  /** An answer longer than this many Discord messages is cut, with a line saying so. */
  maxAnswerMessages: number;
  shutdownGraceMs: number;
  alertMinIntervalMs: number;
  systemPrompt: string | undefined;
  healthPort: number | undefined;
}

export interface StoreConfig {
  kind: 'sqlite' | 'memory' | 'redis';
  dataDir: string;
  redisUrl: string | undefined;
  flushIntervalMs: number;
  /** `auto` or a number of shards, for `npm run start:sharded`. */
  shardCount: number | 'auto';
  /** Which shards this machine runs (all when undefined): for shards spread over machines. */
  shardIds: number[] | undefined;
}

export interface Config {
  gemini: GeminiConfig;
  limits: LimitsConfig;
  discord: DiscordConfig;
  bot: BotConfig;
  store: StoreConfig;
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

const optionalInt = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return undefined;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be a whole number from ${min} to ${max} (got "${v}")` });
        return z.NEVER;
      }
      return n;
    });

const snowflake = z
  .string()
  .trim()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v === '') return undefined;
    if (!/^\d{5,25}$/.test(v)) {
      ctx.addIssue({ code: 'custom', message: `must be a Discord id (digits only, got "${v}")` });
      return z.NEVER;
    }
    return v;
  });

const snowflakes = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const ids = (v ?? '').split(/[,\s]+/).map((s) => s.trim()).filter(Boolean);
    const bad = ids.filter((id) => !/^\d{5,25}$/.test(id));
    if (bad.length > 0) {
      ctx.addIssue({ code: 'custom', message: `must be Discord user ids separated by commas (got "${bad.join(', ')}")` });
      return z.NEVER;
    }
    return ids;
  });

/** `model:rpm=10,rpd=250;other:rpm=5`: limits per model. */
const modelLimits = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const out: Record<string, ModelLimits> = {};
    for (const entry of (v ?? '').split(';').map((s) => s.trim()).filter(Boolean)) {
      const m = /^([^:\s]+)\s*:\s*(.+)$/.exec(entry);
      const limits: ModelLimits = {};
      const pairs = m ? m[2]!.split(',').map((p) => p.trim()) : [];
      const ok =
        m !== null &&
        pairs.every((p) => {
          const kv = /^(rpm|rpd|tpm)\s*=\s*(\d+)$/.exec(p);
          if (!kv || Number(kv[2]) < 1) return false;
          limits[kv[1] as keyof ModelLimits] = Number(kv[2]);
          return true;
        });
      if (!ok) {
        ctx.addIssue({ code: 'custom', message: `each entry must look like model:rpm=10,rpd=250 (got "${entry}")` });
        return z.NEVER;
      }
      out[m![1]!] = limits;
    }
    return out;
  });

const shardCount = z
  .string()
  .trim()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v === '' || v === 'auto') return 'auto' as const;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) {
      ctx.addIssue({ code: 'custom', message: `must be "auto" or a whole number >= 1 (got "${v}")` });
      return z.NEVER;
    }
    return n;
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
  GEMINI_RPM: optionalInt(1),
  GEMINI_RPD: optionalInt(1),
  GEMINI_TPM: optionalInt(1),
  GEMINI_MODEL_LIMITS: modelLimits,
  GEMINI_MAX_QUEUED: int(0, 100),
  DISCORD_TOKEN: z.string().trim().optional().transform((v) => v || undefined),
  DISCORD_APPLICATION_ID: snowflake,
  DISCORD_GUILD_ID: snowflake,
  DISCORD_API_URL: url,
  ADMIN_USER_IDS: snowflakes,
  ALERT_CHANNEL_ID: snowflake,
  HEALTH_PORT: optionalInt(0, 65_535),
  MAX_PROMPT_CHARS: int(1, 4_000),
  CHAT_HISTORY_TURNS: int(1, 20),
  CHAT_RETENTION_DAYS: int(0, 30),
  MAX_CONCURRENT_REQUESTS: int(1, 4),
  MAX_QUEUED_REQUESTS: int(0, 50),
  EDIT_INTERVAL_MS: int(250, 1_000),
  MAX_ANSWER_MESSAGES: int(1, 5),
  SHUTDOWN_GRACE_MS: int(0, 10_000),
  ALERT_MIN_INTERVAL_MS: int(0, 60_000),
  SYSTEM_PROMPT: z.string().optional().transform((v) => (v && v.trim() ? v.trim() : undefined)),
  STORE: enumOf(['sqlite', 'memory', 'redis'] as const, 'sqlite'),
  DATA_DIR: z.string().trim().optional().transform((v) => v || './data'),
  REDIS_URL: z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return undefined;
      if (!/^rediss?:\/\//.test(v)) {
        ctx.addIssue({ code: 'custom', message: 'must start with redis:// or rediss://' });
        return z.NEVER;
      }
      return v;
    }),
  STORE_FLUSH_INTERVAL_MS: int(10, 1_000),
  SHARD_COUNT: shardCount,
  SHARD_IDS: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const items = (v ?? '').split(',').map((x) => x.trim()).filter(Boolean);
      if (items.length === 0) return undefined;
      const ids = items.map(Number);
      if (ids.some((n) => !Number.isInteger(n) || n < 0)) {
        ctx.addIssue({ code: 'custom', message: `must be shard numbers separated by commas, e.g. 0,1 (got "${v}")` });
        return z.NEVER;
      }
      return [...new Set(ids)];
    }),
  LOG_LEVEL: enumOf(LOG_LEVELS, 'info'),
});

/** Every variable the configuration reads (the numbered GEMINI_API_KEY_N aside). */
export const CONFIG_VARIABLES: readonly string[] = ['GEMINI_API_KEYS', 'GEMINI_API_KEY', 'GEMINI_KEYS_FILE', ...Object.keys(schema.shape)];

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
function collectKeys(env: Env, problems: string[]): KeySpec[] {
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
  if (parsed.success && parsed.data.STORE === 'redis' && !parsed.data.REDIS_URL) {
    problems.push('REDIS_URL: required when STORE=redis (for example redis://127.0.0.1:6379)');
  }
  const secrets = [...keys.map((k) => k.key), ...(env.DISCORD_TOKEN?.trim() ? [env.DISCORD_TOKEN.trim()] : [])];
  if (parsed.success && parsed.data.SHARD_IDS) {
    const count = parsed.data.SHARD_COUNT;
    if (count === 'auto') problems.push('SHARD_IDS: needs a fixed SHARD_COUNT (every machine must agree on the total)');
    else if (parsed.data.SHARD_IDS.some((id) => id >= count)) problems.push(`SHARD_IDS: shard numbers go from 0 to SHARD_COUNT - 1 (${count - 1})`);
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems.map((p) => redactSecrets(p, secrets)));
  const e = parsed.data;
  const defaults: ModelLimits = {};
  if (e.GEMINI_RPM !== undefined) defaults.rpm = e.GEMINI_RPM;
  if (e.GEMINI_RPD !== undefined) defaults.rpd = e.GEMINI_RPD;
  if (e.GEMINI_TPM !== undefined) defaults.tpm = e.GEMINI_TPM;
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
    limits: { defaults, perModel: e.GEMINI_MODEL_LIMITS, maxQueued: e.GEMINI_MAX_QUEUED },
    discord: {
      token: e.DISCORD_TOKEN,
      applicationId: e.DISCORD_APPLICATION_ID,
      guildId: e.DISCORD_GUILD_ID,
      apiUrl: e.DISCORD_API_URL,
      adminUserIds: e.ADMIN_USER_IDS,
      alertChannelId: e.ALERT_CHANNEL_ID,
    },
    bot: {
      maxPromptChars: e.MAX_PROMPT_CHARS,
      chatHistoryTurns: e.CHAT_HISTORY_TURNS,
      chatRetentionDays: e.CHAT_RETENTION_DAYS,
      maxConcurrent: e.MAX_CONCURRENT_REQUESTS,
      maxQueued: e.MAX_QUEUED_REQUESTS,
      editIntervalMs: e.EDIT_INTERVAL_MS,
      maxAnswerMessages: e.MAX_ANSWER_MESSAGES,
      shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
      alertMinIntervalMs: e.ALERT_MIN_INTERVAL_MS,
      systemPrompt: e.SYSTEM_PROMPT,
      healthPort: e.HEALTH_PORT,
    },
    store: {
      kind: e.STORE,
      dataDir: e.DATA_DIR,
      redisUrl: e.REDIS_URL,
      flushIntervalMs: e.STORE_FLUSH_INTERVAL_MS,
      shardCount: e.SHARD_COUNT,
      shardIds: e.SHARD_IDS,
    },
    logLevel: e.LOG_LEVEL,
  };
}

const TOKEN_PROBLEM = 'DISCORD_TOKEN: required to run the bot (Discord Developer Portal -> your application -> Bot -> Reset Token)';

/** The bot needs a token; the CLI does not. @throws ConfigError when it is missing. */
export function requireDiscordToken(config: Config): string {
  if (!config.discord.token) throw new ConfigError([TOKEN_PROBLEM]);
  return config.discord.token;
}

/**
 * The configuration the bot needs, token included: every problem, the missing token among
 * them, is reported at once.
 * @throws ConfigError listing every problem.
 */
export function loadBotConfig(env: Env = process.env): Config {
  try {
    const config = loadConfig(env);
    requireDiscordToken(config);
    return config;
  } catch (err) {
    if (!isConfigError(err) || env.DISCORD_TOKEN?.trim() || err.problems.includes(TOKEN_PROBLEM)) throw err;
    throw new ConfigError([...err.problems, TOKEN_PROBLEM]);
  }
}

/**
 * Loads `.env` from the working directory into the environment, when there is one.
 * Variables already set win over the file.
 */
export function loadDotEnv(path = '.env'): void {
  if (existsSync(path)) process.loadEnvFile(path);
}
