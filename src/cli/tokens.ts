/**
 * `tokens create | list | revoke | update`: the gateway's client tokens from the command
 * line. A token is printed once, when it is made; afterwards only its name and prefix are
 * ever shown.
 */
import type { Config } from '../config.ts';
import { shown } from '../configEcho.ts';
import { parseDuration, TokenRegistry, validateTokenName, type TokenChange, type TokenListing } from '../gateway/tokens.ts';
import { isStoreRejectedError } from '../store/errors.ts';
import type { TokenLimits } from '../store/gatewayTypes.ts';
import { parseFlags, UsageError, wholeNumber } from './args.ts';
import { table, utcTime } from './format.ts';
import type { StoreRun } from './store.ts';

export const TOKENS_USAGE = `  npm run cli -- tokens create --name NAME [--models a,b] [--rpm N] [--rpd N] [--tpd N] [--expires 30d] [--json]
  npm run cli -- tokens list [--json]                 every token: limits, status, usage today and in total
  npm run cli -- tokens revoke NAME                   the token stops working, for good
  npm run cli -- tokens update NAME [--models a,b|all] [--rpm N|none] [--rpd N|none] [--tpd N|none] [--expires 30d|never]`;

const LIMITS = ['rpm', 'rpd', 'tpd'] as const;

/** The models a token may be limited to: those the gateway serves. */
function parseModels(command: string, text: string, config: Config): string[] {
  const served = [...config.gemini.models, ...config.gateway.embeddingModels];
  const models = [...new Set(text.split(',').map((m) => m.trim()).filter(Boolean))];
  if (models.length === 0) throw new UsageError(`${command}: --models needs at least one model (served: ${served.join(', ')})`);
  const unknown = models.find((m) => !served.includes(m));
  if (unknown !== undefined) throw new UsageError(`${command}: unknown model ${shown(unknown)}: this configuration serves ${served.join(', ')}`);
  return models;
}

function duration(command: string, text: string): number {
  try {
    return parseDuration(text);
  } catch (e) {
    throw new UsageError(`${command}: --expires: ${(e as Error).message}`);
  }
}

function checkedName(command: string, name: string | undefined): string {
  if (name === undefined) throw new UsageError(`${command}: give the token's name (npm run cli -- tokens list shows them)`);
  try {
    return validateTokenName(name);
  } catch (e) {
    throw new UsageError(`${command}: ${(e as Error).message}`);
  }
}

const describeModels = (models: readonly string[] | undefined): string => (models ? models.join(',') : 'all');
const describeLimits = (limits: TokenLimits): string => LIMITS.filter((l) => limits[l] !== undefined).map((l) => `${l} ${limits[l]}`).join(', ') || 'none';
const describeExpiry = (expiresAt: number | undefined): string => (expiresAt === undefined ? 'never' : utcTime(expiresAt));
const usage = (u: TokenListing['today']): string => `${u.requests}/${u.tokens}/${u.errors}`;

function create(args: readonly string[], config: Config): StoreRun {
  const command = 'tokens create';
  const s = { type: 'string' } as const;
  const { values } = parseFlags(command, args, { name: s, models: s, rpm: s, rpd: s, tpd: s, expires: s, json: { type: 'boolean' } });
  if (values.name === undefined) throw new UsageError(`${command}: --name NAME is required (1-64 characters of A-Z a-z 0-9 . _ -)`);
  const name = checkedName(command, values.name);
  const limits: TokenLimits = {};
  for (const l of LIMITS) if (values[l] !== undefined) limits[l] = wholeNumber(command, l, values[l]);
  const models = values.models === undefined ? undefined : parseModels(command, values.models, config);
  const expiresInMs = values.expires === undefined ? undefined : duration(command, values.expires);
  return async ({ store, io, now }) => {
    let made;
    try {
      made = await new TokenRegistry(store, { now }).create({ name, limits, ...(models ? { models } : {}), ...(expiresInMs !== undefined ? { expiresInMs } : {}) });
    } catch (e) {
      if (!isStoreRejectedError(e)) throw e;
      io.err(`${command}: a token named ${name} exists already (a revoked token keeps its name): choose another name`);
      return 2;
    }
    const { token, record } = made;
    const notice = 'This is the only time the token is shown: copy it now. Only its hash is kept; if it is lost, revoke it and create another.';
    if (values.json) {
      io.out(JSON.stringify({ name, token, prefix: record.prefix, models: record.models ?? null, limits: record.limits, createdAt: record.createdAt, expiresAt: record.expiresAt ?? null }, null, 2));
      io.err(notice);
      return 0;
    }
    io.out(`created token ${name} (${record.prefix}...): models ${describeModels(record.models)}, limits ${describeLimits(record.limits)}, expires ${describeExpiry(record.expiresAt)}`);
    io.out(token);
    io.out(notice);
    return 0;
  };
}

function list(args: readonly string[]): StoreRun {
  const { values } = parseFlags('tokens list', args, { json: { type: 'boolean' } });
  return async ({ store, io, now }) => {
    const tokens = await new TokenRegistry(store, { now }).list();
    if (values.json) {
      io.out(JSON.stringify(tokens, null, 2));
      return 0;
    }
    if (tokens.length === 0) {
      io.out('no tokens yet: npm run cli -- tokens create --name NAME');
      return 0;
    }
    const rows = [
      ['name', 'prefix', 'status', 'models', 'limits', 'expires', 'today req/tok/err', 'total req/tok/err'],
      ...tokens.map((t) => [t.name, `${t.prefix}...`, t.status, describeModels(t.models), describeLimits(t.limits), describeExpiry(t.expiresAt), usage(t.today), usage(t.total)]),
    ];
    for (const line of table(rows)) io.out(line);
    return 0;
  };
}

function revoke(args: readonly string[]): StoreRun {
  const command = 'tokens revoke';
  const { positionals } = parseFlags(command, args, {}, 1);
  const name = checkedName(command, positionals[0]);
  return async ({ store, io, now }) => {
    const current = await store.tokenByName(name);
    if (!current) {
      io.err(`${command}: no token named ${name} (npm run cli -- tokens list shows them)`);
      return 2;
    }
    if (current.revokedAt !== undefined) {
      io.out(`token ${name} was revoked already, at ${utcTime(current.revokedAt)}`);
      return 0;
    }
    await new TokenRegistry(store, { now }).revoke(name);
    io.out(`revoked token ${name}: it no longer works (every gateway process sees it within a second)`);
    return 0;
  };
}

function update(args: readonly string[], config: Config): StoreRun {
  const command = 'tokens update';
  const s = { type: 'string' } as const;
  const { values, positionals } = parseFlags(command, args, { models: s, rpm: s, rpd: s, tpd: s, expires: s }, 1);
  const name = checkedName(command, positionals[0]);
  const change: TokenChange = {};
  if (values.models !== undefined) change.models = values.models.trim() === 'all' ? null : parseModels(command, values.models, config);
  for (const l of LIMITS) {
    const v = values[l];
    if (v !== undefined) (change.limits ??= {})[l] = v.trim() === 'none' ? null : wholeNumber(command, l, v);
  }
  if (values.expires !== undefined) change.expiresInMs = values.expires.trim() === 'never' ? null : duration(command, values.expires);
  if (Object.keys(change).length === 0) throw new UsageError(`${command}: nothing to change: give --models, --rpm, --rpd, --tpd or --expires`);
  return async ({ store, io, now }) => {
    const registry = new TokenRegistry(store, { now });
    if (!(await registry.update(name, change))) {
      io.err(`${command}: no token named ${name} (npm run cli -- tokens list shows them)`);
      return 2;
    }
    const t = (await store.tokenByName(name))!;
    io.out(`updated token ${name}: models ${describeModels(t.models)}, limits ${describeLimits(t.limits)}, expires ${describeExpiry(t.expiresAt)}`);
    return 0;
  };
}

/**
 * The `tokens` command, its arguments checked before the store is opened.
 * @throws UsageError for a missing or unknown subcommand and any bad argument.
 */
export function tokensCommand(args: readonly string[], config: Config): StoreRun {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'create':
      return create(rest, config);
    case 'list':
      return list(rest);
    case 'revoke':
      return revoke(rest);
    case 'update':
      return update(rest, config);
    default:
      throw new UsageError(`tokens: ${sub === undefined ? 'give a subcommand' : `unknown subcommand ${shown(sub)}`}: create, list, revoke or update`);
  }
}
