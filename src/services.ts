/**
 * Wiring: builds the pool and the store from the typed configuration. The one module that
 * knows both the configuration and the parts it configures, so the parts (src/pool,
 * src/store, src/gemini) never import config.ts (see docs/ARCHITECTURE.md, "Layers").
 */
import type { Logger } from 'pino';
import { followAddedKeys, type KeyVault } from './addedKeys.ts';
import type { Config } from './config.ts';
import type { ClientFactory } from './gemini/adapter.ts';
import { GeminiAPIPool, type GeminiAPIPoolOptions } from './pool/GeminiAPIPool.ts';
import { createStore, type StateStore } from './store/index.ts';

/**
 * The pool's options as the configuration gives them. The pool serves the embedding models
 * too (for the gateway), after the chat models: the first chat model stays the default.
 */
export function poolOptions(config: Config): GeminiAPIPoolOptions {
  const { defaults, perModel, maxQueued, maxWaitMs, clientWeights } = config.limits;
  const models = [...new Set([...config.gemini.models, ...config.gateway.embeddingModels])];
  return { ...config.gemini, models, limits: { defaults, perModel, maxQueued, maxWaitMs, clientWeights } };
}

/** A pool built from the typed configuration (see `loadConfig`). */
export function createPool(config: Config, extra: Pick<GeminiAPIPoolOptions, 'logger' | 'clock' | 'clientFactory' | 'timers'> = {}): GeminiAPIPool {
  return new GeminiAPIPool({ ...poolOptions(config), ...extra });
}

/** The pool and the store, built from the configuration. */
export interface Services {
  pool: GeminiAPIPool;
  store: StateStore;
  /** Opens the keys added at runtime; undefined without STATE_SECRET (then none can be added). */
  vault: KeyVault | undefined;
}

/**
 * Creates the store and the pool, attaches the one to the other, and (with STATE_SECRET)
 * makes the pool use the keys operators added at runtime, as the store holds them.
 */
export async function createServices(
  config: Config,
  logger: Logger,
  extra: { clientFactory?: ClientFactory; wrapStore?: (store: StateStore) => StateStore; timers?: boolean } = {},
): Promise<Services> {
  const built = await createStore(config.store, logger);
  const store = extra.wrapStore ? extra.wrapStore(built) : built;
  const pool = createPool(config, { logger, ...(extra.clientFactory ? { clientFactory: extra.clientFactory } : {}), ...(extra.timers !== undefined ? { timers: extra.timers } : {}) });
  let vault: KeyVault | undefined;
  try {
    // Dead keys stay dead, a day's exhausted quota is not retried, today's counts go on.
    await pool.attachStore(store, { flushIntervalMs: config.store.flushIntervalMs });
    vault = await followAddedKeys(pool, store, config.stateSecret, logger);
  } catch (err) {
    await pool.close();
    await store.close();
    throw err;
  }
  return { pool, store, vault };
}
