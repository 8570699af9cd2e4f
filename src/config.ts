/**
 * Configuration: the only reader of process.env. A zod schema turns the environment into a
 * typed {@link Config}; every problem is reported at once, in one line each, and no message
 * ever echoes a key.
 */
import { existsSync } from 'node:fs';
import { z } from 'zod';
import { collectKeys, configWarnings } from './configKeys.ts';
import { bool, clientWeights, dashboardPassword, dashboardPasswordHash, discordToken, enumOf, host, int, modelLimits, models, optionalInt, redisUrl, shardCount, shardIds, snowflake, snowflakes, stateSecret, url } from './configFields.ts';
import { redactSecrets, type KeySpec } from './pool/keys.ts';
import { POOL_DEFAULTS } from './pool/options.ts';
import type { StoreOptions } from './store/index.ts';
import { STRATEGIES, type Strategy } from './pool/types.ts';

/** Bad configuration: one line per problem, no stack trace needed to understand it. */
export class ConfigError extends Error {
  readonly brand = 'ConfigError' as const;
  /** Near-misses found on the way (`GEMINI_API_KEY3` ...): they often explain a problem. */
  constructor(
    readonly problems: string[],
    readonly warnings: readonly string[] = [],
  ) {
    super(`Configuration problems:\n${problems.map((p) => `  - ${p}`).join('\n')}${warnings.length > 0 ? `\n${formatWarnings(warnings)}` : ''}`);
    this.name = 'ConfigError';
  }
}

/** Warnings as printed at start: a heading, then one line each. */
export function formatWarnings(warnings: readonly string[]): string {
  return `Configuration warnings:\n${warnings.map((w) => `  - ${w}`).join('\n')}`;
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
  /** The longest a request waits for quota behind others; one whose turn comes later is refused at once. */
  maxWaitMs: number;
  /** Fair-share weights by the pool's client name (a gateway token's client is its bare name). */
  clientWeights: Record<string, number>;
}

/** Limits of the bot's users and servers (undefined: no limit), counted on Google's day through the store. */
export interface ClientLimitsConfig {
  userRpm: number | undefined;
  userDailyRequests: number | undefined;
  guildDailyRequests: number | undefined;
  /** Admins (Manage Server, ADMIN_USER_IDS) are not limited. */
  exemptAdmins: boolean;
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
  /** USER_RPM, USER_DAILY_REQUESTS, GUILD_DAILY_REQUESTS, LIMITS_EXEMPT_ADMINS. */
  clientLimits: ClientLimitsConfig;
  /** Answer @mentions and replies to the bot's messages in any channel it reads (servers may turn it off). */
  mentions: boolean;
  /** Answer in DMs: DM conversations, and commands used in a DM. */
  dms: boolean;
  /** MAX_ATTACHMENT_MB in bytes: the largest file the bot downloads and sends to Gemini. */
  maxAttachmentBytes: number;
}

/** The HTTP gateway: the pool served to other apps (Gemini-native and OpenAI-compatible routes). */
export interface GatewayConfig {
  /** Where the gateway listens; undefined: no gateway in the bot process (`npm run gateway` needs one). */
  port: number | undefined;
  host: string;
  /** Serve requests without a client token (only ever on a loopback address). */
  allowAnonymous: boolean;
  maxBodyBytes: number;
  /** Fetch `image_url` http(s) URLs that clients send (never private or loopback addresses). */
  fetchUrls: boolean;
  /** Embedding models served (`embedContent`, `/v1/embeddings`); the pool serves them next to `gemini.models`. */
  embeddingModels: string[];
  requestLog: {
    retentionDays: number;
    maxRows: number;
    /** Keep prompt and answer text in the request log. */
    bodies: boolean;
  };
}

/** The web dashboard under `/dashboard` on the gateway's port. */
export interface DashboardConfig {
  /** Undefined: no dashboard at all. A plain password (checked against a hash made at start) or a scrypt hash. */
  password: { kind: 'plain'; password: string } | { kind: 'hash'; hash: string } | undefined;
  /** A session unused this long ends. */
  sessionIdleMs: number;
  /** Believe `x-forwarded-proto` and `x-forwarded-for` (only behind a proxy that sets them). */
  trustProxy: boolean;
}

export interface StoreConfig extends StoreOptions {
  flushIntervalMs: number;
  /** `auto` or a number of shards, for `npm run start:sharded`. */
  shardCount: number | 'auto';
  /** Which shards this machine runs (all when undefined): for shards spread over machines. */
  shardIds: number[] | undefined;
}

export interface Config {
  /**
   * Things that are allowed but probably not meant (`GEMINI_API_KEY3` is set but not read,
   * `GOOGLE_GENAI_USE_VERTEXAI=true` ...). Printed at start; never a value.
   */
  warnings: string[];
  gemini: GeminiConfig;
  limits: LimitsConfig;
  discord: DiscordConfig;
  bot: BotConfig;
  store: StoreConfig;
  gateway: GatewayConfig;
  dashboard: DashboardConfig;
  /** Encrypts the keys added at runtime in the store (AES-256-GCM); undefined: keys cannot be added. */
  stateSecret: string | undefined;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The schema of every variable, keyed by its name. */
const schema = z.object({
  GEMINI_MODELS: models([...POOL_DEFAULTS.models]),
  GEMINI_POOL_SIZE: int(1, POOL_DEFAULTS.poolSize),
  GEMINI_STRATEGY: enumOf(STRATEGIES, POOL_DEFAULTS.strategy),
  GEMINI_BASE_URL: url,
  GEMINI_API_VERSION: enumOf(['v1beta', 'v1', 'v1alpha'] as const, POOL_DEFAULTS.apiVersion),
  GEMINI_TIMEOUT_MS: int(1, POOL_DEFAULTS.attemptTimeoutMs),
  GEMINI_DEADLINE_MS: int(1, POOL_DEFAULTS.deadlineMs),
  GEMINI_MAX_ATTEMPTS: int(1, POOL_DEFAULTS.maxAttempts),
  GEMINI_ROTATION_INTERVAL_MS: int(1, POOL_DEFAULTS.rotationIntervalMs),
  GEMINI_RECHECK_INTERVAL_MS: int(1, POOL_DEFAULTS.recheckIntervalMs),
  GEMINI_RATE_LIMIT_COOLDOWN_MS: int(0, POOL_DEFAULTS.rateLimitCooldownMs),
  GEMINI_BARE_429_COOLDOWN_MS: int(0, POOL_DEFAULTS.bareRateLimitCooldownMs),
  GEMINI_MAX_COOLDOWN_MS: int(0, POOL_DEFAULTS.maxCooldownMs),
  GEMINI_TRANSIENT_COOLDOWN_MS: int(0, POOL_DEFAULTS.transientCooldownMs),
  GEMINI_RPM: optionalInt(1),
  GEMINI_RPD: optionalInt(1),
  GEMINI_TPM: optionalInt(1),
  GEMINI_MODEL_LIMITS: modelLimits,
  GEMINI_MAX_QUEUED: int(0, POOL_DEFAULTS.maxQueued),
  GEMINI_MAX_QUEUE_WAIT_MS: int(0, POOL_DEFAULTS.maxWaitMs),
  CLIENT_WEIGHTS: clientWeights,
  DISCORD_TOKEN: discordToken,
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
  USER_RPM: optionalInt(1),
  USER_DAILY_REQUESTS: optionalInt(1),
  GUILD_DAILY_REQUESTS: optionalInt(1),
  LIMITS_EXEMPT_ADMINS: bool(true),
  SYSTEM_PROMPT: z.string().optional().transform((v) => (v && v.trim() ? v.trim() : undefined)),
  MENTIONS: bool(true),
  DMS: bool(true),
  MAX_ATTACHMENT_MB: int(1, 15),
  STORE: enumOf(['sqlite', 'memory', 'redis'] as const, 'sqlite'),
  DATA_DIR: z.string().trim().optional().transform((v) => v || './data'),
  REDIS_URL: redisUrl,
  STORE_FLUSH_INTERVAL_MS: int(10, 1_000),
  SHARD_COUNT: shardCount,
  SHARD_IDS: shardIds,
  LOG_LEVEL: enumOf(LOG_LEVELS, 'info'),
  GATEWAY_PORT: optionalInt(0, 65_535),
  GATEWAY_HOST: host('127.0.0.1'),
  GATEWAY_ALLOW_ANONYMOUS: bool(false),
  GATEWAY_MAX_BODY_MB: int(1, 20),
  GATEWAY_FETCH_URLS: bool(false),
  EMBEDDING_MODELS: models(['gemini-embedding-001']),
  REQUEST_LOG_RETENTION_DAYS: int(1, 7),
  REQUEST_LOG_MAX_ROWS: int(100, 100_000),
  REQUEST_LOG_BODIES: bool(false),
  DASHBOARD_PASSWORD: dashboardPassword,
  DASHBOARD_PASSWORD_HASH: dashboardPasswordHash,
  DASHBOARD_SESSION_IDLE_MINUTES: int(1, 30),
  DASHBOARD_TRUST_PROXY: bool(false),
  STATE_SECRET: stateSecret,
});

type Parsed = z.output<typeof schema>;

/**
 * Problems of variables that are each fine but wrong together. Only variables that parsed
 * are looked at (a variable that did not has its own problem already).
 */
function crossProblems(v: Partial<Parsed>): string[] {
  const problems: string[] = [];
  if (v.STORE === 'redis' && 'REDIS_URL' in v && v.REDIS_URL === undefined) {
    problems.push('REDIS_URL: required when STORE=redis (for example redis://127.0.0.1:6379)');
  }
  const count = v.SHARD_COUNT;
  if (v.SHARD_IDS && count !== undefined) {
    if (count === 'auto') problems.push('SHARD_IDS: needs a fixed SHARD_COUNT (every machine must agree on the total)');
    else if (v.SHARD_IDS.some((id) => id >= count)) problems.push(`SHARD_IDS: shard numbers go from 0 to SHARD_COUNT - 1 (${count - 1})`);
  }
  if (v.DASHBOARD_PASSWORD !== undefined && v.DASHBOARD_PASSWORD_HASH !== undefined) {
    problems.push('DASHBOARD_PASSWORD_HASH: set either it or DASHBOARD_PASSWORD, not both');
  }
  return problems;
}

/** The default of a variable of the schema (what an unset variable means), for the settings page. */
export function configDefault(name: string): unknown {
  const field = (schema.shape as Record<string, z.ZodType>)[name];
  const r = field?.safeParse(undefined);
  return r?.success ? r.data : undefined;
}

/** Every variable the configuration reads (the numbered GEMINI_API_KEY_N aside). */
export const CONFIG_VARIABLES: readonly string[] = ['GEMINI_API_KEYS', 'GEMINI_API_KEY', 'GEMINI_KEYS_FILE', ...Object.keys(schema.shape)];

/**
 * Builds the typed configuration from an environment (default `process.env`).
 * @throws ConfigError listing every problem.
 */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const keys = collectKeys(env, problems);
  // A refused key or a missing keys file says more than "no key" would.
  if (keys.length === 0 && problems.length === 0) {
    problems.push('no Gemini API key: set GEMINI_API_KEY, GEMINI_API_KEYS or GEMINI_KEYS_FILE (see .env.example)');
  }
  // Each variable on its own, so that a check across variables (STORE=redis needs
  // REDIS_URL) still runs when some other variable is wrong: one run lists every problem.
  const parsed: Partial<Parsed> = {};
  for (const [name, field] of Object.entries(schema.shape) as Array<[keyof Parsed, z.ZodType]>) {
    const r = field.safeParse(env[name]);
    if (r.success) (parsed as Record<string, unknown>)[name] = r.data;
    else for (const issue of r.error.issues) problems.push(`${name}: ${issue.message}`);
  }
  problems.push(...crossProblems(parsed));
  const secrets = [...keys.map((k) => k.key), ...['DISCORD_TOKEN', 'DASHBOARD_PASSWORD', 'STATE_SECRET'].flatMap((n) => (env[n]?.trim() ? [env[n].trim()] : []))];
  const warnings = configWarnings(env, new Set(CONFIG_VARIABLES), keys.length);
  if (problems.length > 0) throw new ConfigError(problems.map((p) => redactSecrets(p, secrets)), warnings);
  const e = parsed as Parsed;
  const defaults: ModelLimits = {};
  if (e.GEMINI_RPM !== undefined) defaults.rpm = e.GEMINI_RPM;
  if (e.GEMINI_RPD !== undefined) defaults.rpd = e.GEMINI_RPD;
  if (e.GEMINI_TPM !== undefined) defaults.tpm = e.GEMINI_TPM;
  return {
    warnings,
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
    limits: { defaults, perModel: e.GEMINI_MODEL_LIMITS, maxQueued: e.GEMINI_MAX_QUEUED, maxWaitMs: e.GEMINI_MAX_QUEUE_WAIT_MS, clientWeights: e.CLIENT_WEIGHTS },
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
      clientLimits: {
        userRpm: e.USER_RPM,
        userDailyRequests: e.USER_DAILY_REQUESTS,
        guildDailyRequests: e.GUILD_DAILY_REQUESTS,
        exemptAdmins: e.LIMITS_EXEMPT_ADMINS,
      },
      mentions: e.MENTIONS,
      dms: e.DMS,
      maxAttachmentBytes: e.MAX_ATTACHMENT_MB * 1024 * 1024,
    },
    store: {
      kind: e.STORE,
      dataDir: e.DATA_DIR,
      redisUrl: e.REDIS_URL,
      flushIntervalMs: e.STORE_FLUSH_INTERVAL_MS,
      shardCount: e.SHARD_COUNT,
      shardIds: e.SHARD_IDS,
    },
    gateway: {
      port: e.GATEWAY_PORT,
      host: e.GATEWAY_HOST,
      allowAnonymous: e.GATEWAY_ALLOW_ANONYMOUS,
      maxBodyBytes: e.GATEWAY_MAX_BODY_MB * 1024 * 1024,
      fetchUrls: e.GATEWAY_FETCH_URLS,
      embeddingModels: e.EMBEDDING_MODELS,
      requestLog: { retentionDays: e.REQUEST_LOG_RETENTION_DAYS, maxRows: e.REQUEST_LOG_MAX_ROWS, bodies: e.REQUEST_LOG_BODIES },
    },
    dashboard: {
      password:
        e.DASHBOARD_PASSWORD !== undefined
          ? { kind: 'plain', password: e.DASHBOARD_PASSWORD }
          : e.DASHBOARD_PASSWORD_HASH !== undefined
            ? { kind: 'hash', hash: e.DASHBOARD_PASSWORD_HASH }
            : undefined,
      sessionIdleMs: e.DASHBOARD_SESSION_IDLE_MINUTES * 60_000,
      trustProxy: e.DASHBOARD_TRUST_PROXY,
    },
    stateSecret: e.STATE_SECRET,
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
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (!isConfigError(err) || env.DISCORD_TOKEN?.trim()) throw err;
    throw new ConfigError([...err.problems, TOKEN_PROBLEM], err.warnings);
  }
  if (!config.discord.token) throw new ConfigError([TOKEN_PROBLEM], config.warnings);
  return config;
}

/**
 * Loads `.env` from the working directory into `process.env`, when there is one. Variables
 * already set win over the file. The entry points use `readEnv` (src/env.ts) instead, which
 * keeps the file's values out of `process.env`, where discord.js and @google/genai would
 * also find them.
 */
export function loadDotEnv(path = '.env'): void {
  if (existsSync(path)) process.loadEnvFile(path);
}
