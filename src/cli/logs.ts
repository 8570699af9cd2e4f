/**
 * `logs`: the gateway's request log, newest first, narrowed by token, key, model, status,
 * error kind and age.
 */
import { shown } from '../configEcho.ts';
import { parseDuration } from '../gateway/tokens.ts';
import type { RequestLogQuery } from '../store/gatewayTypes.ts';
import { parseFlags, UsageError, wholeNumber } from './args.ts';
import { table, utcTime } from './format.ts';
import type { StoreRun } from './store.ts';

export const LOGS_USAGE = `  npm run cli -- logs [--token NAME] [--key key#N] [--model M] [--status 429] [--kind K] [--since 1h] [--limit 50] [--json]`;

/** Rows shown when `--limit` is not given. */
const DEFAULT_LIMIT = 50;

/**
 * The `logs` command, its arguments checked before the store is opened.
 * @throws UsageError for any bad argument.
 */
export function logsCommand(args: readonly string[]): StoreRun {
  const command = 'logs';
  const s = { type: 'string' } as const;
  const { values } = parseFlags(command, args, { token: s, key: s, model: s, status: s, kind: s, since: s, limit: s, json: { type: 'boolean' } });
  const query: RequestLogQuery = { limit: values.limit === undefined ? DEFAULT_LIMIT : wholeNumber(command, 'limit', values.limit) };
  if (values.token !== undefined) query.token = values.token;
  if (values.model !== undefined) query.model = values.model;
  if (values.kind !== undefined) query.kind = values.kind;
  if (values.key !== undefined) {
    const n = /^\s*(?:key#)?(\d+)\s*$/.exec(values.key)?.[1];
    if (n === undefined || Number(n) < 1) throw new UsageError(`${command}: --key is key#N or N, as /api-key-stats and stats name keys (got ${shown(values.key)})`);
    query.keyId = `key#${Number(n)}`;
  }
  if (values.status !== undefined) {
    const status = wholeNumber(command, 'status', values.status, 100);
    if (status > 599) throw new UsageError(`${command}: --status is an HTTP status, 100-599 (got ${shown(values.status)})`);
    query.status = status;
  }
  let sinceMs: number | undefined;
  if (values.since !== undefined) {
    try {
      sinceMs = parseDuration(values.since);
    } catch (e) {
      throw new UsageError(`${command}: --since: ${(e as Error).message}`);
    }
  }
  return async ({ store, io, now }) => {
    if (sinceMs !== undefined) query.since = now() - sinceMs;
    const rows = await store.queryRequestLog(query);
    if (values.json) {
      io.out(JSON.stringify(rows, null, 2));
      return 0;
    }
    if (rows.length === 0) {
      io.out('no logged requests match');
      return 0;
    }
    const lines = [
      ['time', 'token', 'route', 'model', 'key', 'status', 'kind', 'attempts', 'ms', 'in', 'out', 'stream'],
      ...rows.map((r) => [
        utcTime(r.at), r.token, r.route, r.model, r.keyId ?? '-', String(r.status), r.kind ?? '-', String(r.attempts),
        String(Math.round(r.latencyMs)), String(r.tokensIn), String(r.tokensOut), r.streamed ? 'yes' : 'no',
      ]),
    ];
    for (const line of table(lines)) io.out(line);
    return 0;
  };
}
