/**
 * The request log page: the gateway's log filtered by token, key, model, status, kind and
 * time, newest first, paged, with a live tail (server-sent events) and a CSV export. Rows
 * name keys as `key#N` and tokens by name only, as the log keeps them.
 */
import { html, raw } from 'hono/html';
import { ERROR_KINDS } from '../../pool/types.ts';
import type { GatewayStore, RequestLogQuery, RequestLogRow } from '../../store/gatewayTypes.ts';
import { formatTime, page, type Html, type PageContext } from './layout.ts';
import { answerKind } from './traffic.ts';

export const LOG_PAGE_ROWS = 50;
/** Rows a CSV export holds at most. */
export const CSV_MAX_ROWS = 10_000;

const RANGES = { '15m': 15 * 60_000, '1h': 3_600_000, '6h': 6 * 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000, all: undefined } as const;

/** The filters of a page, as the query string gives them. */
export interface LogFilters {
  token?: string;
  key?: string;
  model?: string;
  status?: number;
  kind?: string;
  range: keyof typeof RANGES;
}

/** Filters from a query string; anything malformed is left out. */
export function parseFilters(q: (name: string) => string | undefined): LogFilters {
  const text = (name: string, shape: RegExp): string | undefined => {
    const v = q(name)?.trim();
    return v && shape.test(v) ? v : undefined;
  };
  const status = text('status', /^[1-5]\d\d$/);
  const range = q('range');
  const f: LogFilters = { range: range !== undefined && range in RANGES ? (range as keyof typeof RANGES) : '24h' };
  const token = text('token', /^[A-Za-z0-9._-]{1,64}$/);
  const key = text('key', /^key#\d{1,7}$/);
  const model = text('model', /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/);
  const kind = text('kind', /^[a-z_]{1,32}$/);
  if (token) f.token = token;
  if (key) f.key = key;
  if (model) f.model = model;
  if (status) f.status = Number(status);
  if (kind) f.kind = kind;
  return f;
}

/** The store query of some filters at `now`. */
export function toQuery(f: LogFilters, now: number, limit: number): RequestLogQuery {
  const span = RANGES[f.range];
  const q: RequestLogQuery = { limit };
  if (f.token) q.token = f.token;
  if (f.key) q.keyId = f.key;
  if (f.model) q.model = f.model;
  if (f.status !== undefined) q.status = f.status;
  if (f.kind) q.kind = f.kind;
  if (span !== undefined) q.since = now - span;
  return q;
}

/** The filters as a query string (`?token=a&range=1h`), for links and the live tail. */
export function filterQuery(f: LogFilters, extra: Record<string, string> = {}): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries({ token: f.token, key: f.key, model: f.model, status: f.status, kind: f.kind, range: f.range, ...extra })) {
    if (v !== undefined && v !== '') p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** A page's position: rows up to `at` (inclusive), skipping the first `skip` rows of time `at` (shown before). */
export interface LogCursor {
  at: number;
  skip: number;
}

export function parseCursor(text: string | undefined): LogCursor | undefined {
  const m = /^(\d{1,16}):(\d{1,6})$/.exec(text ?? '');
  return m ? { at: Number(m[1]), skip: Number(m[2]) } : undefined;
}

/** One page of rows, and the cursor of the next when there are more. */
export async function readPage(store: Pick<GatewayStore, 'queryRequestLog'>, f: LogFilters, cursor: LogCursor | undefined, now: number): Promise<{ rows: RequestLogRow[]; next: LogCursor | undefined }> {
  const skip = cursor?.skip ?? 0;
  const q = toQuery(f, now, skip + LOG_PAGE_ROWS + 1);
  if (cursor) q.until = cursor.at + 1;
  const all = await store.queryRequestLog(q);
  const rows = all.slice(skip, skip + LOG_PAGE_ROWS);
  if (all.length <= skip + LOG_PAGE_ROWS || rows.length === 0) return { rows, next: undefined };
  const last = rows[rows.length - 1]!.at;
  // Rows of the same millisecond as the last one shown, on this page and the ones before.
  const sameBefore = cursor && cursor.at === last ? cursor.skip : 0;
  return { rows, next: { at: last, skip: sameBefore + rows.filter((r) => r.at === last).length } };
}

/** One row of the table (also what the live tail sends). */
export function logRow(r: RequestLogRow): Html {
  const kind = answerKind(r);
  return html`<tr><td class="mono">${formatTime(r.at)}</td><td>${r.token}</td><td class="mono">${r.route}</td><td>${r.model}</td><td>${r.keyId ?? ''}</td><td class="num ${r.status < 400 ? 'ok' : 'bad'}">${r.status}</td><td>${kind === 'ok' ? '' : kind}</td><td class="num">${r.attempts}</td><td class="num">${Math.round(r.latencyMs)}</td><td class="num">${r.tokensIn} / ${r.tokensOut}</td><td>${r.streamed ? 'yes' : ''}</td></tr>`;
}

function select(name: string, label: string, options: readonly string[], value: string | undefined, any = 'any'): Html {
  return html`<div><label for="f-${name}">${label}</label><select id="f-${name}" name="${name}"><option value="">${any}</option>${options.map((o) => html`<option${o === value ? raw(' selected') : ''}>${o}</option>`)}</select></div>`;
}

/** The request log page. */
export function logsPage(ctx: PageContext, f: LogFilters, choices: { tokens: readonly string[]; keys: readonly string[]; models: readonly string[] }, rows: readonly RequestLogRow[], next: LogCursor | undefined, firstPage: boolean): Html {
  const body = html`<form class="panel" method="get" action="/dashboard/logs" aria-label="Filters">
<div class="row">
${select('token', 'Token', choices.tokens, f.token)}${select('key', 'Key', choices.keys, f.key)}${select('model', 'Model', choices.models, f.model)}
<div><label for="f-status">Status</label><input id="f-status" name="status" inputmode="numeric" pattern="[1-5][0-9][0-9]" size="4" value="${f.status ?? ''}"></div>
${select('kind', 'Kind', ERROR_KINDS, f.kind)}
<div><label for="f-range">Time</label><select id="f-range" name="range">${Object.keys(RANGES).map((r) => html`<option value="${r}"${r === f.range ? raw(' selected') : ''}>${r === 'all' ? 'all kept' : `last ${r}`}</option>`)}</select></div>
<div><button class="primary" type="submit">Filter</button> <a class="button" href="/dashboard/logs">Clear</a></div>
</div>
</form>
<section class="panel" aria-labelledby="h-rows">
<div class="row"><h2 id="h-rows">${firstPage ? 'Newest requests' : 'Older requests'}</h2>
${firstPage ? html`<button type="button" id="tail-toggle" aria-pressed="false" data-query="${filterQuery(f)}">Start live tail</button> <span class="live" id="log-live" aria-live="polite"></span>` : ''}
<a class="button" href="/dashboard/logs.csv${filterQuery(f)}" download>Export CSV</a></div>
<div class="table-wrap"><table id="log-table">
<thead><tr><th scope="col">time (UTC)</th><th scope="col">token</th><th scope="col">route</th><th scope="col">model</th><th scope="col">key</th><th scope="col" class="num">status</th><th scope="col">kind</th><th scope="col" class="num">attempts</th><th scope="col" class="num">ms</th><th scope="col" class="num">tokens in / out</th><th scope="col">streamed</th></tr></thead>
<tbody id="log-rows">${rows.length === 0 ? html`<tr id="log-empty"><td colspan="11" class="muted">No request matches.</td></tr>` : rows.map(logRow)}</tbody>
</table></div>
<p>${firstPage ? '' : html`<a href="/dashboard/logs${filterQuery(f)}">Newest</a> `}${next ? html`<a href="/dashboard/logs${filterQuery(f, { before: `${next.at}:${next.skip}` })}" rel="next">Older</a>` : ''}</p>
</section>`;
  return page(ctx, 'logs', 'Request log', body);
}

/** A CSV cell: quoted, and never read as a formula by a spreadsheet. */
function csvCell(v: string | number | boolean | undefined): string {
  let s = v === undefined ? '' : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n']/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The rows as CSV (a header line, then one line a row; no prompt or answer text). */
export function toCsv(rows: readonly RequestLogRow[]): string {
  const head = ['time', 'token', 'route', 'model', 'key', 'status', 'kind', 'attempts', 'latency_ms', 'tokens_in', 'tokens_out', 'streamed'];
  const lines = rows.map((r) =>
    [new Date(r.at).toISOString(), r.token, r.route, r.model, r.keyId, r.status, r.kind, r.attempts, Math.round(r.latencyMs), r.tokensIn, r.tokensOut, r.streamed].map(csvCell).join(','),
  );
  return `${[head.join(','), ...lines].join('\r\n')}\r\n`;
}

/**
 * New rows for a live tail: each reading looks back `lookbackMs` before the newest row seen
 * (rows are written up to a flush late, by every process) and sends only what it has not
 * sent, counting equal rows so none is sent twice or lost.
 */
export class LogTail {
  /** The newest row time seen (rows carry the time of the process that served them, not ours). */
  #watermark = Number.NEGATIVE_INFINITY;
  #seen = new Map<string, number>();

  constructor(
    private readonly store: Pick<GatewayStore, 'queryRequestLog'>,
    private readonly filters: LogFilters,
    private readonly lookbackMs = 10_000,
  ) {}

  /** Takes what the log holds now as sent (the page shows it already). */
  async prime(now: number): Promise<void> {
    await this.next(now);
  }

  /** Rows that arrived since the last reading, newest first. */
  async next(now: number): Promise<RequestLogRow[]> {
    const q = toQuery(this.filters, now, 500);
    q.since = Math.max(q.since ?? 0, this.#watermark - this.lookbackMs);
    if (!Number.isFinite(q.since)) delete q.since;
    const rows = await this.store.queryRequestLog(q);
    const counts = new Map<string, number>();
    const fresh: RequestLogRow[] = [];
    for (const r of rows) {
      const sig = JSON.stringify(r);
      const n = (counts.get(sig) ?? 0) + 1;
      counts.set(sig, n);
      if (n > (this.#seen.get(sig) ?? 0)) fresh.push(r);
    }
    for (const r of rows) this.#watermark = Math.max(this.#watermark, r.at);
    // Rows that left the window are never read again: keep only what the next reading sees.
    const from = this.#watermark - this.lookbackMs;
    this.#seen = new Map([...counts].filter(([sig]) => (JSON.parse(sig) as RequestLogRow).at >= from));
    return fresh;
  }
}
