/**
 * What the HTTP gateway adds: the same generateContent load (closed loop, concurrency 32)
 * straight into an in-process pool (`pool.callNative`) and through the gateway in a child
 * process (bench/gatewayServer.ts) over its Gemini-native and OpenAI routes, every side on
 * the fake Gemini without latency in a third process. Rounds interleave the sides so load
 * from other processes hits each alike; each side's best round is reported (noise only ever
 * slows a run down). Also the time to the first byte of a streamed answer, straight from
 * the fake and through the gateway, over sequential requests (median).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { GeminiAPIPool } from '../src/pool/GeminiAPIPool.ts';
import { closedLoop, FakeProcess, median, MODEL, progress, quantile, ROOT } from './common.ts';

export interface GatewaySide {
  callsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  failures: number;
}

export interface GatewayOverhead {
  direct: GatewaySide;
  native: GatewaySide;
  openai: GatewaySide;
  /** Best p50 / p99 through the route minus straight into the pool, ms. */
  addedP50Ms: { native: number; openai: number };
  addedP99Ms: { native: number; openai: number };
  /**
   * One request at a time (`sequentialCalls` each, interleaved): p50 / p99 through each route
   * minus straight into the pool, ms. What one request pays for the extra hop, without the
   * queueing that concurrency 32 on two cores adds on top.
   */
  sequentialAddedMs: { native: { p50: number; p99: number }; openai: { p50: number; p99: number } };
  /** Median time to the first byte of a streamed answer, ms. */
  firstByteMs: { fake: number; gateway: number; addedMs: number };
}

export interface GatewayOverheadOptions {
  calls: number;
  concurrency: number;
  rounds: number;
  /** Calls per side one at a time, for `sequentialAddedMs`. */
  sequentialCalls: number;
  streams: number;
}

const BODY = { contents: [{ role: 'user', parts: [{ text: 'a short question for the benchmark' }] }] };
const CHAT = { model: MODEL, messages: [{ role: 'user', content: 'a short question for the benchmark' }] };

async function startGatewayChild(fakeUrl: string): Promise<{ child: ChildProcess; url: string; token: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/gatewayServer.ts', fakeUrl], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const first = await Promise.race([
    new Promise<string>((resolve) => lines.once('line', resolve)),
    new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`gateway exited (${code})`)))),
  ]);
  const { url, token } = JSON.parse(first) as { url: string; token: string };
  return { child, url, token };
}

function side(run: Awaited<ReturnType<typeof closedLoop>>, n: number): GatewaySide {
  const lat = [...run.latenciesMs];
  return { callsPerSec: (n / run.elapsedMs) * 1000, p50Ms: quantile(lat, 0.5), p99Ms: quantile(lat, 0.99), failures: run.failures };
}

function best(rounds: GatewaySide[]): GatewaySide {
  return {
    callsPerSec: Math.max(...rounds.map((r) => r.callsPerSec)),
    p50Ms: Math.min(...rounds.map((r) => r.p50Ms)),
    p99Ms: Math.min(...rounds.map((r) => r.p99Ms)),
    failures: rounds.reduce((n, r) => n + r.failures, 0),
  };
}

/** Milliseconds until the first byte of the response body. */
async function firstByte(url: string, headers: Record<string, string>): Promise<number> {
  const t = performance.now();
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(BODY) });
  const reader = res.body!.getReader();
  await reader.read();
  const ms = performance.now() - t;
  await reader.cancel();
  return ms;
}

export async function measureGatewayOverhead(o: GatewayOverheadOptions): Promise<GatewayOverhead> {
  const fake = await FakeProcess.start({ rejectUnknownKeys: false, latencyMs: 0 });
  const gw = await startGatewayChild(fake.url);
  const pool = new GeminiAPIPool({ keys: Array.from({ length: 10 }, (_, i) => `bench-key-${i + 1}`), models: [MODEL], poolSize: 10, baseUrl: fake.url });
  try {
    const post = (path: string, body: unknown) => async (): Promise<boolean> => {
      const res = await fetch(`${gw.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.token}` }, body: JSON.stringify(body) });
      await res.arrayBuffer();
      return res.status === 200;
    };
    const calls = {
      direct: async (): Promise<boolean> => (await pool.callNative({ model: MODEL, method: 'generateContent', body: BODY })).ok,
      native: post(`/v1beta/models/${MODEL}:generateContent`, BODY),
      openai: post('/v1/chat/completions', CHAT),
    };
    const rounds: Record<keyof typeof calls, GatewaySide[]> = { direct: [], native: [], openai: [] };
    // Warm-up: connections, JIT.
    for (const call of Object.values(calls)) await closedLoop(200, o.concurrency, call);
    for (let r = 0; r < o.rounds; r++) {
      progress(`gatewayOverhead: round ${r + 1}/${o.rounds}`);
      const order = (r % 2 === 0 ? ['direct', 'native', 'openai'] : ['openai', 'native', 'direct']) as Array<keyof typeof calls>;
      for (const name of order) rounds[name].push(side(await closedLoop(o.calls, o.concurrency, calls[name]), o.calls));
    }
    progress(`gatewayOverhead: ${o.sequentialCalls} calls per side one at a time`);
    const seq: Record<keyof typeof calls, number[]> = { direct: [], native: [], openai: [] };
    for (let i = 0; i < o.sequentialCalls; i++) {
      for (const name of ['direct', 'native', 'openai'] as const) {
        const t = performance.now();
        await calls[name]();
        seq[name].push(performance.now() - t);
      }
    }
    const added = (name: 'native' | 'openai') => ({ p50: quantile(seq[name], 0.5) - quantile(seq.direct, 0.5), p99: quantile(seq[name], 0.99) - quantile(seq.direct, 0.99) });
    progress(`gatewayOverhead: time to first streamed byte, ${o.streams} requests each`);
    const fakeTimes: number[] = [];
    const gwTimes: number[] = [];
    for (let i = 0; i < o.streams; i++) {
      fakeTimes.push(await firstByte(`${fake.url}/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`, { 'x-goog-api-key': 'bench-key-1' }));
      gwTimes.push(await firstByte(`${gw.url}/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`, { 'x-goog-api-key': gw.token }));
    }
    const direct = best(rounds.direct);
    const native = best(rounds.native);
    const openai = best(rounds.openai);
    const fakeFirst = median(fakeTimes);
    const gwFirst = median(gwTimes);
    return {
      direct,
      native,
      openai,
      addedP50Ms: { native: native.p50Ms - direct.p50Ms, openai: openai.p50Ms - direct.p50Ms },
      addedP99Ms: { native: native.p99Ms - direct.p99Ms, openai: openai.p99Ms - direct.p99Ms },
      sequentialAddedMs: { native: added('native'), openai: added('openai') },
      firstByteMs: { fake: fakeFirst, gateway: gwFirst, addedMs: gwFirst - fakeFirst },
    };
  } finally {
    await pool.close();
    gw.child.stdin!.end();
    await new Promise<void>((resolve) => {
      if (gw.child.exitCode !== null) return resolve();
      const timer = setTimeout(() => gw.child.kill(), 3_000);
      gw.child.once('exit', () => (clearTimeout(timer), resolve()));
    });
    await fake.close();
  }
}
