/**
 * Command line: `ask`, `keys check`, `stats`, and the gateway's `tokens` and `logs`
 * (src/cli/). Same configuration as the bot. Output goes to stdout, logs (warnings and
 * errors only, unless LOG_LEVEL is set for the command) and diagnostics to stderr.
 *
 *   npm run cli -- ask "prompt" [--model M] [--json]
 *   npm run cli -- keys check [--json]
 *   npm run cli -- stats [--json]
 *   npm run cli -- tokens create|list|revoke|update ...
 *   npm run cli -- logs [--token NAME] [--status 429] [--since 1h] [--json] ...
 *   npm run cli -- keys add|remove ...   (src/cli/keys.ts)
 *   npm run cli -- dashboard hash-password
 */
import { parseArgs } from 'node:util';
import { isConfigError } from './config.ts';
import { hideFromLibraries, readEnv } from './env.ts';
import type { GeminiAPIPool } from './pool/GeminiAPIPool.ts';
import { stateLabel } from './pool/stats.ts';
import { createPool } from './services.ts';
import type { Classified } from './gemini/classify.ts';
import { secretKind } from './configEcho.ts';
import { describeNetworkFailure, isNetworkFailure } from './endpoint.ts';
import { table } from './cli/format.ts';
import { followAddedKeys, keyVerdict } from './addedKeys.ts';
import { dashboardCommand, DASHBOARD_USAGE } from './cli/dashboard.ts';
import { keysAdd, keysRemove, KEYS_USAGE } from './cli/keys.ts';
import { cliLogger, loadCliConfig, openCliStore, readProcessStdin, type CliIo } from './cli/setup.ts';
import { runStoreCommand, STORE_COMMANDS, STORE_USAGE } from './cli/store.ts';

export type { CliIo } from './cli/setup.ts';

const USAGE = `Usage:
  npm run cli -- ask "prompt" [--model M] [--json]   answer through the pool
  npm run cli -- keys check [--json]                 check every key with a cheap call
  npm run cli -- stats [--json]                      key and pool statistics
${KEYS_USAGE}
${STORE_USAGE}
${DASHBOARD_USAGE}`;

/** What a key check found, in words an operator knows. */
export const checkVerdict: (error: Classified | undefined) => string = keyVerdict;

/** Which models are served, and how to serve one more. */
export function unknownModel(model: string, served: readonly string[]): string {
  const name = secretKind(model) ? 'that model' : model;
  const add = /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(model) && !secretKind(model) ? ` (GEMINI_MODELS=${[...served, model].join(',')})` : '';
  return `unknown model ${name}: this configuration serves ${served.join(', ')}. To serve it too, add it to GEMINI_MODELS${add}.`;
}

async function ask(pool: GeminiAPIPool, prompt: string, model: string | undefined, json: boolean, io: CliIo, baseUrl: string | undefined): Promise<number> {
  const result = await pool.generateContent({ prompt, client: 'cli', ...(model ? { model } : {}) });
  if (json) io.out(JSON.stringify(result, null, 2));
  else if (result.ok) {
    io.out(result.text);
    io.err(`-- ${result.model} via ${result.keyId}, ${result.attempts} attempt(s), ${result.latencyMs} ms`);
  } else {
    const network = await describeNetworkFailure(result.error, baseUrl);
    const wait = result.error.retryAfterMs !== undefined ? ` (try again in ~${Math.ceil(result.error.retryAfterMs / 1000)} s)` : '';
    io.err(network ? `error: ${network}` : `error: ${result.error.kind}: ${result.error.message}${wait}`);
  }
  return result.ok ? 0 : 1;
}

async function keysCheck(pool: GeminiAPIPool, json: boolean, io: CliIo, baseUrl: string | undefined): Promise<number> {
  let networkFailure: Classified | undefined;
  const results = await Promise.all(
    pool.keys.map(async (k) => {
      const r = await pool.checkKey(k.index);
      if (!r.ok && isNetworkFailure(r.error)) networkFailure ??= r.error;
      return { key: k.id, hint: k.hint, group: k.groupLabel, status: checkVerdict(r.ok ? undefined : r.error), latencyMs: r.latencyMs };
    }),
  );
  // Unreachable is the endpoint's problem, not the keys': say once where it is.
  if (networkFailure) io.err(`cannot reach Gemini: ${await describeNetworkFailure(networkFailure, baseUrl)}`);
  const working = results.filter((r) => r.status === 'valid' || r.status === 'rate-limited').length;
  if (json) io.out(JSON.stringify({ keys: results, working }, null, 2));
  else {
    const rows = [['key', 'hint', 'group', 'status', 'latency'], ...results.map((r) => [r.key, `...${r.hint}`, r.group, r.status, `${r.latencyMs} ms`])];
    for (const line of table(rows)) io.out(line);
    io.out(`${working} of ${results.length} keys work`);
  }
  return working > 0 ? 0 : 1;
}

function stats(pool: GeminiAPIPool, json: boolean, io: CliIo): number {
  const keys = pool.getKeyStats();
  const poolStats = pool.getPoolStats();
  if (json) {
    io.out(JSON.stringify({ keys, pool: poolStats }, null, 2));
    return 0;
  }
  const rows = [
    ['key', 'hint', 'state', 'usage', 'errors', 'error rate', 'avg ms', 'today', 'tokens today'],
    ...keys.keys.map((k) => [k.id, `...${k.hint}`, stateLabel(k), String(k.usage), String(k.errors), `${(k.errorRate * 100).toFixed(1)}%`, String(k.avgTimeMs), String(k.requestsToday), String(k.tokensToday)]),
  ];
  for (const line of table(rows)) io.out(line);
  const t = keys.totals;
  io.out(`${t.keys} keys: ${t.active} active, ${t.cooling} cooling, ${t.disabled} disabled; ${t.requestsToday} requests today`);
  for (const [model, m] of Object.entries(poolStats.models)) {
    io.out(`${model}: ${m.activeInstances}/${m.poolSize} instances active, usage ${m.totalUsage}`);
  }
  return 0;
}

/** Runs one command line; returns the exit code. */
export async function runCli(argv: string[], env: Record<string, string | undefined>, io: CliIo): Promise<number> {
  if (argv[0] !== undefined && STORE_COMMANDS.has(argv[0])) return runStoreCommand(argv, env, io);
  if (argv[0] === 'dashboard') return dashboardCommand(argv.slice(1), io, io.readStdin && (() => io.readStdin!('Password (not shown): ', true)));
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { model: { type: 'string', short: 'm' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' }, project: { type: 'string' } },
    });
  } catch (err) {
    io.err(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const [command, sub, ...rest] = parsed.positionals;
  if (parsed.values.help || !command) {
    io.out(USAGE);
    return command || parsed.values.help ? 0 : 2;
  }
  const config = loadCliConfig(env, io);
  if (!config) return 2;
  const logger = cliLogger(config, env);
  const store = await openCliStore(config, logger, io);
  if (!store) return 2;
  const pool = createPool(config, { logger, timers: false });
  try {
    // The same state as the bot: dead keys stay dead, today's counts add up.
    await pool.attachStore(store, { flushIntervalMs: config.store.flushIntervalMs });
    // The keys operators added too, numbered as every process numbers them.
    const vault = await followAddedKeys(pool, store, config.stateSecret, logger);
    const json = parsed.values.json ?? false;
    if (command === 'ask') {
      const prompt = [sub, ...rest].filter((s) => s !== undefined).join(' ').trim();
      if (!prompt) {
        io.err(`ask needs a prompt\n${USAGE}`);
        return 2;
      }
      const model = parsed.values.model;
      if (model !== undefined && !config.gemini.models.includes(model)) {
        io.err(unknownModel(model, config.gemini.models));
        return 2;
      }
      return await ask(pool, prompt, model, json, io, config.gemini.baseUrl);
    }
    if (command === 'keys' && sub === 'check') return await keysCheck(pool, json, io, config.gemini.baseUrl);
    const deps = { pool, store, vault, now: Date.now };
    if (command === 'keys' && sub === 'add') {
      if (rest.length > 0) {
        io.err('keys add: keys are read from stdin, never from the command line (shell history keeps it), e.g. npm run cli -- keys add < keys.txt');
        return 2;
      }
      const text = io.readStdin ? await io.readStdin('Paste the keys, one a line (not shown), then Ctrl-D: ', false) : '';
      return await keysAdd(deps, io, text, parsed.values.project, json);
    }
    if (command === 'keys' && sub === 'remove') return await keysRemove(deps, io, rest[0]);
    if (command === 'stats') return stats(pool, json, io);
    io.err(`unknown command: ${[command, sub].filter(Boolean).join(' ')}\n${USAGE}`);
    return 2;
  } finally {
    await pool.close();
    await store.close();
  }
}

const isMain = import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/src/cli.ts');
if (isMain) {
  const io: CliIo = {
    out: (l) => process.stdout.write(`${l}\n`),
    err: (l) => process.stderr.write(`${l}\n`),
    readStdin: readProcessStdin,
  };
  let env;
  try {
    env = readEnv().env;
  } catch (err) {
    if (!isConfigError(err)) throw err;
    io.err(err.message);
    process.exit(2);
  }
  // LOG_LEVEL in .env is the bot's; the CLI follows it only when given on its command line.
  if (process.env.LOG_LEVEL === undefined) delete env.LOG_LEVEL;
  // @google/genai reads GEMINI_API_KEY from process.env on every client: it gets its key from us.
  hideFromLibraries();
  runCli(process.argv.slice(2), env, io).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      process.stderr.write(`unexpected error: ${(err as Error)?.message ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
