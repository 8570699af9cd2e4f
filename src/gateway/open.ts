/**
 * The gateway built from the configuration, over the pool and store the process already
 * has: client tokens, per-client limits and the request log in the store, then the HTTP
 * server. Used by `npm run gateway` and by the bot process when GATEWAY_PORT is set.
 */
import type { Logger } from 'pino';
import { ConfigError, type Config } from '../config.ts';
import type { GeminiAPIPool } from '../pool/GeminiAPIPool.ts';
import type { StateStore } from '../store/types.ts';
import { ClientLimits } from './clientLimits.ts';
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

const NO_TOKEN =
  'GATEWAY_PORT: the gateway has no client token yet. Create one with `npm run cli -- tokens create --name NAME` (shown once), or set GATEWAY_ALLOW_ANONYMOUS=true to serve without tokens on 127.0.0.1';

/**
 * Starts the gateway on `config.gateway.port`.
 * @throws ConfigError when there is no port, no live client token (and anonymous access is
 *   off), or anonymous access is asked for on an address that is not loopback; Error when
 *   the port cannot be taken.
 */
export async function openGateway(config: Config, pool: GeminiAPIPool, store: StateStore, logger: Logger): Promise<OpenGateway> {
  const g = config.gateway;
  if (g.port === undefined) throw new ConfigError(['GATEWAY_PORT: required to serve the gateway (for example 8787)']);
  const log = logger.child({ component: 'gateway' });
  const tokens = g.allowAnonymous ? undefined : new TokenRegistry(store);
  if (tokens) {
    const now = Date.now();
    const live = (await store.listTokens()).filter((t) => t.revokedAt === undefined && (t.expiresAt === undefined || t.expiresAt > now));
    if (live.length === 0) throw new ConfigError([NO_TOKEN]);
  }
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
  };
  let server: RunningGateway;
  try {
    server = await startGateway(deps, { host: g.host, port: g.port });
  } catch (err) {
    await Promise.allSettled([limits.close(), requestLog.close()]);
    if (err instanceof Error && err.message.startsWith('GATEWAY_ALLOW_ANONYMOUS')) throw new ConfigError([err.message]);
    throw err;
  }
  log.info({ url: server.url, anonymous: !tokens }, 'gateway listening');
  let closing: Promise<void> | undefined;
  return {
    url: server.url,
    port: server.port,
    close(graceMs) {
      closing ??= (async () => {
        await server.close(graceMs);
        await Promise.allSettled([limits.close(), requestLog.close()]);
      })();
      return closing;
    },
  };
}
