/**
 * Runs an entry point (src/main.ts, src/cli.ts ...) as its own process, the way a user or a
 * process manager does, with an environment and a working directory the test controls: the
 * developer's shell and `.env` never reach it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export const ROOT = resolve(import.meta.dirname, '../..');

/** `--import tsx` that resolves from any working directory. */
export const TSX_IMPORT = pathToFileURL(resolve(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

/** The only variables a child inherits from the test process: enough to find `node`. */
export const baseEnv = (): Record<string, string> => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' });

/** What a started bot needs to run against the fakes, with nothing read from a .env file. */
export const fakeWorldEnv = (world: { geminiUrl: string; discordApiUrl: string; healthPort: number }): Record<string, string> => ({
  ENV_FILE: '',
  GEMINI_API_KEY: 'test-key-1',
  GEMINI_BASE_URL: world.geminiUrl,
  DISCORD_TOKEN: 'fake-bot-token',
  DISCORD_API_URL: world.discordApiUrl,
  STORE: 'memory',
  HEALTH_PORT: String(world.healthPort),
  LOG_LEVEL: 'warn',
});

export interface Running {
  child: ChildProcess;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output: () => string;
  stdout: () => string;
  stderr: () => string;
}

/** Spawns `command args` with exactly `env` (plus PATH and HOME) in `cwd`. */
export function run(command: string, args: readonly string[], options: { env: Record<string, string>; cwd: string }): Running {
  const child = spawn(command, [...args], { cwd: options.cwd, env: { ...baseEnv(), ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let all = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    all += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    all += d.toString();
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  return { child, exit, output: () => all, stdout: () => out, stderr: () => err };
}

/** `node --import tsx <entry> [args]` from `cwd` (the repository root unless told otherwise). */
export function runEntry(entry: string, env: Record<string, string>, cwd = ROOT, args: readonly string[] = []): Running {
  return run(process.execPath, ['--import', TSX_IMPORT, resolve(ROOT, entry), ...args], { env, cwd });
}

/** Rejects after `ms`, so no wait in a test is unbounded. */
export function within<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what()}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves with `ready()`'s value, or rejects as soon as the process exits first. */
export async function untilReady<T>(r: Running, ready: Promise<T>, ms: number, what: string): Promise<T> {
  const exited = r.exit.then(({ code, signal }) => {
    throw new Error(`exited (${code ?? signal}) before ${what}; output:\n${r.output()}`);
  });
  return within(Promise.race([ready, exited]), ms, () => `${what}; output:\n${r.output()}`);
}

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** Whether a port can be bound on 127.0.0.1 (nobody holds it). */
export async function portIsFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise<boolean>((r) => {
    server.once('error', () => r(false));
    server.listen(port, '127.0.0.1', () => server.close(() => r(true)));
  });
}

/** Whether a process with this pid still exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Polls `check` every 25 ms until true, at most `ms`. */
export async function waitUntil(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (await check()) return;
    if (Date.now() - started > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
