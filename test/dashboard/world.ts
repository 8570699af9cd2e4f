/**
 * A gateway with its dashboard, on the real pool and the fake Gemini, for the dashboard's
 * tests: an injected clock for the dashboard (sessions, the login limit), every response
 * body kept so a test can check that no key or token is in any, and a sign-in over HTTP.
 */
import pino from 'pino';
import { FakeGemini, type FakeGeminiOptions } from '../../fakes/fakeGemini.ts';
import { loadConfig } from '../../src/config.ts';
import { openGateway, type OpenGateway } from '../../src/gateway/open.ts';
import { TokenRegistry } from '../../src/gateway/tokens.ts';
import { createServices, type Services } from '../../src/services.ts';

export const PASSWORD = 'correct horse battery staple';
export const STATE_SECRET = 'a-state-secret-for-the-dashboard-tests';
export const MODEL = 'gemini-2.5-flash';

export interface DashboardWorld {
  fake: FakeGemini;
  services: Services;
  gateway: OpenGateway;
  url: string;
  /** The dashboard's clock: `clock.t` moves it. */
  clock: { t: number; now: () => number };
  /** A client token made before the start (the gateway needs one). */
  token: string;
  registry: TokenRegistry;
  env: Record<string, string>;
  close(): Promise<void>;
}

/** Starts the fake Gemini, the services and the gateway with the dashboard on (unless `env` says otherwise). */
export async function startWorld(options: { keys?: string[]; env?: Record<string, string>; fake?: FakeGeminiOptions; liveIntervalMs?: number } = {}): Promise<DashboardWorld> {
  const keys = options.keys ?? ['test-key-1', 'test-key-2'];
  const fake = await FakeGemini.start(options.fake ?? {});
  const env: Record<string, string> = {
    GEMINI_API_KEYS: keys.join(','),
    GEMINI_BASE_URL: fake.url,
    GEMINI_MODELS: MODEL,
    STORE: 'memory',
    GATEWAY_PORT: '0',
    DASHBOARD_PASSWORD: PASSWORD,
    STATE_SECRET,
    GEMINI_DEADLINE_MS: '10000',
    ...options.env,
  };
  for (const [k, v] of Object.entries(env)) if (v === '') delete env[k];
  const config = loadConfig(env);
  const logger = pino({ level: 'silent' });
  const services = await createServices(config, logger);
  const registry = new TokenRegistry(services.store);
  const { token } = await registry.create({ name: 'web-app' });
  const clock = { t: Date.now(), now: () => clock.t };
  const origin = Object.fromEntries(Object.keys(env).map((k) => [k, k === 'STORE' ? ('environment' as const) : ('file' as const)]));
  const gateway = await openGateway(config, services.pool, services.store, logger, { vault: services.vault, env, envOrigin: origin, now: clock.now, liveIntervalMs: options.liveIntervalMs ?? 200 });
  return {
    fake,
    services,
    gateway,
    url: gateway.url,
    clock,
    token,
    registry,
    env,
    async close() {
      await gateway.close(100);
      await services.pool.close();
      await services.store.close();
      await fake.close();
    },
  };
}

/** A signed-in HTTP client of the dashboard: its cookie and CSRF token, and every body it read. */
export interface Session {
  cookie: string;
  csrf: string;
  get(path: string, headers?: Record<string, string>): Promise<Response & { text(): Promise<string> }>;
  post(path: string, form: Record<string, string>, headers?: Record<string, string>): Promise<Response>;
}

/** Every response body the tests read, to scan for keys and tokens. */
export const seenBodies: string[] = [];

async function kept(res: Response): Promise<Response> {
  const body = await res.text();
  seenBodies.push(`${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${body}`);
  return new Response(body, { status: res.status, headers: res.headers });
}

/** GET or POST, following no redirect, keeping the body. */
export async function request(url: string, init: RequestInit = {}): Promise<Response> {
  return kept(await fetch(url, { redirect: 'manual', ...init }));
}

/** The login form: its cookie and its CSRF value. */
export async function loginForm(url: string, headers: Record<string, string> = {}): Promise<{ cookie: string; csrf: string }> {
  const res = await request(`${url}/dashboard/login`, { headers });
  const html = await res.text();
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('gp_login='))!.split(';')[0]!;
  return { cookie, csrf: /name="_csrf" value="([^"]+)"/.exec(html)![1]! };
}

/** Posts the login form with `password`. */
export async function postLogin(url: string, password: string, headers: Record<string, string> = {}): Promise<Response> {
  const form = await loginForm(url, headers);
  return request(`${url}/dashboard/login`, {
    method: 'POST',
    headers: { cookie: form.cookie, 'content-type': 'application/x-www-form-urlencoded', origin: url, ...headers },
    body: new URLSearchParams({ _csrf: form.csrf, password }),
  });
}

/** Signs in and returns a session client. @throws when the sign-in fails. */
export async function signIn(url: string): Promise<Session> {
  const res = await postLogin(url, PASSWORD);
  if (res.status !== 303) throw new Error(`sign-in answered ${res.status}`);
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('gp_dash='))!.split(';')[0]!;
  const page = await (await request(`${url}/dashboard`, { headers: { cookie } })).text();
  const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(page)![1]!;
  return {
    cookie,
    csrf,
    get: (path, headers = {}) => request(`${url}${path}`, { headers: { cookie, ...headers } }) as Promise<Response & { text(): Promise<string> }>,
    post: (path, form, headers = {}) =>
      request(`${url}${path}`, { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', origin: url, ...headers }, body: new URLSearchParams(form) }),
  };
}
