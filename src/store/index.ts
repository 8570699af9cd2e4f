/**
 * The stores: three interfaces ({@link PoolStateStore} for the pool, {@link ConversationStore}
 * for the bot, {@link GatewayStore} for the gateway), three implementations of all (memory,
 * SQLite, Redis); {@link createStore} opens the one the configuration names.
 */
import type { Logger } from 'pino';
import { MemoryStore } from './memory.ts';
import { RedisStore } from './redis.ts';
import { SqliteStore } from './sqlite.ts';
import type { StateStore } from './types.ts';

export type {
  ConversationStore,
  CounterDelta,
  CounterRow,
  KeyStateChange,
  ModelScope,
  PoolStateStore,
  StateStore,
  StoredConversation,
  StoredKeyState,
  StoredTurn,
  UsageReport,
} from './types.ts';
export type { ClientUsage, GatewayStore, RequestLogQuery, RequestLogRow, StoredToken, TokenLimits } from './gatewayTypes.ts';
export type { DashboardStore, StoredApiKey, StoredSession } from './dashboardTypes.ts';
export { MemoryStore } from './memory.ts';
export { MIGRATIONS, SCHEMA_VERSION, SqliteStore, migrate, type Migration, type SqliteStoreOptions } from './sqlite.ts';
export { RedisStore, redactRedisUrl, type RedisStoreOptions } from './redis.ts';
export { StoreRejectedError, StoreUnavailableError, isStoreRejectedError, isStoreUnavailableError } from './errors.ts';

/** Which store to open, and where. */
export interface StoreOptions {
  kind: 'sqlite' | 'memory' | 'redis';
  /** Directory of the SQLite file. */
  dataDir: string;
  /** Redis URL, for `redis`. */
  redisUrl: string | undefined;
}

/**
 * Opens the store the configuration names (any object with the {@link StoreOptions}: the
 * configuration's store section carries more, which this ignores): `memory`, `sqlite` (`${dataDir}/state.db`) or
 * `redis` (needs `redisUrl`).
 * @throws Error when Redis cannot be reached (the message names REDIS_URL, never its
 *   password), when DATA_DIR is not a writable directory, or when the SQLite file cannot
 *   be opened (the messages name the path). A corrupt SQLite file is not an error: it is
 *   reported, kept as `state.db.corrupt-<time>` and replaced by a fresh one.
 */
export async function createStore<C extends StoreOptions>(config: C, logger?: Logger): Promise<StateStore> {
  switch (config.kind) {
    case 'memory':
      return new MemoryStore();
    case 'sqlite':
      return new SqliteStore(config.dataDir, logger ? { logger: logger.child({ component: 'store' }) } : {});
    case 'redis': {
      if (!config.redisUrl) throw new Error('REDIS_URL: required when STORE=redis (for example redis://127.0.0.1:6379)');
      return RedisStore.connect(config.redisUrl, logger ? { logger: logger.child({ component: 'store' }) } : {});
    }
    default: {
      const never: never = config.kind;
      throw new TypeError(`unknown store kind: ${String(never)}`);
    }
  }
}
