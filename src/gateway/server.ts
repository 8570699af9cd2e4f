/**
 * The gateway's HTTP server: the pool served to other apps over Gemini-native routes
 * (`/v1beta/...`, `/v1/...`) and OpenAI-compatible ones (`/v1/chat/completions`,
 * `/v1/embeddings`, `/v1/models`). Hono routes; @hono/node-server serves them.
 */
import { serve, type ServerType } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { AddressInfo } from 'node:net';
import type { GatewayEnv } from './auth.ts';
import type { GatewayDeps } from './deps.ts';
import { logUnserved } from './exchange.ts';
import { googleError, nativeRoutes } from './native.ts';
import { openaiRoutes, openaiErrorResponse } from './openaiRoutes.ts';

/** What `/dashboard` says while the dashboard is off. */
const DASHBOARD_OFF = 'The dashboard is off. Set DASHBOARD_PASSWORD (12 characters or more) or DASHBOARD_PASSWORD_HASH (npm run cli -- dashboard hash-password) and restart; it is then served here, under /dashboard.\n';

/** Whether a path belongs to the OpenAI dialect (its errors have OpenAI's shape). */
function isOpenAiPath(path: string): boolean {
  return /^\/v1\/(chat\/completions|embeddings)(\/|$)/.test(path);
}

/** An error in the shape the path's dialect expects. */
function dialectError(c: Context, status: 404 | 413 | 500, message: string): Response {
  return isOpenAiPath(new URL(c.req.url).pathname)
    ? openaiErrorResponse(c, status, message)
    : c.json(googleError(status, status === 404 ? 'NOT_FOUND' : status === 413 ? 'INVALID_ARGUMENT' : 'INTERNAL', message), status);
}

/** The gateway's routes, without a server (tests call `app.request`). */
export function createGatewayApp(deps: GatewayDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  app.use('*', async (c, next) => {
    await next();
    c.header('x-content-type-options', 'nosniff');
    // The dashboard's front-end files say how long they may be kept; nothing else may be.
    if (!c.res.headers.has('cache-control')) c.header('cache-control', 'no-store');
  });
  app.use(
    '*',
    bodyLimit({
      maxSize: deps.maxBodyBytes,
      onError: (c) => dialectError(c, 413, `the request body is larger than ${Math.round(deps.maxBodyBytes / 1024 / 1024)} MB (GATEWAY_MAX_BODY_MB)`),
    }),
  );
  if (deps.dashboard) app.route('/dashboard', deps.dashboard);
  else app.all('/dashboard/*', (c) => c.text(DASHBOARD_OFF, 404)).all('/dashboard', (c) => c.text(DASHBOARD_OFF, 404));
  app.use('/v1/*', logUnserved(deps));
  app.use('/v1beta/*', logUnserved(deps));
  app.route('/v1', openaiRoutes(deps));
  app.route('/v1', nativeRoutes(deps));
  app.route('/v1beta', nativeRoutes(deps));
  app.notFound((c) => dialectError(c, 404, `no such route: ${c.req.method} ${new URL(c.req.url).pathname}`));
  app.onError((err, c) => {
    // Never a stack trace, a path or a key in an answer: the log has what went wrong.
    deps.logger.error({ err: err instanceof Error ? err.message : String(err), route: new URL(c.req.url).pathname }, 'gateway request failed');
    return dialectError(c, 500, 'internal error');
  });
  return app;
}

/** A running gateway. */
export interface RunningGateway {
  /** `http://host:port`. */
  readonly url: string;
  readonly port: number;
  /** Stops accepting, lets requests in flight end for up to `graceMs`, then closes what is left. */
  close(graceMs?: number): Promise<void>;
}

/** Loopback addresses and names: where anonymous access may be served. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * Listens on `host:port` (0 picks a free port).
 * @throws Error when anonymous access is asked for on an address that is not loopback, or
 *   when the port cannot be taken (the message names it).
 */
export async function startGateway(deps: GatewayDeps, options: { host: string; port: number }): Promise<RunningGateway> {
  if (!deps.tokens && !isLoopbackHost(options.host)) {
    throw new Error(`GATEWAY_ALLOW_ANONYMOUS: anonymous access is only served on a loopback address, not on GATEWAY_HOST=${options.host}; create a client token instead (npm run cli -- tokens create --name NAME)`);
  }
  const app = createGatewayApp(deps);
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: options.host, port: options.port, overrideGlobalObjects: false }, () => resolve(s));
    s.once('error', (err: NodeJS.ErrnoException) => {
      reject(new Error(err.code === 'EADDRINUSE' ? `GATEWAY_PORT: port ${options.port} on ${options.host} is already in use` : `the gateway could not listen on ${options.host}:${options.port} (${err.code ?? err.message})`));
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${address.port}`,
    port: address.port,
    close(graceMs = 5_000) {
      closing ??= new Promise<void>((resolve) => {
        const http = server as import('node:http').Server;
        const timer = setTimeout(() => http.closeAllConnections(), graceMs);
        timer.unref();
        http.close(() => {
          clearTimeout(timer);
          resolve();
        });
        http.closeIdleConnections();
      });
      return closing;
    },
  };
}
