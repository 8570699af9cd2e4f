/**
 * Failover under bad keys: 10 keys on the fake (in a child process), one answering 503
 * "model overloaded" on every call and one invalid, 240 requests arriving at 20/s (open
 * loop, absolute arrival times) through our pool (pool size 10, default policy). The same
 * run with 10 good keys gives the reference p99.
 *
 * answeredRatio = answered / requests; callsPerAnswer = generateContent calls the fake saw /
 * answered; invalidKeyCalls = calls to the invalid key over the whole run;
 * overloadedKeyCallsLastThird = calls to the overloaded key that reached the fake in the last
 * third of the arrival schedule; p99Ms = arrival to answer of the answered requests (nearest
 * rank), p99MsNoFaults the same with no bad key.
 */
import { GeminiAPIPool } from '../src/pool/GeminiAPIPool.ts';
import { FakeProcess, MODEL, progress, quantile, sleep } from './common.ts';

export interface FaultsOptions {
  keys: number;
  requests: number;
  perSecond: number;
  /** The fake's delay before every answer, errors included (ms). */
  latencyMs: number;
}

/** One run, with or without the bad keys. */
export interface FaultsRun {
  answered: number;
  requests: number;
  upstreamCalls: number;
  invalidKeyCalls: number;
  overloadedKeyCalls: number;
  overloadedKeyCallsLastThird: number;
  p50Ms: number;
  p99Ms: number;
}

export interface FaultsFigures {
  answeredRatio: number;
  callsPerAnswer: number;
  invalidKeyCalls: number;
  overloadedKeyCallsLastThird: number;
  p99Ms: number;
  p99MsNoFaults: number;
  detail: { faults: FaultsRun; noFaults: FaultsRun };
}

/** Key names put together here: plainly not real keys. */
const benchKey = (i: number) => `bench-faults-key-${i + 1}`;
/** Which keys are bad in the faulty run (key#3 overloaded, key#7 invalid). */
const OVERLOADED = 2;
const INVALID = 6;

async function run(faulty: boolean, o: FaultsOptions): Promise<FaultsRun> {
  const keys = Array.from({ length: o.keys }, (_, i) => benchKey(i));
  const fake = await FakeProcess.start({
    keys: keys.map((key, i) => ({ key, ...(faulty && i === INVALID ? { status: 'invalid' as const } : {}) })),
    latencyMs: o.latencyMs,
  });
  if (faulty) await fake.inject({ type: 'status', status: 503 }, { key: keys[OVERLOADED]! });
  const pool = new GeminiAPIPool({ keys, models: [MODEL], poolSize: o.keys, baseUrl: fake.url });
  try {
    const intervalMs = 1_000 / o.perSecond;
    const latencies: number[] = [];
    const pending: Promise<void>[] = [];
    const t0 = performance.now() + 50;
    const wall0 = Date.now() + 50;
    for (let i = 0; i < o.requests; i++) {
      // Absolute targets: timer lateness does not add up into a lower arrival rate.
      const ahead = t0 + i * intervalMs - performance.now();
      if (ahead > 0) await sleep(ahead);
      const arrival = performance.now();
      pending.push(
        pool.generateContent({ prompt: `question ${i}` }).then((r) => {
          if (r.ok) latencies.push(performance.now() - arrival);
        }),
      );
    }
    await Promise.all(pending);
    const calls = await fake.calls();
    const lastThirdFrom = wall0 + ((o.requests * 2) / 3) * intervalMs;
    const to = (i: number) => calls.filter((c) => c.key === keys[i]);
    return {
      answered: latencies.length,
      requests: o.requests,
      upstreamCalls: calls.length,
      invalidKeyCalls: faulty ? to(INVALID).length : 0,
      overloadedKeyCalls: faulty ? to(OVERLOADED).length : 0,
      overloadedKeyCallsLastThird: faulty ? to(OVERLOADED).filter((c) => c.at >= lastThirdFrom).length : 0,
      p50Ms: quantile(latencies, 0.5),
      p99Ms: quantile(latencies, 0.99),
    };
  } finally {
    await pool.close();
    await fake.close();
  }
}

/** The run with no bad key first (the reference), then the one with them. */
export async function measureFaults(o: FaultsOptions): Promise<FaultsFigures> {
  progress(`faults: ${o.requests} requests at ${o.perSecond}/s, ${o.keys} good keys (reference)`);
  const noFaults = await run(false, o);
  progress(`faults: the same with key#${OVERLOADED + 1} answering 503 always and key#${INVALID + 1} invalid`);
  const faults = await run(true, o);
  return {
    answeredRatio: faults.answered / faults.requests,
    callsPerAnswer: faults.answered > 0 ? faults.upstreamCalls / faults.answered : Number.NaN,
    invalidKeyCalls: faults.invalidKeyCalls,
    overloadedKeyCallsLastThird: faults.overloadedKeyCallsLastThird,
    p99Ms: faults.p99Ms,
    p99MsNoFaults: noFaults.p99Ms,
    detail: { faults, noFaults },
  };
}
