/**
 * Overhead of the pool over one plain @google/genai client: the same generateContent calls,
 * closed loop at fixed concurrency, against the fake Gemini server (no latency, no quota) in
 * a child process, so the server does not share this event loop. A round runs `calls` calls
 * per side in interleaved chunks, so load from other processes that comes and goes hits
 * every side alike. The primary figure is client CPU per call (process.cpuUsage around
 * each chunk): the median over rounds of pool CPU/call over plain CPU/call within a round.
 * CPU time is what the pool adds; calls/s on a shared machine moves with whatever else runs
 * (its ratio, `throughputRatio`, is kept for reference). Latencies are each side's best
 * round (noise only ever slows a run down).
 *
 * A third side, `plainTimeout`, is the plain client given the pool's attempt timeout
 * (`httpOptions.timeout`): the SDK then passes an AbortSignal to fetch, as the pool does on
 * every attempt (each attempt has its own timer and AbortSignal, ended by the attempt
 * timeout, the deadline or the caller). On Node 20 a fetch with a signal costs more than
 * one without, so plain-with-timeout is the like-for-like reference; it is shown for
 * reading the ratio, not part of it.
 */
import { GoogleGenAI } from '@google/genai';
import { GeminiAPIPool } from '../src/pool/GeminiAPIPool.ts';
import { closedLoop, FakeProcess, median, MODEL, noNetworkFactory, progress, quantile } from './common.ts';

export interface OverheadOptions {
  /** Calls per side per round. */
  calls: number;
  /** A round runs in chunks of about this many calls per side, alternating sides. */
  chunkCalls: number;
  concurrency: number;
  rounds: number;
  /** Keys in the pool (the plain clients use the first); also the pool size. */
  keys: number;
  /** The pool's attempt timeout, which the `plainTimeout` reference client also gets. */
  attemptTimeoutMs: number;
}

export interface RunFigures {
  callsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU time of this (client) process per call, in µs. */
  cpuUsPerCall: number;
  failures: number;
}

const SIDES = ['plain', 'pool', 'plainTimeout'] as const;
type Side = (typeof SIDES)[number];

export interface OverheadResult {
  /** Median over rounds of (pool CPU µs/call / plain CPU µs/call of the same round): the primary figure, target <= 1.05. */
  overheadRatio: number;
  /** Median over rounds of (pool calls/s / plain calls/s of the same round). */
  throughputRatio: number;
  /** Median over rounds of (pool CPU µs/call / plainTimeout CPU µs/call): like for like, both pass a signal to every fetch. */
  cpuRatioVsPlainTimeout: number;
  /** Best pool calls/s over best plain calls/s (for comparison). */
  overheadRatioBest: number;
  /** Median over rounds of (pool calls/s / plainTimeout calls/s): against a plain client that also has a timeout. */
  ratioVsPlainTimeout: number;
  /** Plain client CPU per call over the pool's (lowest of the rounds each). */
  cpuRatio: number;
  /** Best p50 (p99) of the pool minus best p50 (p99) of plain, µs. */
  addedLatencyUs: { p50: number; p99: number };
  /** Per side: best calls/s, lowest p50, lowest p99, lowest CPU per call, total failures. */
  sides: Record<Side, RunFigures>;
  rounds: Array<Record<Side, RunFigures>>;
  upstreamCalls: number;
  upstreamNon200: number;
}

export async function measureOverhead(o: OverheadOptions): Promise<OverheadResult> {
  const keys = Array.from({ length: o.keys }, (_, i) => `AIzaBenchOverhead${String(i).padStart(4, '0')}`);
  // One project for every key and a short "minute": the fake records every accepted call in
  // its project's minute window and filters that array on each request (O(calls in window)),
  // so a long window makes it slower and slower, and more so for one key (plain) than for
  // ten (pool). A 100 ms window over one shared project keeps that cost small and equal.
  const fake = await FakeProcess.start({ keys: keys.map((key) => ({ key, project: 'overhead' })), latencyMs: 0, minuteMs: 100 });
  try {
    const plain = new GoogleGenAI({ apiKey: keys[0]!, apiVersion: 'v1beta', httpOptions: { baseUrl: fake.url } });
    // Reference only: the plain client as one would run it in production, with a timeout.
    const plainTimeout = new GoogleGenAI({
      apiKey: keys[0]!,
      apiVersion: 'v1beta',
      httpOptions: { baseUrl: fake.url, timeout: o.attemptTimeoutMs },
    });
    const pool = new GeminiAPIPool({ keys, poolSize: o.keys, baseUrl: fake.url, models: [MODEL], attemptTimeoutMs: o.attemptTimeoutMs });
    // The same request on every side: one user turn; all read the answer's text.
    const contents = (i: number) => [{ role: 'user' as const, parts: [{ text: `overhead probe ${i}` }] }];
    const viaSdk = (ai: GoogleGenAI) => async (i: number) => {
      try {
        const r = await ai.models.generateContent({ model: MODEL, contents: contents(i) });
        return typeof r.text === 'string';
      } catch {
        return false;
      }
    };
    const calls: Record<Side, (i: number) => Promise<boolean>> = {
      plain: viaSdk(plain),
      plainTimeout: viaSdk(plainTimeout),
      pool: async (i) => (await pool.generateContent({ contents: contents(i) })).ok,
    };
    const run = (side: Side, n: number) => closedLoop(n, o.concurrency, calls[side]);
    type Loop = Awaited<ReturnType<typeof run>>;
    /** One side of one round: the chunks it ran, summed. */
    const figures = (chunks: Loop[]): RunFigures => {
      const lat: number[] = [];
      let elapsedMs = 0;
      let cpuMs = 0;
      let failures = 0;
      for (const c of chunks) {
        for (const x of c.latenciesMs) lat.push(x);
        elapsedMs += c.elapsedMs;
        cpuMs += c.cpuMs;
        failures += c.failures;
      }
      return {
        callsPerSec: (lat.length / elapsedMs) * 1000,
        p50Ms: quantile(lat, 0.5),
        p99Ms: quantile(lat, 0.99),
        cpuUsPerCall: (cpuMs * 1000) / lat.length,
        failures,
      };
    };

    // Warm-up: JIT, keep-alive sockets, the pool's lazily built clients.
    progress('overhead: warm-up');
    for (const side of SIDES) await run(side, 2_000);

    // Forget the log between chunks (the fake keeps every request with its body), counting it first.
    let upstreamCalls = 0;
    let upstreamNon200 = 0;
    const drainLog = async () => {
      const st = await fake.stats();
      upstreamCalls += st.generate;
      upstreamNon200 += st.generate - (st.generateByStatus['200'] ?? 0);
      await fake.clear();
    };
    // A round is `calls` calls per side, run as interleaved chunks whose order turns around
    // every time (plain, pool, ref, ref, pool, plain, ...): load from other processes that
    // comes and goes within seconds, and GC work one side leaves behind, hit every side alike.
    const chunks = Math.max(1, Math.round(o.calls / o.chunkCalls));
    const n = Math.round(o.calls / chunks);
    const rounds: OverheadResult['rounds'] = [];
    for (let r = 0; r < o.rounds; r++) {
      const runs: Record<Side, Loop[]> = { plain: [], pool: [], plainTimeout: [] };
      for (let c = 0; c < chunks; c++) {
        await drainLog();
        const order = (r * chunks + c) % 2 === 0 ? SIDES : [...SIDES].reverse();
        for (const side of order) runs[side].push(await run(side, n));
      }
      const round = { plain: figures(runs.plain), pool: figures(runs.pool), plainTimeout: figures(runs.plainTimeout) };
      rounds.push(round);
      progress(
        `overhead: round ${r + 1}/${o.rounds}: plain ${round.plain.callsPerSec.toFixed(0)}/s, pool ${round.pool.callsPerSec.toFixed(0)}/s, ` +
          `plain with timeout ${round.plainTimeout.callsPerSec.toFixed(0)}/s`,
      );
    }
    await pool.close();
    await drainLog();

    const best = (s: Side): RunFigures => ({
      callsPerSec: Math.max(...rounds.map((x) => x[s].callsPerSec)),
      p50Ms: Math.min(...rounds.map((x) => x[s].p50Ms)),
      p99Ms: Math.min(...rounds.map((x) => x[s].p99Ms)),
      cpuUsPerCall: Math.min(...rounds.map((x) => x[s].cpuUsPerCall)),
      failures: rounds.reduce((k, x) => k + x[s].failures, 0),
    });
    const sides = { plain: best('plain'), pool: best('pool'), plainTimeout: best('plainTimeout') };
    return {
      overheadRatio: median(rounds.map((x) => x.pool.cpuUsPerCall / x.plain.cpuUsPerCall)),
      throughputRatio: median(rounds.map((x) => x.pool.callsPerSec / x.plain.callsPerSec)),
      cpuRatioVsPlainTimeout: median(rounds.map((x) => x.pool.cpuUsPerCall / x.plainTimeout.cpuUsPerCall)),
      overheadRatioBest: sides.pool.callsPerSec / sides.plain.callsPerSec,
      ratioVsPlainTimeout: median(rounds.map((x) => x.pool.callsPerSec / x.plainTimeout.callsPerSec)),
      cpuRatio: sides.plain.cpuUsPerCall / sides.pool.cpuUsPerCall,
      addedLatencyUs: { p50: (sides.pool.p50Ms - sides.plain.p50Ms) * 1000, p99: (sides.pool.p99Ms - sides.plain.p99Ms) * 1000 },
      sides,
      rounds,
      upstreamCalls,
      upstreamNon200,
    };
  } finally {
    await fake.close();
  }
}

/**
 * The pool's own CPU cost per call, without HTTP: generateContent through a pool on the
 * no-network client minus the same client called directly (closed loop, concurrency 32,
 * lowest of `rounds`). Noise from the server or the machine barely touches it.
 */
export async function measurePoolOwnCost(calls = 20_000, rounds = 5): Promise<{ poolUsPerCall: number; directUsPerCall: number; ownUsPerCall: number }> {
  const keys = Array.from({ length: 10 }, (_, i) => `AIzaBenchOwnCost${String(i).padStart(4, '0')}`);
  const pool = new GeminiAPIPool({ keys, poolSize: 10, models: [MODEL], clientFactory: noNetworkFactory });
  const direct = noNetworkFactory(keys[0]!, { apiVersion: 'v1beta' });
  const contents = (i: number) => [{ role: 'user' as const, parts: [{ text: `overhead probe ${i}` }] }];
  const signal = new AbortController().signal;
  let poolUs = Infinity;
  let directUs = Infinity;
  for (let r = 0; r < rounds; r++) {
    const a = await closedLoop(calls, 32, async (i) => (await direct.generate({ model: MODEL, contents: contents(i) }, signal)).text.length > 0);
    const b = await closedLoop(calls, 32, async (i) => (await pool.generateContent({ contents: contents(i) })).ok);
    directUs = Math.min(directUs, (a.cpuMs * 1000) / calls);
    poolUs = Math.min(poolUs, (b.cpuMs * 1000) / calls);
  }
  await pool.close();
  return { poolUsPerCall: poolUs, directUsPerCall: directUs, ownUsPerCall: poolUs - directUs };
}
