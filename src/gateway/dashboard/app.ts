/**
 * The web dashboard, mounted by the gateway under `/dashboard` (same port): sign-in with
 * the configured password (rate-limited per address, checked in constant time), sessions
 * in the store, a CSRF token on every change besides the origin check, strict security
 * headers (a CSP without inline script; no framing), and the pages of `routes.ts`. A
 * client token never signs in here: the dashboard has its own credential.
 */
import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono, type Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { csrf } from 'hono/csrf';
import { secureHeaders } from 'hono/secure-headers';
import type { Logger } from 'pino';
import type { KeyVault } from '../../addedKeys.ts';
import type { GeminiAPIPool } from '../../pool/GeminiAPIPool.ts';
import type { StoredSession } from '../../store/dashboardTypes.ts';
import type { StateStore } from '../../store/types.ts';
import type { TokenRegistry } from '../tokens.ts';
import { loadAssets, type Asset } from './assets.ts';
import { loginPage } from './layout.ts';
import { pageRoutes } from './routes.ts';
import { LOGIN_COOKIE, LoginLimiter, randomToken, sameSecret, SESSION_COOKIE, Sessions } from './security.ts';
import type { SettingRow } from './settingsPage.ts';
import { Traffic } from './traffic.ts';

/** What the dashboard works with. */
export interface DashboardDeps {
  pool: GeminiAPIPool;
  store: StateStore;
  tokens: TokenRegistry;
  /** Opens and seals added keys; undefined without STATE_SECRET (then keys cannot be added). */
  vault: KeyVault | undefined;
  /** Whether a password given at sign-in is the configured one (constant time). */
  checkPassword: (given: string) => Promise<boolean>;
  sessionIdleMs: number;
  /** Believe X-Forwarded-Proto and X-Forwarded-For (a TLS proxy in front sets them). */
  trustProxy: boolean;
  chatModels: readonly string[];
  embeddingModels: readonly string[];
  /** The settings page's rows (secrets already masked). */
  settings: readonly SettingRow[];
  /** Facts about this process for the settings page (store, ...). */
  facts: Array<[string, string]>;
  logger: Logger;
  /** The clock of sessions, the login limit and the pages. */
  now: () => number;
  /**
   * How often live parts (overview, log tail) are sent.
   * @default 2000
   */
  liveIntervalMs?: number;
}

/** The dashboard's Hono environment: the session of a signed-in request. */
export type DashboardEnv = { Variables: { session: StoredSession } };

/** What the route handlers share. */
export interface DashboardContext {
  deps: DashboardDeps;
  assets: ReadonlyMap<string, Asset>;
  sessions: Sessions;
  traffic: Traffic;
  liveIntervalMs: number;
  /** True once the dashboard is closing: live streams end. */
  closed: () => boolean;
}

const CSP = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'"],
  connectSrc: ["'self'"],
  formAction: ["'self'"],
  baseUri: ["'none'"],
  objectSrc: ["'none'"],
  frameAncestors: ["'none'"],
};

/** Whether the browser reached us over HTTPS (through a trusted proxy, its word for it). */
export function overHttps(c: Context, trustProxy: boolean): boolean {
  if (new URL(c.req.url).protocol === 'https:') return true;
  return trustProxy && c.req.header('x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase() === 'https';
}

/** The address a request came from: the socket's, or (behind a trusted proxy) the last one it added to X-Forwarded-For. */
export function clientAddress(c: Context, trustProxy: boolean): string {
  if (trustProxy) {
    const hops = c.req.header('x-forwarded-for')?.split(',').map((s) => s.trim()).filter(Boolean);
    if (hops && hops.length > 0) return hops[hops.length - 1]!;
  }
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    // A request without a socket (tests calling the app directly).
    return 'local';
  }
}

/** The origin the browser sees (scheme from a trusted proxy, host from the Host header). */
function publicOrigin(c: Context, trustProxy: boolean): string {
  const url = new URL(c.req.url);
  return `${overHttps(c, trustProxy) ? 'https' : url.protocol.replace(':', '')}://${c.req.header('host') ?? url.host}`;
}

/** Paths that belong to a live stream: reading them does not count as activity. */
const isLive = (path: string): boolean => path.startsWith('/dashboard/events/');

/** The dashboard app (mount it at `/dashboard`) and what it runs in the background. */
export function dashboardApp(deps: DashboardDeps): { app: Hono<DashboardEnv>; close(): void } {
  const assets = loadAssets();
  const sessions = new Sessions(deps.store, { idleMs: deps.sessionIdleMs, now: deps.now });
  const limiter = new LoginLimiter({ now: deps.now });
  const traffic = new Traffic(deps.store, () => deps.pool.getPoolStats().totalRequests, deps.now);
  traffic.start();
  let closed = false;
  const ctx: DashboardContext = { deps, assets, sessions, traffic, liveIntervalMs: deps.liveIntervalMs ?? 2_000, closed: () => closed };
  const log = deps.logger.child({ component: 'dashboard' });
  const app = new Hono<DashboardEnv>();

  app.use('*', secureHeaders({ contentSecurityPolicy: CSP, xFrameOptions: 'DENY', referrerPolicy: 'no-referrer', strictTransportSecurity: false, crossOriginResourcePolicy: 'same-origin' }));
  app.use('*', async (c, next) => {
    await next();
    if (overHttps(c, deps.trustProxy)) c.header('strict-transport-security', 'max-age=15552000');
  });

  // Front-end pieces: public, immutable (their URLs change with their content).
  app.get('/assets/:name', (c) => {
    const a = assets.get(c.req.param('name'));
    if (!a) return c.text('not found', 404);
    c.header('cache-control', 'public, max-age=31536000, immutable');
    c.header('content-type', a.contentType);
    return c.body(new Uint8Array(a.body));
  });

  // Every change must come from our own pages (the browser's Origin / Sec-Fetch-Site).
  app.use('*', csrf({ origin: (origin, c) => origin === publicOrigin(c, deps.trustProxy) }));

  const cookieBase = (c: Context) => ({ httpOnly: true, sameSite: 'Strict' as const, secure: overHttps(c, deps.trustProxy) });
  const showLogin = (c: Context, status: 200 | 401 | 403 | 429, message?: { text: string; bad: boolean }) => {
    const value = randomToken();
    setCookie(c, LOGIN_COOKIE, value, { ...cookieBase(c), path: '/dashboard/login' });
    return c.html(loginPage(assets, value, message), status);
  };

  app.get('/login', async (c) => {
    if (await sessions.get(getCookie(c, SESSION_COOKIE), false)) return c.redirect('/dashboard', 303);
    return showLogin(c, 200, c.req.query('expired') ? { text: 'Your session ended. Sign in again.', bad: false } : undefined);
  });

  app.post('/login', async (c) => {
    const address = clientAddress(c, deps.trustProxy);
    const allowed = limiter.take(address);
    if (!allowed.ok) {
      const seconds = Math.max(1, Math.ceil(allowed.retryAfterMs / 1000));
      log.warn({ address }, 'dashboard sign-in refused: too many attempts');
      c.header('retry-after', String(seconds));
      return showLogin(c, 429, { text: `Too many sign-in attempts from your address. Try again in ${seconds} s.`, bad: true });
    }
    const form = await c.req.parseBody();
    const formCsrf = typeof form._csrf === 'string' ? form._csrf : undefined;
    const cookie = getCookie(c, LOGIN_COOKIE);
    if (!cookie || !sameSecret(formCsrf, cookie)) return showLogin(c, 403, { text: 'The sign-in form had expired. Sign in again.', bad: true });
    const password = typeof form.password === 'string' ? form.password : '';
    if (!(await deps.checkPassword(password))) {
      log.warn({ address }, 'dashboard sign-in failed: wrong password');
      return showLogin(c, 401, { text: 'Wrong password.', bad: true });
    }
    // A fresh session at every sign-in: an id known before it is worth nothing.
    await sessions.end(getCookie(c, SESSION_COOKIE));
    const { cookie: value } = await sessions.create();
    setCookie(c, SESSION_COOKIE, value, { ...cookieBase(c), path: '/dashboard' });
    deleteCookie(c, LOGIN_COOKIE, { path: '/dashboard/login' });
    log.info({ address }, 'dashboard sign-in');
    return c.redirect('/dashboard', 303);
  });

  // Everything below needs a session; changes need its CSRF token too.
  app.use('*', async (c, next) => {
    const path = c.req.path;
    const session = await sessions.get(getCookie(c, SESSION_COOKIE), !isLive(path));
    if (!session) {
      if (c.req.header('hx-request')) {
        c.header('hx-redirect', '/dashboard/login?expired=1');
        return c.text('your session ended: sign in again', 401);
      }
      if (c.req.method === 'GET' && !isLive(path)) return c.redirect('/dashboard/login', 303);
      return c.text('sign in first: /dashboard/login', 401);
    }
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      let token = c.req.header('x-csrf-token');
      if (token === undefined) {
        const type = c.req.header('content-type') ?? '';
        if (type.startsWith('application/x-www-form-urlencoded') || type.startsWith('multipart/form-data')) {
          const form = await c.req.parseBody();
          if (typeof form._csrf === 'string') token = form._csrf;
        }
      }
      if (!sameSecret(token, session.csrf)) {
        log.warn({ path, address: clientAddress(c, deps.trustProxy) }, 'dashboard change refused: no valid CSRF token');
        return c.text('refused: this change did not come from a dashboard page of your session (missing or wrong CSRF token); reload the page', 403);
      }
    }
    c.set('session', session);
    return next();
  });

  app.post('/logout', async (c) => {
    await sessions.end(getCookie(c, SESSION_COOKIE));
    deleteCookie(c, SESSION_COOKIE, { path: '/dashboard' });
    return c.redirect('/dashboard/login', 303);
  });

  pageRoutes(app, ctx);
  // A refusal of a middleware (the origin check's 403) is an answer, not a failure.
  app.onError((err, c) => {
    if (err instanceof HTTPException) return err.getResponse();
    log.error({ err: err.message, path: c.req.path }, 'dashboard request failed');
    return c.text('internal error: the log has what went wrong', 500);
  });
  app.all('*', (c) => (c.req.path === '/dashboard/' ? c.redirect('/dashboard', 308) : c.text('no such dashboard page', 404)));

  return {
    app,
    close() {
      closed = true;
      traffic.stop();
    },
  };
}
