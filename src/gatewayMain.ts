/**
 * `npm run gateway`: the HTTP gateway alone (no Discord token needed), on the same `.env`
 * as the bot: the same keys, the same store, so the same quota and statistics. Shuts down
 * gracefully on SIGINT/SIGTERM.
 *
 * Exit codes: 0 after a clean shutdown, 1 when it could not start, 2 for bad configuration.
 */
import pino from 'pino';
import { formatWarnings, isConfigError, loadConfig, type Config } from './config.ts';
import { envOrigin, hideFromLibraries, readEnv, type Env } from './env.ts';
import { openGateway, type OpenGateway } from './gateway/open.ts';
import { createServices, type Services } from './services.ts';
import { describeStartFailure } from './startFailure.ts';

async function main(): Promise<number> {
  let config: Config;
  let env: Env;
  let origin: Record<string, 'environment' | 'file'>;
  try {
    const source = readEnv();
    env = source.env;
    origin = envOrigin(source);
    config = loadConfig(env);
    if (config.warnings.length > 0) process.stderr.write(`${formatWarnings(config.warnings)}\n`);
    if (config.gateway.port === undefined) {
      process.stderr.write('Configuration problems:\n  - GATEWAY_PORT: required for npm run gateway (for example GATEWAY_PORT=8787)\n');
      return 2;
    }
  } catch (err) {
    if (isConfigError(err)) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
  hideFromLibraries();
  const logger = pino({ level: config.logLevel });

  let stopRequested = false;
  let wake: (() => void) | undefined;
  const stopped = new Promise<void>((resolve) => (wake = resolve));
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopRequested) {
      process.stderr.write(`Second ${signal}: exiting without waiting.\n`);
      process.exit(1);
    }
    stopRequested = true;
    logger.info({ signal }, 'signal received');
    wake?.();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let services: Services | undefined;
  let gateway: OpenGateway | undefined;
  const closeAll = async (): Promise<void> => {
    await gateway?.close(config.bot.shutdownGraceMs);
    if (services) {
      await services.pool.flush();
      await services.pool.close();
      await services.store.close();
    }
  };
  try {
    services = await createServices(config, logger);
    gateway = await openGateway(config, services.pool, services.store, logger, { vault: services.vault, env, envOrigin: origin });
  } catch (err) {
    await closeAll().catch(() => undefined);
    if (isConfigError(err)) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    process.stderr.write(`Could not start the gateway: ${describeStartFailure(err)}\n`);
    return 1;
  }
  await stopped;
  logger.info('shutting down the gateway');
  await closeAll();
  logger.info('stopped');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`Unexpected failure: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
