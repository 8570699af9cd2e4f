/**
 * The keys page: the table `/api-key-stats` shows (key#N, last four characters, project,
 * state and cooldown left, usage, errors, error rate, latency, today's requests and
 * tokens), sortable, with the actions on each key (disable, enable, clear its cooldown,
 * check it now, remove a key added here) and on all (check all, add keys). Keys from the
 * configuration are read-only here and say so.
 */
import { html, raw } from 'hono/html';
import type { AddKeysResult } from '../../addedKeys.ts';
import type { KeyStats } from '../../pool/types.ts';
import { csrfField, formatCount, formatMs, notice, page, type Html, type PageContext } from './layout.ts';

/** Columns the table sorts by, and how. */
const SORTS = {
  key: (k: KeyStats) => Number(k.id.slice(4)),
  hint: (k: KeyStats) => k.hint,
  project: (k: KeyStats) => k.group,
  state: (k: KeyStats) => ({ active: 0, cooling: 1, disabled: 2 })[k.state] * 1e12 + k.cooldownRemainingMs,
  usage: (k: KeyStats) => k.usage,
  errors: (k: KeyStats) => k.errors,
  rate: (k: KeyStats) => k.errorRate,
  latency: (k: KeyStats) => k.avgTimeMs,
  today: (k: KeyStats) => k.requestsToday,
  tokens: (k: KeyStats) => k.tokensToday,
} as const;

export type KeySort = { by: keyof typeof SORTS; dir: 'asc' | 'desc' };

/** The sort a query asks for (`?sort=usage&dir=desc`), or by key number. */
export function parseSort(by: string | undefined, dir: string | undefined): KeySort {
  const column = by && by in SORTS ? (by as keyof typeof SORTS) : 'key';
  return { by: column, dir: dir === 'desc' ? 'desc' : 'asc' };
}

function sorted(keys: readonly KeyStats[], sort: KeySort): KeyStats[] {
  const f = SORTS[sort.by];
  const sign = sort.dir === 'asc' ? 1 : -1;
  return [...keys].sort((a, b) => {
    const x = f(a);
    const y = f(b);
    const c = typeof x === 'string' ? x.localeCompare(y as string) : x - (y as number);
    return c !== 0 ? sign * c : SORTS.key(a) - SORTS.key(b);
  });
}

function header(label: string, column: keyof typeof SORTS, sort: KeySort, numeric = false): Html {
  const active = sort.by === column;
  const next = active && sort.dir === 'asc' ? 'desc' : 'asc';
  const ariaSort = active ? (sort.dir === 'asc' ? 'ascending' : 'descending') : undefined;
  return html`<th scope="col"${numeric ? raw(' class="num"') : ''}${ariaSort ? raw(` aria-sort="${ariaSort}"`) : ''}><a href="/dashboard/keys?sort=${column}&amp;dir=${next}">${label}${active ? (sort.dir === 'asc' ? ' ▲' : ' ▼') : ''}</a></th>`;
}

function stateCell(k: KeyStats): Html {
  if (k.state === 'disabled') {
    return html`<span class="state-disabled">disabled</span><br><span class="muted">${k.disabledByOperator ? 'by an operator' : (k.disabledReason ?? '')}</span>`;
  }
  if (k.state === 'cooling') return html`<span class="state-cooling">cooling</span><br><span class="muted">${formatMs(k.cooldownRemainingMs)} left</span>`;
  return html`<span class="state-active">active</span>`;
}

/** One action on one key: a small form, posted by htmx (or plainly without JavaScript). */
function action(k: KeyStats, name: string, label: string, ctx: { csrf: string; sort: KeySort }, extra = ''): Html {
  const n = k.id.slice(4);
  return html`<form method="post" action="/dashboard/keys/${n}/${name}" hx-post="/dashboard/keys/${n}/${name}" hx-target="#keys-region" hx-swap="outerHTML"${extra ? raw(` ${extra}`) : ''}>${csrfField(ctx.csrf)}<input type="hidden" name="hint" value="${k.hint}"><input type="hidden" name="sort" value="${ctx.sort.by}"><input type="hidden" name="dir" value="${ctx.sort.dir}"><button type="submit"${name === 'remove' ? raw(' class="danger"') : ''} aria-label="${label} ${k.id}">${label}</button></form>`;
}

/** What the region shows after an action. */
export interface KeysMessage {
  text: string;
  kind: 'good' | 'bad' | 'plain';
}

/** The part of the page actions replace: message, table, add form. */
export function keysRegion(ctx: PageContext & { canAdd: boolean }, keys: readonly KeyStats[], sort: KeySort, message: KeysMessage | undefined, added?: AddKeysResult): Html {
  const a = { csrf: ctx.csrf, sort };
  return html`<div id="keys-region">
${message ? notice(message.text, message.kind) : ''}
${added ? addedReport(added) : ''}
<section class="panel" aria-labelledby="h-keytable">
<div class="row"><h2 id="h-keytable">Keys in use (${keys.length})</h2>
<form method="post" action="/dashboard/keys/check-all" hx-post="/dashboard/keys/check-all" hx-target="#keys-region" hx-swap="outerHTML">${csrfField(ctx.csrf)}<input type="hidden" name="sort" value="${sort.by}"><input type="hidden" name="dir" value="${sort.dir}"><button type="submit">Check all keys now</button></form>
<a class="button" href="/dashboard/keys?sort=${sort.by}&amp;dir=${sort.dir}">Refresh</a></div>
<div class="table-wrap"><table id="keys-table">
<thead><tr>
${header('key', 'key', sort)}${header('last 4', 'hint', sort)}${header('project', 'project', sort)}<th scope="col">source</th>${header('state', 'state', sort)}
${header('usage', 'usage', sort, true)}${header('errors', 'errors', sort, true)}${header('error rate', 'rate', sort, true)}${header('avg ms', 'latency', sort, true)}
${header('today', 'today', sort, true)}${header('tokens today', 'tokens', sort, true)}<th scope="col">actions</th>
</tr></thead>
<tbody>${sorted(keys, sort).map(
    (k) => html`<tr id="key-${k.id.slice(4)}">
<th scope="row">${k.id}</th><td class="mono">...${k.hint}</td><td>${k.group}</td><td>${k.added ? 'added here' : html`<span class="muted" title="Keys from the configuration cannot be removed here">configuration (read-only)</span>`}</td><td>${stateCell(k)}</td>
<td class="num">${formatCount(k.usage)}</td><td class="num">${formatCount(k.errors)}</td><td class="num">${(k.errorRate * 100).toFixed(1)}%</td><td class="num">${formatCount(k.avgTimeMs)}</td>
<td class="num">${formatCount(k.requestsToday)}</td><td class="num">${formatCount(k.tokensToday)}</td>
<td class="actions">${k.state === 'disabled' ? action(k, 'enable', 'Enable', a) : action(k, 'disable', 'Disable', a)} ${k.state === 'cooling' ? action(k, 'clear', 'Clear cooldown', a) : ''} ${action(k, 'check', 'Check now', a)} ${k.added ? action(k, 'remove', 'Remove', a, `hx-confirm="Remove ${k.id} (...${k.hint}) from every process?"`) : ''}</td>
</tr>`,
  )}</tbody>
</table></div>
<p class="muted">Usage counts attempts (a request retried on another key makes several); today counts requests since midnight Pacific time. A key disabled by an operator stays disabled until enabled here; other disabled keys are checked again every hour.</p>
</section>
<section class="panel" aria-labelledby="h-add">
<h2 id="h-add">Add keys</h2>
${
  ctx.canAdd
    ? html`<form method="post" action="/dashboard/keys/add" hx-post="/dashboard/keys/add" hx-target="#keys-region" hx-swap="outerHTML" autocomplete="off">${csrfField(ctx.csrf)}<input type="hidden" name="sort" value="${sort.by}"><input type="hidden" name="dir" value="${sort.dir}">
<label for="new-keys">Keys, one a line (<code>project:key</code> names a key's Google Cloud project)</label>
<textarea id="new-keys" name="keys" spellcheck="false" autocapitalize="off" autocomplete="off" required></textarea>
<div class="row"><div><label for="new-project">Project of the keys without one (optional)</label><input id="new-project" name="project" maxlength="64" pattern="[A-Za-z0-9._\\-]{1,64}"></div>
<div><button class="primary" type="submit">Check and add</button></div></div>
<p class="muted">Each key is checked with a cheap call first; one that fails is refused with the answer. Added keys are stored encrypted (STATE_SECRET) and used by every process sharing the store within a second.</p>
</form>`
    : html`<p class="notice bad">Keys cannot be added here: STATE_SECRET is not set. Keys added at runtime are stored encrypted with it; set it (16 characters or more) in every process that shares the store, then restart.</p>`
}
</section>
</div>`;
}

function addedReport(r: AddKeysResult): Html {
  return html`<section class="panel" aria-labelledby="h-added" role="status">
<h2 id="h-added">Added ${r.added.length}, refused ${r.refused.length}</h2>
<ul>${r.added.map((a) => html`<li class="ok">added ...${a.hint} (project ${a.group})${a.keyId ? ` as ${a.keyId}` : ''}</li>`)}${r.refused.map((f) => html`<li class="bad">refused ${f.hint ? `...${f.hint}: ` : ''}${f.reason}</li>`)}</ul>
</section>`;
}

/** The keys page. */
export function keysPage(ctx: PageContext & { canAdd: boolean }, keys: readonly KeyStats[], sort: KeySort, message: KeysMessage | undefined, added?: AddKeysResult): Html {
  return page(ctx, 'keys', 'Keys', keysRegion(ctx, keys, sort, message, added));
}
