/**
 * The health and metrics endpoint: `GET /healthz` (200 when the gateway is connected and at
 * least one key is usable, else 503, JSON with the reasons) and `GET /metrics` (Prometheus).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KeyStatsReport } from '../pool/types.ts';
import type { BotMetrics } from './metrics.ts';

/** The answer of `/healthz`. */
export interface HealthReport {
  ok: boolean;
  gateway: 'connected' | 'disconnected';
  keys: { usable: number; active: number; cooling: number; disabled: number };
  /** Why it is not ok (empty when ok). */
  reasons: string[];
}

/**
 * Health from its inputs. A key is usable when it is active for at least one model (a key
 * cooling for one model may still serve another).
 */
export function healthReport(gatewayConnected: boolean, keys: KeyStatsReport): HealthReport {
  const usable = keys.keys.filter((k) => Object.values(k.models).some((m) => m.state === 'active')).length;
  const reasons: string[] = [];
  if (!gatewayConnected) reasons.push('the Discord gateway is not connected');
  if (usable === 0) reasons.push(`no API key is usable (${keys.totals.cooling} cooling, ${keys.totals.disabled} disabled)`);
  return {
    ok: reasons.length === 0,
    gateway: gatewayConnected ? 'connected' : 'disconnected',
    keys: { usable, active: keys.totals.active, cooling: keys.totals.cooling, disabled: keys.totals.disabled },
    reasons,
  };
}

/** A running health server. */
export interface HealthServer {
  /** `http://host:port`. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves `/healthz` and `/metrics` on `port` (0 picks a free one). `host` defaults to
 * 0.0.0.0, the norm in containers; tests pass 127.0.0.1.
 */
export async function startHealthServer(options: {
  port: number;
  host?: string;
  health: () => HealthReport;
  metrics: BotMetrics;
}): Promise<HealthServer> {
  const host = options.host ?? '0.0.0.0';
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      let report: HealthReport;
      try {
        report = options.health();
      } catch {
        report = { ok: false, gateway: 'disconnected', keys: { usable: 0, active: 0, cooling: 0, disabled: 0 }, reasons: ['health check failed'] };
      }
      res.writeHead(report.ok ? 200 : 503, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
      res.end(JSON.stringify(report));
      return;
    }
    if (path === '/metrics') {
      options.metrics.text().then(
        (text) => {
          res.writeHead(200, { 'content-type': options.metrics.contentType });
          res.end(text);
        },
        () => {
          res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics failed\n');
        },
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = host === '0.0.0.0' ? '127.0.0.1' : host;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
