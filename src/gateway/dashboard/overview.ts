/**
 * The overview: keys active, cooling and disabled; requests a minute over the last hour (a
 * chart); answers by kind; today's quota per project and model against its limit; the queue.
 * The same data renders the page and feeds its live updates (server-sent events), so the
 * page is complete without JavaScript and current with it.
 */
import { html } from 'hono/html';
import type { GeminiAPIPool } from '../../pool/GeminiAPIPool.ts';
import { formatCount, page, type Html, type PageContext } from './layout.ts';
import type { Traffic, TrafficSnapshot } from './traffic.ts';

/** Quota rows shown at most (the fullest first). */
const MAX_QUOTA_ROWS = 50;

/** What the overview shows; also the JSON of its live updates (no key, no token in it). */
export interface OverviewData {
  keys: { total: number; active: number; cooling: number; disabled: number };
  queue: { inFlight: number; waiting: number };
  traffic: TrafficSnapshot;
  kinds: Array<[string, number]>;
  quota: Array<{ group: string; model: string; keys: string; used: number; limit: number | null }>;
  /** Epoch ms of the data. */
  at: number;
}

/** The overview now. */
export async function overviewData(pool: Pick<GeminiAPIPool, 'getKeyStats' | 'getPoolStats' | 'getQuotaReport'>, traffic: Traffic, now: number): Promise<OverviewData> {
  const totals = pool.getKeyStats().totals;
  const stats = pool.getPoolStats();
  const snapshot = await traffic.snapshot();
  const quota = pool
    .getQuotaReport()
    .filter((q) => q.requestsToday > 0)
    .map((q) => ({ group: q.group, model: q.model, keys: q.keyIds.join(', '), used: q.requestsToday, limit: q.limits.rpd ?? null }))
    .sort((a, b) => (b.limit ? b.used / b.limit : 0) - (a.limit ? a.used / a.limit : 0) || b.used - a.used)
    .slice(0, MAX_QUOTA_ROWS);
  return {
    keys: { total: totals.keys, active: totals.active, cooling: totals.cooling, disabled: totals.disabled },
    queue: { inFlight: stats.inFlight, waiting: stats.waiting },
    traffic: snapshot,
    kinds: snapshot.kinds,
    quota,
    at: now,
  };
}

/** The overview page. */
export function overviewPage(ctx: PageContext, d: OverviewData): Html {
  const body = html`<div id="overview">
<p class="live" id="overview-live" data-state="off" aria-live="polite">not live yet</p>
<div class="grid">
<section class="panel" aria-labelledby="h-keys">
<h2 id="h-keys">Keys</h2>
<dl class="stats">
<div><dt>in use</dt><dd id="k-total">${d.keys.total}</dd></div>
<div><dt>active</dt><dd id="k-active" class="state-active">${d.keys.active}</dd></div>
<div><dt>cooling</dt><dd id="k-cooling" class="state-cooling">${d.keys.cooling}</dd></div>
<div><dt>disabled</dt><dd id="k-disabled" class="state-disabled">${d.keys.disabled}</dd></div>
</dl>
<p><a href="/dashboard/keys">Keys and actions</a></p>
</section>
<section class="panel" aria-labelledby="h-queue">
<h2 id="h-queue">Queue now</h2>
<dl class="stats">
<div><dt>in flight</dt><dd id="q-inflight">${d.queue.inFlight}</dd></div>
<div><dt>waiting for quota</dt><dd id="q-waiting">${d.queue.waiting}</dd></div>
<div><dt>gateway, this minute</dt><dd id="t-minute">${formatCount(d.traffic.thisMinute)}</dd></div>
<div><dt>gateway, last hour</dt><dd id="t-hour">${formatCount(d.traffic.lastHour)}</dd></div>
</dl>
</section>
<section class="panel wide" aria-labelledby="h-traffic">
<h2 id="h-traffic">Requests a minute, last hour</h2>
<div id="traffic-chart" class="chart" role="img" aria-label="Requests a minute over the last hour: the gateway's (all processes, from the request log) and this process's pool (the bot's requests too)"></div>
<p class="muted">Solid: gateway requests of every process (request log). Dashed: requests of this process's pool (bot and gateway), counted since the dashboard started.</p>
</section>
<section class="panel" aria-labelledby="h-kinds">
<h2 id="h-kinds">Answers by kind, last hour</h2>
<div class="table-wrap"><table>
<thead><tr><th scope="col">kind</th><th scope="col" class="num">answers</th></tr></thead>
<tbody id="kinds" data-empty="No gateway request in the last hour.">${d.kinds.length === 0 ? html`<tr><td colspan="2" class="muted">No gateway request in the last hour.</td></tr>` : ''}${d.kinds.map(([k, n]) => html`<tr><td class="${k === 'ok' ? 'ok' : 'warn'}">${k}</td><td class="num">${n}</td></tr>`)}</tbody>
</table></div>
</section>
<section class="panel wide" aria-labelledby="h-quota">
<h2 id="h-quota">Quota used today</h2>
<p class="muted">Requests per project and model since midnight Pacific time (as this process counts them), against the requests-a-day limit configured or learned from Gemini. Projects without a request today are left out.</p>
<div class="table-wrap"><table>
<thead><tr><th scope="col">project</th><th scope="col">model</th><th scope="col" class="num">used</th><th scope="col" class="num">limit</th><th scope="col"><span class="hide-narrow">share</span></th></tr></thead>
<tbody id="quota" data-empty="No request yet today.">${d.quota.length === 0 ? html`<tr><td colspan="5" class="muted">No request yet today.</td></tr>` : ''}${d.quota.map(
    (q) => html`<tr><td>${q.group}</td><td>${q.model}</td><td class="num">${q.used}</td><td class="num">${q.limit ?? 'unknown'}</td><td>${q.limit !== null ? html`<meter min="0" max="${q.limit}" high="${q.limit * 0.8}" value="${Math.min(q.used, q.limit)}">${q.used} of ${q.limit}</meter>` : ''}</td></tr>`,
  )}</tbody>
</table></div>
</section>
</div>
</div>`;
  return page(ctx, 'overview', 'Overview', body, { chart: true });
}
