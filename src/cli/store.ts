/**
 * The commands that only need the state store, not the pool: `tokens` and `logs`. Their
 * arguments are checked first, then the configuration is read and the store opened; no
 * Gemini call is made.
 */
import { isStoreUnavailableError } from '../store/errors.ts';
import type { StateStore } from '../store/types.ts';
import { isUsageError } from './args.ts';
import { logsCommand, LOGS_USAGE } from './logs.ts';
import { cliLogger, loadCliConfig, openCliStore, type CliIo } from './setup.ts';
import { tokensCommand, TOKENS_USAGE } from './tokens.ts';

/** What a store command runs with. */
export interface StoreContext {
  store: StateStore;
  io: CliIo;
  now: () => number;
}

/** A store command whose arguments were checked: run it with the store open; returns the exit code. */
export type StoreRun = (ctx: StoreContext) => Promise<number>;

/** The command names {@link runStoreCommand} serves. */
export const STORE_COMMANDS: ReadonlySet<string> = new Set(['tokens', 'logs']);

/** Their lines of the usage text. */
export const STORE_USAGE = `${TOKENS_USAGE}\n${LOGS_USAGE}`;

/**
 * Runs `tokens ...` or `logs ...`. Exit codes: 0 done, 2 bad usage or configuration (one
 * line), 1 the store could not be reached.
 */
export async function runStoreCommand(argv: readonly string[], env: Record<string, string | undefined>, io: CliIo): Promise<number> {
  const [command, ...args] = argv;
  if (args.includes('--help') || args.includes('-h')) {
    io.out(`Usage:\n${command === 'logs' ? LOGS_USAGE : TOKENS_USAGE}`);
    return 0;
  }
  const config = loadCliConfig(env, io);
  if (!config) return 2;
  let run: StoreRun;
  try {
    run = command === 'logs' ? logsCommand(args) : tokensCommand(args, config);
  } catch (e) {
    if (!isUsageError(e)) throw e;
    io.err(e.message);
    return 2;
  }
  const store = await openCliStore(config, cliLogger(config, env), io);
  if (!store) return 2;
  try {
    return await run({ store, io, now: Date.now });
  } catch (e) {
    if (!isStoreUnavailableError(e)) throw e;
    io.err(`${command}: the state store cannot be reached: ${e.message}`);
    return 1;
  } finally {
    await store.close();
  }
}
