/**
 * The dashboard's pages and actions, behind its sign-in (see `app.ts`). An action posted by
 * htmx answers with the part of the page it changed; posted without JavaScript, with the
 * whole page. Nothing here ever writes a key or a token into a page but the one answer that
 * creates a token.
 */
import type { Context, Hono } from 'hono';
import { getCookie } from 'hono/cookie';
import { streamSSE } from 'hono/streaming';
import { addKeys, keyVerdict, NO_STATE_SECRET, removeAddedKey } from '../../addedKeys.ts';
import { isStoreRejectedError } from '../../store/errors.ts';
import { parseDuration, type NewToken, type TokenChange } from '../tokens.ts';
import type { DashboardContext, DashboardEnv } from './app.ts';
import { keysPage, keysRegion, parseSort, type KeySort, type KeysMessage } from './keysPage.ts';
import type { PageContext } from './layout.ts';
import { CSV_MAX_ROWS, LogTail, logRow, logsPage, parseCursor, parseFilters, readPage, toCsv, toQuery } from './logsPage.ts';
import { overviewData, overviewPage } from './overview.ts';
import { SESSION_COOKIE } from './security.ts';
import { settingsPage } from './settingsPage.ts';
import { tokensPage, tokensRegion, type TokensOutcome } from './tokensPage.ts';

type C = Context<DashboardEnv>;

/** Keys checked at once by "check all". */
const CHECK_ALL_CONCURRENCY = 4;

/** A form's fields; repeated fields (checkboxes) as arrays. */
async function formOf(c: C): Promise<Record<string, string | string[]>> {
  const body = await c.req.parseBody({ all: true });
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(body)) {
    if (typeof v === 'string') out[k] = v;
    else if (Array.isArray(v)) out[k] = v.filter((x): x is string => typeof x === 'string');
  }
  return out;
}

const one = (v: string | string[] | undefined): string => (Array.isArray(v) ? (v[0] ?? '') : (v ?? '')).trim();
const many = (v: string | string[] | undefined): string[] => (Array.isArray(v) ? v : v ? [v] : []).map((s) => s.trim()).filter(Boolean);

export function pageRoutes(app: Hono<DashboardEnv>, ctx: DashboardContext): void {
  const { deps } = ctx;
  const pageCtx = (c: C): PageContext => ({ csrf: c.get('session').csrf, assets: ctx.assets });
  const isHtmx = (c: C) => c.req.header('hx-request') === 'true';
  const models = [...deps.chatModels, ...deps.embeddingModels.filter((m) => !deps.chatModels.includes(m))];

  // ---------------------------------------------------------------- overview
  const overview = async (c: C) => c.html(overviewPage(pageCtx(c), await overviewData(deps.pool, ctx.traffic, deps.now())));
  app.get('/', overview);
  app.get('/overview', overview);

  app.get('/events/overview', (c) => {
    const cookie = getCookie(c, SESSION_COOKIE);
    return streamSSE(c, async (stream) => {
      let open = true;
      stream.onAbort(() => {
        open = false;
      });
      while (open && !ctx.closed()) {
        if (!(await ctx.sessions.get(cookie, false))) {
          await stream.writeSSE({ event: 'expired', data: '{}' });
          break;
        }
        await stream.writeSSE({ event: 'overview', data: JSON.stringify(await overviewData(deps.pool, ctx.traffic, deps.now())) });
        await stream.sleep(ctx.liveIntervalMs);
      }
    });
  });

  // ---------------------------------------------------------------- keys
  const keysCtx = (c: C) => ({ ...pageCtx(c), canAdd: deps.vault !== undefined });
  const keysAnswer = (c: C, sort: KeySort, message: KeysMessage | undefined, added?: Parameters<typeof keysRegion>[4]): Response | Promise<Response> => {
    const stats = deps.pool.getKeyStats().keys;
    if (isHtmx(c)) return c.html(keysRegion(keysCtx(c), stats, sort, message, added));
    return c.html(keysPage(keysCtx(c), stats, sort, message, added));
  };

  app.get('/keys', (c) => keysAnswer(c, parseSort(c.req.query('sort'), c.req.query('dir')), undefined));

  app.post('/keys/add', async (c) => {
    const form = await formOf(c);
    const sort = parseSort(one(form.sort), one(form.dir));
    if (!deps.vault) return keysAnswer(c, sort, { text: NO_STATE_SECRET, kind: 'bad' });
    const text = one(form.keys);
    if (!text) return keysAnswer(c, sort, { text: 'Paste at least one key.', kind: 'bad' });
    const result = await addKeys({ pool: deps.pool, store: deps.store, vault: deps.vault, now: deps.now }, text, one(form.project) || undefined);
    deps.logger.info({ added: result.added.map((a) => `...${a.hint}`), refused: result.refused.length }, 'keys added from the dashboard');
    return keysAnswer(c, sort, undefined, result);
  });

  app.post('/keys/check-all', async (c) => {
    const form = await formOf(c);
    const keys = deps.pool.keys;
    const verdicts: string[] = new Array(keys.length);
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(CHECK_ALL_CONCURRENCY, keys.length) }, async () => {
        while (next < keys.length) {
          const i = next++;
          const r = await deps.pool.checkKey(keys[i]!.index).catch(() => undefined);
          verdicts[i] = r ? keyVerdict(r.ok ? undefined : r.error) : 'removed meanwhile';
        }
      }),
    );
    const counts = new Map<string, string[]>();
    verdicts.forEach((v, i) => counts.set(v, [...(counts.get(v) ?? []), keys[i]!.id]));
    const summary = [...counts].map(([v, ids]) => (v === 'valid' ? `${ids.length} valid` : `${ids.length} ${v} (${ids.join(', ')})`)).join(', ');
    return keysAnswer(c, parseSort(one(form.sort), one(form.dir)), { text: `Checked ${keys.length} keys: ${summary}.`, kind: counts.size === 1 && counts.has('valid') ? 'good' : 'plain' });
  });

  app.post('/keys/:n{[0-9]+}/:action{disable|enable|clear|check|remove}', async (c) => {
    const form = await formOf(c);
    const sort = parseSort(one(form.sort), one(form.dir));
    const id = `key#${c.req.param('n')}`;
    const key = deps.pool.keys.find((k) => k.id === id);
    // The hint guards against a table that changed since the page was drawn.
    if (!key || key.hint !== one(form.hint)) return keysAnswer(c, sort, { text: `${id} is not what the page showed (the keys changed); the table is up to date now.`, kind: 'bad' });
    const action = c.req.param('action');
    let message: KeysMessage;
    switch (action) {
      case 'disable':
        message = deps.pool.disableKey(key.index) ? { text: `${id} disabled. It stays disabled, whatever checks say, until enabled here.`, kind: 'good' } : { text: `${id} was disabled already.`, kind: 'plain' };
        break;
      case 'enable':
        message = deps.pool.enableKey(key.index) ? { text: `${id} enabled.`, kind: 'good' } : { text: `${id} was not disabled.`, kind: 'plain' };
        break;
      case 'clear': {
        const ended = deps.pool.clearCooldowns(key.index);
        message = ended.length > 0 ? { text: `Cooldown ended for ${ended.join(', ')} (a project's cooldown is its keys').`, kind: 'good' } : { text: `${id} was not cooling.`, kind: 'plain' };
        break;
      }
      case 'check': {
        const r = await deps.pool.checkKey(key.index);
        const verdict = keyVerdict(r.ok ? undefined : r.error);
        const stays = deps.pool.getKeyStats().keys.find((k) => k.id === id)?.disabledByOperator ? ' It stays disabled: an operator disabled it.' : '';
        message = { text: `${id}: ${verdict} (${Math.round(r.latencyMs)} ms).${stays}`, kind: verdict === 'valid' ? 'good' : 'bad' };
        break;
      }
      default: {
        if (!deps.vault) {
          message = { text: NO_STATE_SECRET, kind: 'bad' };
          break;
        }
        const r = await removeAddedKey({ pool: deps.pool, store: deps.store, vault: deps.vault, now: deps.now }, id);
        message = r.ok ? { text: `${id} (...${r.hint}) removed; every process stops using it within a second.`, kind: 'good' } : { text: r.reason, kind: 'bad' };
      }
    }
    deps.logger.info({ key: id, action }, 'key action from the dashboard');
    return keysAnswer(c, sort, message);
  });

  // ---------------------------------------------------------------- tokens
  const tokensCtx = (c: C) => ({ ...pageCtx(c), models });
  const tokensAnswer = async (c: C, outcome: TokensOutcome | undefined): Promise<Response> => {
    const list = await deps.tokens.list();
    return c.html(isHtmx(c) ? tokensRegion(tokensCtx(c), list, outcome) : tokensPage(tokensCtx(c), list, outcome));
  };
  const limitOf = (v: string, name: string): number | undefined => {
    if (v === '') return undefined;
    if (!/^\d+$/.test(v) || Number(v) < 1) throw new TypeError(`${name} must be a whole number >= 1`);
    return Number(v);
  };
  /** A refusal the operator can act on (bad input, a name taken), or the error itself. */
  const refusal = (err: unknown): string => {
    if (err instanceof TypeError || isStoreRejectedError(err)) return err.message;
    throw err;
  };

  app.get('/tokens', (c) => tokensAnswer(c, undefined));

  app.post('/tokens/create', async (c) => {
    const f = await formOf(c);
    try {
      const input: NewToken = { name: one(f.name) };
      const chosen = many(f.models);
      if (chosen.length > 0) input.models = chosen.filter((m) => models.includes(m));
      const limits = { rpm: limitOf(one(f.rpm), 'requests a minute'), rpd: limitOf(one(f.rpd), 'requests a day'), tpd: limitOf(one(f.tpd), 'tokens a day') };
      input.limits = Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined));
      if (one(f.expires)) input.expiresInMs = parseDuration(one(f.expires));
      const { token, record } = await deps.tokens.create(input);
      deps.logger.info({ token: record.name }, 'client token created from the dashboard');
      return tokensAnswer(c, { text: `Token ${record.name} created.`, kind: 'good', created: { name: record.name, token } });
    } catch (err) {
      return tokensAnswer(c, { text: `Not created: ${refusal(err)}`, kind: 'bad' });
    }
  });

  app.post('/tokens/:name/revoke', async (c) => {
    const name = c.req.param('name');
    const done = await deps.tokens.revoke(name);
    if (done) deps.logger.info({ token: name }, 'client token revoked from the dashboard');
    return tokensAnswer(c, done ? { text: `Token ${name} revoked: it is refused (401) from now on, on every process within a second.`, kind: 'good' } : { text: `No live token named ${name}.`, kind: 'bad' });
  });

  app.post('/tokens/:name/update', async (c) => {
    const name = c.req.param('name');
    const f = await formOf(c);
    try {
      const chosen = many(f.models).filter((m) => models.includes(m));
      const limit = (v: string, label: string) => limitOf(v, label) ?? null;
      const change: TokenChange = {
        models: chosen.length > 0 ? chosen : null,
        limits: { rpm: limit(one(f.rpm), 'requests a minute'), rpd: limit(one(f.rpd), 'requests a day'), tpd: limit(one(f.tpd), 'tokens a day') },
      };
      const expires = one(f.expires);
      if (expires === 'never') change.expiresInMs = null;
      else if (expires) change.expiresInMs = parseDuration(expires);
      const done = await deps.tokens.update(name, change);
      return tokensAnswer(c, done ? { text: `Token ${name} saved.`, kind: 'good' } : { text: `No token named ${name}.`, kind: 'bad' });
    } catch (err) {
      return tokensAnswer(c, { text: `Not saved: ${refusal(err)}`, kind: 'bad' });
    }
  });

  // ---------------------------------------------------------------- request log
  const logChoices = async () => ({
    tokens: [...(await deps.store.listTokens()).map((t) => t.name), 'anonymous'],
    keys: deps.pool.keys.map((k) => k.id),
    models,
  });

  app.get('/logs', async (c) => {
    const f = parseFilters((n) => c.req.query(n));
    const cursor = parseCursor(c.req.query('before'));
    const { rows, next } = await readPage(deps.store, f, cursor, deps.now());
    return c.html(logsPage(pageCtx(c), f, await logChoices(), rows, next, cursor === undefined));
  });

  app.get('/logs.csv', async (c) => {
    const f = parseFilters((n) => c.req.query(n));
    const rows = await deps.store.queryRequestLog(toQuery(f, deps.now(), CSV_MAX_ROWS));
    c.header('content-type', 'text/csv; charset=utf-8');
    c.header('content-disposition', `attachment; filename="request-log-${new Date(deps.now()).toISOString().slice(0, 19).replace(/:/g, '')}Z.csv"`);
    return c.body(toCsv(rows));
  });

  app.get('/events/log', (c) => {
    const cookie = getCookie(c, SESSION_COOKIE);
    const f = parseFilters((n) => c.req.query(n));
    return streamSSE(c, async (stream) => {
      let open = true;
      stream.onAbort(() => {
        open = false;
      });
      const tail = new LogTail(deps.store, f);
      await tail.prime(deps.now());
      while (open && !ctx.closed()) {
        await stream.sleep(Math.min(1_000, ctx.liveIntervalMs));
        if (!(await ctx.sessions.get(cookie, false))) {
          await stream.writeSSE({ event: 'expired', data: '{}' });
          break;
        }
        const rows = await tail.next(deps.now());
        if (rows.length > 0) await stream.writeSSE({ event: 'rows', data: (await Promise.all(rows.map((r) => logRow(r)))).join('') });
      }
    });
  });

  // ---------------------------------------------------------------- settings
  app.get('/settings', (c) => c.html(settingsPage(pageCtx(c), deps.settings, deps.facts)));
}
