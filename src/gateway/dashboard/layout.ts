/**
 * The dashboard's page shell and small formatting helpers. Pages are server-rendered with
 * hono's `html` template, which escapes every interpolated value; `raw` is used only for
 * markup built here. No inline script or style: the page's behaviour is in dashboard.js.
 */
import { html, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { Asset } from './assets.ts';

/** What every page of a signed-in session gets. */
export interface PageContext {
  csrf: string;
  assets: ReadonlyMap<string, Asset>;
}

/** The pages of the navigation, in order. */
export const PAGES = [
  { id: 'overview', path: '/dashboard', label: 'Overview' },
  { id: 'keys', path: '/dashboard/keys', label: 'Keys' },
  { id: 'tokens', path: '/dashboard/tokens', label: 'Tokens' },
  { id: 'logs', path: '/dashboard/logs', label: 'Request log' },
  { id: 'settings', path: '/dashboard/settings', label: 'Settings' },
] as const;

export type PageId = (typeof PAGES)[number]['id'];

/** Markup, as the `html` template returns it. */
export type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

/**
 * htmx settings: no eval, no script tags in swapped content, requests to this origin only, no
 * history snapshots, no injected style element, and no `style` attribute copied while
 * settling (the CSP refuses inline style, and a browser may leave an empty one on a form field).
 */
const HTMX_CONFIG = JSON.stringify({ includeIndicatorStyles: false, allowEval: false, allowScriptTags: false, selfRequestsOnly: true, historyEnabled: false, historyCacheSize: 0, attributesToSettle: ['class', 'width', 'height'] });

function assetUrl(assets: ReadonlyMap<string, Asset>, name: string): string {
  const a = assets.get(name);
  if (!a) throw new Error(`no dashboard asset ${name}`);
  return a.url;
}

/** The hidden field every form of a session sends back. */
export function csrfField(csrf: string): Html {
  return html`<input type="hidden" name="_csrf" value="${csrf}">`;
}

/** A whole page of a signed-in session. */
export function page(ctx: PageContext, id: PageId, title: string, body: Html, options: { chart?: boolean } = {}): Html {
  const a = (name: string) => assetUrl(ctx.assets, name);
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="referrer" content="no-referrer">
<meta name="csrf-token" content="${ctx.csrf}">
<meta name="htmx-config" content="${HTMX_CONFIG}">
<title>${title} · Gemini pool</title>
<link rel="icon" href="${a('favicon.svg')}" type="image/svg+xml">
<link rel="stylesheet" href="${a('dashboard.css')}">
${options.chart ? html`<link rel="stylesheet" href="${a('uPlot.min.css')}">` : ''}
<script src="${a('htmx.min.js')}" defer></script>
${options.chart ? html`<script src="${a('uPlot.iife.min.js')}" defer></script>` : ''}
<script src="${a('dashboard.js')}" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
<nav aria-label="Dashboard">
<span class="brand">Gemini pool</span>
${PAGES.map((p) => html`<a href="${p.path}"${p.id === id ? raw(' aria-current="page"') : ''}>${p.label}</a>`)}
<form method="post" action="/dashboard/logout">${csrfField(ctx.csrf)}<button type="submit">Sign out</button></form>
</nav>
</header>
<main id="main" tabindex="-1">
<h1>${title}</h1>
${body}
</main>
</body>
</html>`;
}

/** The login page (no session yet): its own CSRF value travels in a cookie and the form. */
export function loginPage(assets: ReadonlyMap<string, Asset>, loginCsrf: string, message: { text: string; bad: boolean } | undefined): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="referrer" content="no-referrer">
<title>Sign in · Gemini pool</title>
<link rel="icon" href="${assetUrl(assets, 'favicon.svg')}" type="image/svg+xml">
<link rel="stylesheet" href="${assetUrl(assets, 'dashboard.css')}">
</head>
<body>
<main id="main" class="login">
<div class="panel">
<h1>Gemini pool dashboard</h1>
${message ? html`<p class="notice ${message.bad ? 'bad' : ''}" role="alert">${message.text}</p>` : ''}
<form method="post" action="/dashboard/login">
<input type="hidden" name="_csrf" value="${loginCsrf}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required autofocus>
<p><button class="primary" type="submit">Sign in</button></p>
</form>
</div>
</main>
</body>
</html>`;
}

/** A notice above a page's content: done (good), refused (bad) or plain. */
export function notice(text: string | undefined, kind: 'good' | 'bad' | 'plain' = 'plain'): Html | '' {
  if (!text) return '';
  return html`<p class="notice ${kind === 'plain' ? '' : kind}" role="status">${text}</p>`;
}

/** A duration as people read it: `45 s`, `12 min`, `3 h 5 min`. */
export function formatMs(ms: number): string {
  if (!(ms > 0)) return '0 s';
  const s = Math.ceil(ms / 1000);
  if (s < 120) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 120) return `${m} min`;
  const h = Math.floor(m / 60);
  return `${h} h ${m % 60} min`;
}

/** A time as `2026-11-29 01:47:38Z` (UTC: the same for every reader of a shared log). */
export function formatTime(at: number): string {
  return new Date(at).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}

/** A whole number with thousands separators. */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
