/**
 * The settings page: every variable the configuration reads, its effective value and where
 * it came from (the environment, the `.env` file, or the default). Secrets are never shown:
 * keys are counted, tokens, passwords and STATE_SECRET only said to be set, a Redis URL
 * without its password, and any value that looks like a key or token is hidden too.
 */
import { html } from 'hono/html';
import { CONFIG_VARIABLES, configDefault } from '../../config.ts';
import { secretKind } from '../../configEcho.ts';
import { redactRedisUrl } from '../../store/redis.ts';
import { page, type Html, type PageContext } from './layout.ts';

/** One row of the settings table. */
export interface SettingRow {
  name: string;
  value: string;
  source: 'environment' | '.env file' | 'default';
}

const HIDDEN = new Set(['DISCORD_TOKEN', 'DASHBOARD_PASSWORD', 'DASHBOARD_PASSWORD_HASH', 'STATE_SECRET']);
const KEY_LISTS = /^GEMINI_API_KEY(S|_\d+)?$/;

function shownDefault(v: unknown): string {
  if (v === undefined) return '(not set)';
  if (Array.isArray(v)) return v.length === 0 ? '(not set)' : v.join(',');
  if (typeof v === 'object' && v !== null) return Object.keys(v).length === 0 ? '(not set)' : JSON.stringify(v);
  return String(v);
}

/** What may be shown of a value that is set. */
function shownValue(name: string, raw: string): string {
  const v = raw.trim();
  if (v === '') return '(empty)';
  if (HIDDEN.has(name)) return 'set (hidden)';
  if (KEY_LISTS.test(name)) {
    const n = v.split(/[,\n\r]/).filter((s) => s.trim()).length;
    return `${n} ${n === 1 ? 'key' : 'keys'} (hidden)`;
  }
  if (name === 'REDIS_URL') return redactRedisUrl(v);
  if (secretKind(v)) return 'hidden (it looks like a key or token)';
  return v.length > 120 ? `${v.slice(0, 117)}...` : v;
}

/**
 * The rows of the settings table, from the environment the configuration was read from and
 * where each variable came from (`origin`); without them every value is the default.
 */
export function settingRows(env: Record<string, string | undefined> | undefined, origin: Record<string, 'environment' | 'file'> | undefined): SettingRow[] {
  const names = [...CONFIG_VARIABLES];
  for (const n of Object.keys(env ?? {}).filter((x) => /^GEMINI_API_KEY_\d+$/.test(x)).sort((a, b) => Number(a.slice(15)) - Number(b.slice(15)))) names.splice(names.indexOf('GEMINI_API_KEY') + 1, 0, n);
  return names.map((name) => {
    const raw = env?.[name];
    if (raw === undefined || raw.trim() === '') return { name, value: shownDefault(configDefault(name)), source: 'default' as const };
    return { name, value: shownValue(name, raw), source: origin?.[name] === 'file' ? ('.env file' as const) : ('environment' as const) };
  });
}

/** The settings page. */
export function settingsPage(ctx: PageContext, rows: readonly SettingRow[], facts: Array<[string, string]>): Html {
  const body = html`<section class="panel" aria-labelledby="h-facts">
<h2 id="h-facts">This process</h2>
<div class="table-wrap"><table><tbody>${facts.map(([k, v]) => html`<tr><th scope="row">${k}</th><td class="mono">${v}</td></tr>`)}</tbody></table></div>
</section>
<section class="panel" aria-labelledby="h-settings">
<h2 id="h-settings">Effective configuration</h2>
<p class="muted">Read at start (change <code>.env</code> or the environment and restart to change it). Secrets are never shown.</p>
<div class="table-wrap"><table id="settings-table">
<thead><tr><th scope="col">variable</th><th scope="col">value</th><th scope="col">from</th></tr></thead>
<tbody>${rows.map((r) => html`<tr><th scope="row" class="mono">${r.name}</th><td class="mono">${r.value}</td><td class="${r.source === 'default' ? 'muted' : ''}">${r.source}</td></tr>`)}</tbody>
</table></div>
</section>`;
  return page(ctx, 'settings', 'Settings', body);
}
