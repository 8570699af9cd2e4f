/**
 * The gateway built from the configuration, over the pool and store the process already
 * has: client tokens, per-client limits and the request log in the store, then the HTTP
 * server. Used by `npm run gateway` and by the bot process when GATEWAY_PORT is set.
 */
import type { Logger } from 'pino';
import { followAddedKeys, type KeyVault } from '../addedKeys.ts';
import { ConfigError, type Config } from '../config.ts';
import type { GeminiAPIPool } from '../pool/GeminiAPIPool.ts';
import type { StateStore } from '../store/types.ts';
import { ClientLimits } from './clientLimits.ts';
import { dashboardApp } from './dashboard/app.ts';
import { passwordChecker } from './dashboard/password.ts';
import { settingRows } from './dashboard/settingsPage.ts';
import type { GatewayDeps } from './deps.ts';
import { RequestLog } from './requestLog.ts';
import { startGateway, type RunningGateway } from './server.ts';
import { TokenRegistry } from './tokens.ts';

/** A running gateway and what it owns. */
export interface OpenGateway {
  readonly url: string;
  readonly port: number;
  /** Stops the server (requests in flight get `graceMs`), then writes the last usage and log rows. Never throws. */
  close(graceMs?: number): Promise<void>;
}

/** What the dashboard needs beyond the configuration; every field optional. */
export interface OpenGatewayOptions {
  /** The vault `createServices` opened (it already follows the added keys). Absent: opened here when STATE_SECRET is set. */
  vault?: KeyVault | undefined;
  /** The environment the configuration was read from, for the settings page (masked there). */
  env?: Record<string, string | undefined>;
  /** Where each variable came from (`envOrigin`). */
  envOrigin?: Record<string, 'environment' | 'file'>;
  /** The dashboard's clock (sessions, the login limit). @default Date.now */
  now?: () => number;
  /** How often the dashboard's live parts are sent. @default 2000 */
  liveIntervalMs?: number;
}

const NO_TOKEN =
  'GATEWAY_PORT: the gateway has no client token yet. Create one with `npm run cli -- tokens create --name NAME` (shown once), or set GATEWAY_ALLOW_ANONYMOUS=true to serve without tokens on 127.0.0.1';

/**
 * Starts the gateway on `config.gateway.port`.
 * @throws ConfigError when there is no port, no live client token (and anonymous access is
 *   off), or anonymous access is asked for on an address that is not loopback; Error when
 *   the port cannot be taken.
 */
export async function openGateway(config: Config, pool: GeminiAPIPool, store: StateStore, logger: Logger, options: OpenGatewayOptions = {}): Promise<OpenGateway> {
  const g = config.gateway;
  if (g.port === undefined) throw new ConfigError(['GATEWAY_PORT: required to serve the gateway (for example 8787)']);
  const log = logger.child({ component: 'gateway' });
  const tokens = g.allowAnonymous ? undefined : new TokenRegistry(store);
  if (tokens) {
    const now = Date.now();
    const live = (await store.listTokens()).filter((t) => t.revokedAt === undefined && (t.expiresAt === undefined || t.expiresAt > now));
    // With the dashboard on, the first token is made there: start, and say so.
    if (live.length === 0 && !config.dashboard.password) throw new ConfigError([NO_TOKEN]);
    if (live.length === 0) log.warn('no client token yet: every gateway request gets 401 until one is created (the dashboard\'s Tokens page, or npm run cli -- tokens create)');
  }
  /** The settings page's facts; the address is added once the server listens. */
  const facts: Array<[string, string]> = [
    ['store', config.store.kind],
    ['adding keys', config.stateSecret ? 'on (STATE_SECRET set)' : 'off (no STATE_SECRET)'],
  ];
  const dashboard = config.dashboard.password
    ? dashboardApp({
        pool,
        store,
        tokens: tokens ?? new TokenRegistry(store),
        vault: 'vault' in options ? options.vault : await followAddedKeys(pool, store, config.stateSecret, log),
        checkPassword: await passwordChecker(config.dashboard.password),
        sessionIdleMs: config.dashboard.sessionIdleMs,
        trustProxy: config.dashboard.trustProxy,
        chatModels: config.gemini.models,
        embeddingModels: g.embeddingModels,
        settings: settingRows(options.env, options.envOrigin),
        facts,
        logger: log,
        now: options.now ?? Date.now,
        ...(options.liveIntervalMs !== undefined ? { liveIntervalMs: options.liveIntervalMs } : {}),
      })
    : undefined;
  const limits = new ClientLimits(store, { logger: log });
  const requestLog = new RequestLog(store, { ...g.requestLog, logger: log });
  await requestLog.start();
  const deps: GatewayDeps = {
    pool,
    chatModels: config.gemini.models,
    embeddingModels: g.embeddingModels,
    tokens,
    limits,
    log: requestLog,
    logger: log,
    now: Date.now,
    maxBodyBytes: g.maxBodyBytes,
    fetchUrls: g.fetchUrls,
    logBodies: g.requestLog.bodies,
    ...(dashboard ? { dashboard: dashboard.app } : {}),
  };
  let server: RunningGateway;
  try {
    server = await startGateway(deps, { host: g.host, port: g.port });
  } catch (err) {
    dashboard?.close();
    await Promise.allSettled([limits.close(), requestLog.close()]);
    if (err instanceof Error && err.message.startsWith('GATEWAY_ALLOW_ANONYMOUS')) throw new ConfigError([err.message]);
    throw err;
  }
  facts.unshift(['gateway', server.url]);
  log.info({ url: server.url, anonymous: !tokens, dashboard: dashboard ? `${server.url}/dashboard` : 'off' }, 'gateway listening');
  let closing: Promise<void> | undefined;
  return {
    url: server.url,
    port: server.port,
    close(graceMs) {
      closing ??= (async () => {
        dashboard?.close();
        await server.close(graceMs);
        await Promise.allSettled([limits.close(), requestLog.close()]);
      })();
      return closing;
    },
  };
}
