import { afterEach, describe, expect, it } from 'vitest';
import { healthReport, startHealthServer, type HealthServer } from '../../src/ops/health.ts';
import { BotMetrics } from '../../src/ops/metrics.ts';
import type { KeyStatsReport } from '../../src/pool/types.ts';

function report(states: Array<'active' | 'cooling' | 'disabled'>): KeyStatsReport {
  const count = (s: string) => states.filter((x) => x === s).length;
  return {
    keys: states.map((state, i) => ({
      id: `key#${i + 1}`, hint: 'abcd', group: 'own', state, cooldownRemainingMs: 0, usage: 0, errors: 0, errorRate: 0,
      avgTimeMs: 0, requestsToday: 0, tokensToday: 0,
      models: { m: { state, cooldownRemainingMs: 0, usage: 0, errors: 0, requestsToday: 0, tokensToday: 0 } },
    })),
    totals: { keys: states.length, active: count('active'), cooling: count('cooling'), disabled: count('disabled'), totalRequests: 0, failedRequests: 0, usage: 0, errors: 0, requestsToday: 0, tokensToday: 0 },
  };
}

let server: HealthServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('health and metrics', () => {
  it('healthy only with the gateway up and a usable key; reasons say why not', () => {
    expect(healthReport(true, report(['active', 'disabled'])).ok).toBe(true);
    const down = healthReport(false, report(['cooling', 'disabled']));
    expect(down.ok).toBe(false);
    expect(down.reasons).toHaveLength(2);
  });

  it('serves /healthz (200 / 503 with JSON) and /metrics from its own registry', async () => {
    let keys = report(['active', 'cooling']);
    let gateway = true;
    const metrics = new BotMetrics({ keyStats: () => keys, queue: () => ({ running: 1, waiting: 2 }) });
    metrics.observe({ command: 'ask', model: 'gemini-2.5-flash', outcome: 'ok', latencyMs: 1200 });
    metrics.observe({ command: 'ask', model: 'gemini-2.5-flash', outcome: 'rate_limited', latencyMs: 0 });
    server = await startHealthServer({ port: 0, host: '127.0.0.1', health: () => healthReport(gateway, keys), metrics });
    let res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, gateway: 'connected', keys: { usable: 1 } });
    keys = report(['disabled']);
    gateway = false;
    res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(503);
    const reasons = ((await res.json()) as { reasons: string[] }).reasons.join(' ');
    expect(reasons).toContain('gateway is not connected');
    expect(reasons).toContain('no API key is usable');
    res = await fetch(`${server.url}/metrics`);
    const text = await res.text();
    expect(text).toContain('bot_requests_total{command="ask",model="gemini-2.5-flash",outcome="ok"} 1');
    expect(text).toContain('bot_requests_total{command="ask",model="gemini-2.5-flash",outcome="rate_limited"} 1');
    expect(text).toContain('bot_request_duration_seconds_bucket');
    expect(text).toContain('gemini_keys{state="disabled"} 1');
    expect(text).toContain('bot_queue_requests{state="waiting"} 2');
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
  });
});
