/**
 * Where the configuration comes from: the process environment over the `.env` file, read
 * into a separate object. The file's values never enter `process.env`, and the variables of
 * ours that a library would also read there are removed from it once read, so discord.js,
 * @google/genai and any child process see only what they should.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { ConfigError } from './config.ts';
import { shownPath } from './configEcho.ts';

/** An environment: variable name -> value. */
export type Env = Record<string, string | undefined>;

/** What {@link readEnv} found. */
export interface EnvSource {
  /** The process environment over the file's variables (the process wins, as with `node --env-file`). */
  env: Env;
  /** The file that was read, or undefined when there was none. */
  file: string | undefined;
}

/**
 * Which file holds the configuration: `ENV_FILE` when set (an empty value means none),
 * else `.env` in the working directory.
 */
export function envFilePath(processEnv: Env, cwd: string): { path: string | undefined; named: string | undefined } {
  const named = processEnv.ENV_FILE?.trim();
  if (named === undefined) return { path: resolve(cwd, '.env'), named };
  return { path: named === '' ? undefined : resolve(cwd, named), named };
}

/**
 * Reads the configuration's environment without touching `process.env`.
 * @throws ConfigError when `ENV_FILE` names a file that does not exist, or the file cannot be read.
 */
export function readEnv(processEnv: Env = process.env, cwd = process.cwd()): EnvSource {
  const { path, named } = envFilePath(processEnv, cwd);
  const explicit = named !== undefined;
  if (path === undefined) return { env: { ...processEnv }, file: undefined };
  if (!existsSync(path)) {
    if (explicit) throw new ConfigError([`ENV_FILE: no such file: ${shownPath(named!, path)}`]);
    return { env: { ...processEnv }, file: undefined };
  }
  let text: string;
  try {
    if (!statSync(path).isFile()) throw Object.assign(new Error('not a file'), { code: 'not a file' });
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError([`${explicit ? 'ENV_FILE' : '.env'}: cannot read ${path} (${code})`]);
  }
  return { env: { ...parseEnv(text), ...processEnv }, file: path };
}

/**
 * Where each variable {@link readEnv} returns comes from: the process environment or the
 * file (the settings page shows it). Call it before {@link hideFromLibraries}.
 */
export function envOrigin(source: EnvSource, processEnv: Env = process.env): Record<string, 'environment' | 'file'> {
  const origin: Record<string, 'environment' | 'file'> = {};
  for (const name of Object.keys(source.env)) origin[name] = processEnv[name] !== undefined ? 'environment' : 'file';
  return origin;
}

/**
 * Our variables that libraries read from `process.env` too, and why they must not see them:
 * - `SHARD_COUNT`: discord.js' Client takes it as its shard count (`auto` becomes NaN and
 *   the Client throws); under the ShardingManager it is the manager's own number and stays.
 * - `DISCORD_TOKEN`: discord.js' Client and ShardingManager fall back to it.
 * - `GEMINI_API_KEY`: @google/genai reads it on every client it builds (and warns when
 *   `GOOGLE_API_KEY` is set too).
 * The other key variables go as well: a secret read once has no reason to stay where every
 * library and child process can read it.
 */
export function isHiddenFromLibraries(name: string, processEnv: Env = process.env): boolean {
  if (name === 'SHARD_COUNT') return processEnv.SHARDING_MANAGER === undefined;
  return name === 'DISCORD_TOKEN' || name === 'GEMINI_API_KEY' || name === 'GEMINI_API_KEYS' || /^GEMINI_API_KEY_\d+$/.test(name);
}

/**
 * Removes from `processEnv` (default `process.env`) our variables that a library would
 * also read; call it once the configuration has been read. Returns the names removed.
 */
export function hideFromLibraries(processEnv: Env = process.env): string[] {
  const removed = Object.keys(processEnv).filter((name) => isHiddenFromLibraries(name, processEnv));
  for (const name of removed) delete processEnv[name];
  return removed;
}
