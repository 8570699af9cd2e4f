/**
 * What every command of the command line starts with: the configuration (problems and
 * warnings on stderr), a logger on stderr, and the state store.
 */
import { createInterface } from 'node:readline';
import pino, { type Logger } from 'pino';
import { formatWarnings, isConfigError, loadConfig, type Config } from '../config.ts';
import { createStore } from '../store/index.ts';
import type { StateStore } from '../store/types.ts';

/** Where the command line writes: results to `out` (stdout), everything else to `err` (stderr). */
export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  /**
   * What stdin holds (secrets are read there, never from the command line). `oneLine`: on a
   * terminal, one line typed without echo; else until end of input.
   */
  readStdin?: (prompt: string, oneLine: boolean) => Promise<string>;
}

/**
 * Reads stdin: piped, all of it; on a terminal, after `prompt` on stderr, what is typed
 * without echo (one line, or until Ctrl-D).
 */
export function readProcessStdin(prompt: string, oneLine: boolean): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      input.on('data', (c: Buffer) => chunks.push(c));
      input.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      input.once('error', reject);
    });
  }
  process.stderr.write(prompt);
  const rl = createInterface({ input, output: process.stderr, terminal: true });
  // No echo: what is typed is a secret.
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => undefined;
  const lines: string[] = [];
  return new Promise((resolve) => {
    rl.on('line', (line) => {
      lines.push(line);
      if (oneLine) rl.close();
    });
    rl.once('close', () => {
      process.stderr.write('\n');
      resolve(lines.join('\n'));
    });
  });
}

/** The configuration, or undefined when it is bad (its problems are on stderr: exit 2). */
export function loadCliConfig(env: Record<string, string | undefined>, io: CliIo): Config | undefined {
  try {
    const config = loadConfig(env);
    if (config.warnings.length > 0) io.err(formatWarnings(config.warnings));
    return config;
  } catch (err) {
    if (!isConfigError(err)) throw err;
    io.err(err.message);
    return undefined;
  }
}

/**
 * Logs go to stderr, written at once, so they never land inside the output on stdout;
 * only warnings and errors unless LOG_LEVEL is given to this command.
 */
export function cliLogger(config: Config, env: Record<string, string | undefined>): Logger {
  return pino({ level: env.LOG_LEVEL ? config.logLevel : 'warn' }, pino.destination({ dest: 2, sync: true }));
}

/** The state store, or undefined when it cannot be opened (said on stderr: exit 2). */
export async function openCliStore(config: Config, logger: Logger, io: CliIo): Promise<StateStore | undefined> {
  try {
    return await createStore(config.store, logger);
  } catch (err) {
    io.err(`cannot open the state store: ${(err as Error).message}`);
    return undefined;
  }
}
