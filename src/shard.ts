/**
 * `npm run start:sharded`: runs the bot as several shards with discord.js' ShardingManager.
 * Each shard is its own process with its own pool, so the pool's state (cooldowns, disabled
 * keys, today's counts) must be shared through Redis: any other store is refused. SIGTERM
 * or SIGINT stops every shard gracefully, then this process exits 0.
 */
import { fileURLToPath } from 'node:url';
import { ShardingManager } from 'discord.js';
import pino from 'pino';
import { ConfigError, formatWarnings, isConfigError, loadBotConfig, requireDiscordToken, type Config } from './config.ts';
import { readEnv, type Env } from './env.ts';

/** Why a store cannot run sharded, or undefined when it can. */
function shardingProblem(storeKind: string): string | undefined {
  if (storeKind !== 'redis') {
    return (
      `STORE=${storeKind} cannot be shared by shards: every shard is a separate process with its own pool, ` +
      'so cooldowns, disabled keys and daily counts would not be seen by the others. Set STORE=redis and REDIS_URL.'
    );
  }
  return undefined;
}

async function main(): Promise<number> {
  let config: Config;
  let token: string;
  let env: Env = {};
  try {
    // Each shard reads the configuration again (main.ts, same working directory); nothing is
    // hidden from this process's environment, which the shards inherit.
    env = readEnv().env;
    config = loadBotConfig(env);
    token = requireDiscordToken(config);
    if (config.warnings.length > 0) process.stderr.write(`${formatWarnings(config.warnings)}\n`);
  } catch (err) {
    if (isConfigError(err)) {
      // The store problem is listed with the others, not only once they are fixed.
      const store = env.STORE?.trim() || 'sqlite';
      const problem = ['sqlite', 'memory'].includes(store) ? shardingProblem(store) : undefined;
      process.stderr.write(`${problem ? new ConfigError([...err.problems, problem]).message : err.message}\n`);
      return 2;
    }
    throw err;
  }
  const problem = shardingProblem(config.store.kind);
  if (problem) {
    process.stderr.write(`Cannot start sharded: ${problem}\n`);
    return 2;
  }
  const log = pino({ level: config.logLevel }).child({ component: 'shards' });
  const manager = new ShardingManager(fileURLToPath(new URL('./main.ts', import.meta.url)), {
    token,
    totalShards: config.store.shardCount,
    // Shards spread over machines: each runs its own part of the same total.
    ...(config.store.shardIds ? { shardList: config.store.shardIds } : {}),
    // Each shard runs the TypeScript entry through tsx, like `npm start`.
    execArgv: ['--import', 'tsx'],
  });
  let stopping = false;
  manager.on('shardCreate', (shard) => {
    log.info({ shard: shard.id }, 'shard started');
    shard.on('death', () => {
      if (!stopping) log.error({ shard: shard.id }, 'shard process exited');
    });
    // A shard created while stopping (the spawn loop was still running) stops at once.
    if (stopping) shard.process?.kill('SIGTERM');
  });

  // SIGTERM/SIGINT reach this process only (a process manager signals what it started):
  // pass them on to every shard, each of which shuts down gracefully, and exit 0 once all
  // are gone. Without this, the shards would outlive the manager.
  let onStopped: ((code: number) => void) | undefined;
  const stopped = new Promise<number>((resolve) => (onStopped = resolve));
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      process.stderr.write(`Second ${signal}: killing the shards without waiting.\n`);
      for (const shard of manager.shards.values()) shard.process?.kill('SIGKILL');
      onStopped?.(1);
      return;
    }
    stopping = true;
    manager.respawn = false;
    log.info({ signal, shards: manager.shards.size }, 'stopping the shards');
    const running = [...manager.shards.values()].filter((shard) => shard.process && shard.process.exitCode === null && shard.process.signalCode === null);
    const gone = running.map((shard) => new Promise<void>((resolve) => shard.process!.once('exit', () => resolve())));
    for (const shard of running) shard.process!.kill(signal);
    void Promise.all(gone).then(() => onStopped?.(0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    await manager.spawn();
  } catch (err) {
    if (stopping) return stopped;
    throw err;
  }
  return stopped;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`cannot start shards: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
