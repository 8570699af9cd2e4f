/**
 * `npm start`: reads the configuration (the environment over `.env`), checks it, starts the
 * bot, and shuts it down gracefully on SIGINT/SIGTERM.
 *
 * Exit codes: 0 after a clean shutdown, 1 when the bot could not start (or a second signal
 * forced the exit), 2 for bad configuration (one line per problem, no stack trace).
 */
import { formatWarnings, isConfigError, loadBotConfig } from './config.ts';
import { startBot, type RunningBot } from './bot/app.ts';
import { envOrigin, hideFromLibraries, readEnv, type Env } from './env.ts';
import { describeStartFailure } from './startFailure.ts';

async function main(): Promise<number> {
  let env: Env;
  let origin: Record<string, 'environment' | 'file'>;
  try {
    const source = readEnv();
    env = source.env;
    origin = envOrigin(source);
    // Checked here first so a bad configuration is reported before anything starts.
    const { warnings } = loadBotConfig(env);
    if (warnings.length > 0) process.stderr.write(`${formatWarnings(warnings)}\n`);
  } catch (err) {
    if (isConfigError(err)) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }

  // Listen before starting: a signal during the start must still end in a clean stop.
  let bot: RunningBot | undefined;
  let signalled: NodeJS.Signals | undefined;
  let onStopped: ((code: number) => void) | undefined;
  const stopped = new Promise<number>((resolve) => (onStopped = resolve));
  const stop = (running: RunningBot): void => {
    running.stop().then(
      () => onStopped?.(0),
      (err: unknown) => {
        process.stderr.write(`Shutdown failed: ${describeStartFailure(err)}\n`);
        onStopped?.(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      // A second Ctrl-C means "now": skip the grace period.
      process.stderr.write(`Second ${signal}: exiting without waiting.\n`);
      process.exit(1);
    }
    signalled = signal;
    if (bot) {
      bot.logger.info({ signal }, 'signal received');
      stop(bot);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  // From here on the configuration is `env`: discord.js must not find SHARD_COUNT or the
  // token in process.env, nor @google/genai a key.
  hideFromLibraries();
  try {
    bot = await startBot(env, { envOrigin: origin });
  } catch (err) {
    if (isConfigError(err)) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    process.stderr.write(`Could not start the bot: ${describeStartFailure(err)}\n`);
    return 1;
  }
  if (signalled) stop(bot);
  return stopped;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`Unexpected failure: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
