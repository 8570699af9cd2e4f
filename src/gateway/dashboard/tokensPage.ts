/**
 * The tokens page: client tokens with their usage and limits; create one (shown once, with a
 * copy button), revoke one, change its limits, models and expiry. The store keeps only a
 * token's hash: after the answer that creates it, no page can show it again.
 */
import { html, raw } from 'hono/html';
import type { TokenListing } from '../tokens.ts';
import { csrfField, formatCount, formatTime, notice, page, type Html, type PageContext } from './layout.ts';

/** What the region shows after an action: a message and, once, a new token. */
export interface TokensOutcome {
  text: string;
  kind: 'good' | 'bad' | 'plain';
  /** The token just made: in this answer only. */
  created?: { name: string; token: string };
}

function limits(t: TokenListing): string {
  const l = t.limits;
  const parts = [l.rpm !== undefined ? `${l.rpm}/min` : '', l.rpd !== undefined ? `${l.rpd}/day` : '', l.tpd !== undefined ? `${l.tpd} tokens/day` : ''].filter(Boolean);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

function usage(u: { requests: number; tokens: number; errors: number }): string {
  return `${formatCount(u.requests)} / ${formatCount(u.tokens)} / ${formatCount(u.errors)}`;
}

function modelBoxes(idPrefix: string, models: readonly string[], checked: readonly string[] | undefined): Html {
  return html`<fieldset><legend>Models (none ticked: every served model)</legend>${models.map(
    (m, i) => html`<label><input type="checkbox" name="models" value="${m}" id="${idPrefix}-m${i}"${checked?.includes(m) ? raw(' checked') : ''}> ${m}</label>`,
  )}</fieldset>`;
}

function limitFields(idPrefix: string, t: TokenListing | undefined): Html {
  const v = (n: number | undefined) => (n === undefined ? '' : String(n));
  return html`<div class="row">
<div><label for="${idPrefix}-rpm">Requests a minute</label><input id="${idPrefix}-rpm" name="rpm" inputmode="numeric" pattern="[0-9]*" size="7" value="${v(t?.limits.rpm)}"></div>
<div><label for="${idPrefix}-rpd">Requests a day</label><input id="${idPrefix}-rpd" name="rpd" inputmode="numeric" pattern="[0-9]*" size="7" value="${v(t?.limits.rpd)}"></div>
<div><label for="${idPrefix}-tpd">Tokens a day</label><input id="${idPrefix}-tpd" name="tpd" inputmode="numeric" pattern="[0-9]*" size="9" value="${v(t?.limits.tpd)}"></div>
<div><label for="${idPrefix}-exp">${t ? 'Expires (keep empty to keep; never; or 30d, 12h ...)' : 'Expires after (empty: never; or 30d, 12h ...)'}</label><input id="${idPrefix}-exp" name="expires" size="10"></div>
</div>`;
}

function tokenRow(ctx: { csrf: string; models: readonly string[] }, t: TokenListing): Html {
  const id = `t-${t.name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  const path = `/dashboard/tokens/${encodeURIComponent(t.name)}`;
  return html`<tr>
<th scope="row">${t.name}</th><td class="mono">${t.prefix}...</td><td class="${t.status === 'active' ? 'ok' : 'bad'}">${t.status}</td>
<td>${t.models ? t.models.join(', ') : 'all'}</td><td>${limits(t)}</td><td>${t.expiresAt !== undefined ? formatTime(t.expiresAt) : 'never'}</td>
<td class="num">${usage(t.today)}</td><td class="num">${usage(t.total)}</td>
<td class="actions">${
    t.status === 'revoked'
      ? ''
      : html`<form method="post" action="${path}/revoke" hx-post="${path}/revoke" hx-target="#tokens-region" hx-swap="outerHTML" hx-confirm="Revoke ${t.name}? Apps using it get 401 from then on.">${csrfField(ctx.csrf)}<button class="danger" type="submit" aria-label="Revoke ${t.name}">Revoke</button></form>
<details><summary>Edit</summary>
<form method="post" action="${path}/update" hx-post="${path}/update" hx-target="#tokens-region" hx-swap="outerHTML">${csrfField(ctx.csrf)}
${modelBoxes(id, ctx.models, t.models)}${limitFields(id, t)}
<p><button type="submit">Save ${t.name}</button></p></form></details>`
  }</td>
</tr>`;
}

/** The part of the page actions replace. */
export function tokensRegion(ctx: PageContext & { models: readonly string[] }, tokens: readonly TokenListing[], outcome: TokensOutcome | undefined): Html {
  return html`<div id="tokens-region">
${outcome ? notice(outcome.text, outcome.kind) : ''}
${
  outcome?.created
    ? html`<section class="panel" aria-labelledby="h-new-token">
<h2 id="h-new-token">Token ${outcome.created.name}</h2>
<p><strong>This is the only time it is shown: copy it now.</strong> Only its hash is kept; if it is lost, revoke it and create another.</p>
<div class="row"><div class="grow"><label for="new-token">Client token</label><input id="new-token" class="secret" readonly value="${outcome.created.token}" autocomplete="off" spellcheck="false"></div>
<div><button type="button" data-copy="new-token">Copy</button></div></div>
</section>`
    : ''
}
<section class="panel" aria-labelledby="h-tokens">
<h2 id="h-tokens">Client tokens (${tokens.length})</h2>
<div class="table-wrap"><table id="tokens-table">
<thead><tr><th scope="col">name</th><th scope="col">prefix</th><th scope="col">status</th><th scope="col">models</th><th scope="col">limits</th><th scope="col">expires</th><th scope="col" class="num">today req / tok / err</th><th scope="col" class="num">total req / tok / err</th><th scope="col">actions</th></tr></thead>
<tbody>${tokens.length === 0 ? html`<tr><td colspan="9" class="muted">No client token yet: create one below.</td></tr>` : tokens.map((t) => tokenRow(ctx, t))}</tbody>
</table></div>
</section>
<section class="panel" aria-labelledby="h-create">
<h2 id="h-create">Create a token</h2>
<form method="post" action="/dashboard/tokens/create" hx-post="/dashboard/tokens/create" hx-target="#tokens-region" hx-swap="outerHTML" autocomplete="off">${csrfField(ctx.csrf)}
<label for="token-name">Name (who uses it, e.g. web-app)</label><input id="token-name" name="name" required maxlength="64" pattern="[A-Za-z0-9._\\-]{1,64}">
${modelBoxes('new', ctx.models, undefined)}${limitFields('new', undefined)}
<p><button class="primary" type="submit">Create token</button></p>
</form>
</section>
</div>`;
}

/** The tokens page. */
export function tokensPage(ctx: PageContext & { models: readonly string[] }, tokens: readonly TokenListing[], outcome: TokensOutcome | undefined): Html {
  return page(ctx, 'tokens', 'Tokens', tokensRegion(ctx, tokens, outcome));
}
