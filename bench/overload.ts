/**
 * Overload and fairness, in the goodput setup's scaled time (see goodput.ts): 5 projects x 2
 * keys, `rpm` per scaled minute per project, a fresh fake per run, requests arriving at a
 * steady 2 x capacity.
 *
 * - overload: one client. Answers counted as in goodput; waits are arrival to answer. A
 *   refusal's decision time is arrival to refusal. Its `retryAfterMs` is checked against when
 *   its slot really freed: a request refused while `p - 1` requests waited needed the p-th
 *   slot after its refusal, and every slot is taken as it frees, so that is the p-th answer
 *   after the refusal; the error is |refusal + retryAfterMs - that answer| / (that answer -
 *   refusal).
 * - fairness: one heavy client offering 10 x the load of each of 9 light ones, 2 x capacity in
 *   all. share = answers / requests of a client. The same arrivals go once through our pool
 *   (clients named, fair order, bounded wait) and once through it as it was before: no
 *   client named (one line, first come first served) and a wait bounded by the deadline only.
 */
import { setMaxListeners } from 'node:events';
import { admitWork } from '../src/bot/admission.ts';
import { RequestGate } from '../src/bot/gate.ts';
import { ClientLimits } from '../src/limits/clientLimits.ts';
import { GeminiAPIPool } from '../src/pool/GeminiAPIPool.ts';
import { MemoryStore } from '../src/store/memory.ts';
import { FakeProcess, MODEL, progress, quantile, sleep } from './common.ts';
import type { GoodputOptions } from './goodput.ts';

export interface OverloadOptions extends GoodputOptions {
  /** The pool's `limits.maxWaitMs` (scaled like the windows). */
  maxWaitMs: number;
}

interface Arrival {
  /** ms after the start of the first window. */
  at: number;
  client: string;
}

interface Outcome {
  client: string;
  /** performance.now() of the arrival and of the result. */
  arrival: number;
  done: number;
  ok: boolean;
  retryAfterMs: number | undefined;
}

/** Sends `arrivals` on time through a pool on a fresh fake; returns each outcome and the run's bounds. */
async function run(arrivals: readonly Arrival[], o: GoodputOptions, pool: (url: string, keys: string[]) => GeminiAPIPool, named: boolean) {
  const keys: Array<{ key: string; project: string }> = [];
  for (let p = 0; p < o.projects; p++) for (let j = 0; j < o.keysPerProject; j++) keys.push({ key: `AIzaOverload-p${p}-k${j}`, project: `proj-${p}` });
  const fake = await FakeProcess.start({ keys, quotas: { rpm: o.rpm }, minuteMs: o.minuteMs, latencyMs: 0 });
  const p = pool(
    fake.url,
    keys.map((k) => `${k.project}:${k.key}`),
  );
  try {
    const ctl = new AbortController();
    setMaxListeners(100_000, ctl.signal);
    const t0 = performance.now() + 50;
    const arrivalsEnd = t0 + o.windows * o.minuteMs;
    const cutoff = arrivalsEnd + o.drainMs;
    const outcomes: Outcome[] = [];
    const pending: Promise<void>[] = [];
    for (const [i, a] of arrivals.entries()) {
      const ahead = t0 + a.at - performance.now();
      if (ahead > 0) await sleep(ahead);
      const arrival = performance.now();
      if (arrival >= arrivalsEnd) break;
      pending.push(
        p.generateContent({ prompt: `question ${i}`, signal: ctl.signal, ...(named ? { client: a.client } : {}) }).then((r) => {
          outcomes.push({ client: a.client, arrival, done: performance.now(), ok: r.ok, retryAfterMs: r.ok ? undefined : r.error.retryAfterMs });
        }),
      );
    }
    await sleep(cutoff - performance.now());
    ctl.abort();
    await Promise.race([Promise.allSettled(pending), sleep(5_000)]);
    const stats = await fake.stats();
    return { outcomes, cutoff, upstream429: stats.generateByStatus['429'] ?? 0, upstreamCalls: stats.generate };
  } finally {
    await p.close();
    await fake.close();
  }
}

const ourPool = (o: GoodputOptions, maxWaitMs: number) => (url: string, keys: string[]) =>
  new GeminiAPIPool({ keys, models: [MODEL], poolSize: keys.length, baseUrl: url, deadlineMs: o.deadlineMs, limits: { defaults: { rpm: o.rpm }, minuteMs: o.minuteMs, maxWaitMs } });

export interface OverloadFigures {
  goodputRatio: number;
  p50WaitMs: number;
  p99WaitMs: number;
  deadlineMs: number;
  /** p99 of arrival to refusal, over every refusal. */
  refusalDecisionMs: number;
  /** p90 of the relative error of `retryAfterMs` (see the top of this file). */
  retryAfterErrorRatio: number;
  /** Median of the same. */
  retryAfterErrorMedian: number;
  answered: number;
  refused: number;
  /** Refusals that took longer than 5 ms (a wait that ended at its deadline, say). */
  refusedLate: number;
  capacity: number;
  arrivals: number;
  upstream429: number;
}

export async function measureOverload(o: OverloadOptions): Promise<OverloadFigures> {
  const perMinute = o.loadFactor * o.projects * o.rpm;
  const count = Math.round(perMinute * o.windows);
  const arrivals = Array.from({ length: count }, (_, i) => ({ at: (i * o.minuteMs) / perMinute, client: 'one' }));
  progress(`overload: ${count} arrivals in ${o.windows} windows, maxWaitMs ${o.maxWaitMs}`);
  const r = await run(arrivals, o, ourPool(o, o.maxWaitMs), true);
  const capacity = o.projects * o.rpm * o.windows;
  const answers = r.outcomes.filter((x) => x.ok && x.done <= r.cutoff);
  const answerTimes = r.outcomes.filter((x) => x.ok).map((x) => x.done).sort((a, b) => a - b);
  const refusals = r.outcomes.filter((x) => !x.ok && x.retryAfterMs !== undefined);
  const errors: number[] = [];
  for (const f of refusals) {
    // Requests that were waiting when it was refused: in, not yet done, and later answered.
    const waiting = r.outcomes.filter((x) => x.ok && x.arrival < f.done && x.done > f.done).length;
    const slot = answerTimes.filter((t) => t > f.done)[waiting];
    if (slot === undefined) continue;
    errors.push(Math.abs(f.done + f.retryAfterMs! - slot) / Math.max(1, slot - f.done));
  }
  const decision = refusals.map((x) => x.done - x.arrival);
  return {
    goodputRatio: answers.length / capacity,
    p50WaitMs: quantile(answers.map((x) => x.done - x.arrival), 0.5),
    p99WaitMs: quantile(answers.map((x) => x.done - x.arrival), 0.99),
    deadlineMs: o.deadlineMs,
    refusalDecisionMs: quantile(decision, 0.99),
    retryAfterErrorRatio: quantile(errors, 0.9),
    retryAfterErrorMedian: quantile(errors, 0.5),
    answered: answers.length,
    refused: refusals.length,
    refusedLate: decision.filter((ms) => ms > 5).length,
    capacity,
    arrivals: r.outcomes.length,
    upstream429: r.upstream429,
  };
}

export interface FairnessRun {
  /** The smallest share (answers / requests) of a light client. */
  lightMinShare: number;
  heavyShare: number;
  /** Jain's index of share over every client: (sum x)^2 / (n sum x^2). */
  jainIndex: number;
  /** Jain's index of share / max-min fair share (1: exactly max-min fair). */
  jainIndexVsMaxMin: number;
  /** What a light client's share would be under exact max-min fairness of this run's answers (its fair share / its requests). */
  lightMaxMinShare: number;
  goodputRatio: number;
  /** Answers by client. */
  answered: Record<string, number>;
  requests: Record<string, number>;
}

export interface FairnessFigures extends FairnessRun {
  fifo: FairnessRun;
}

const jain = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) ** 2 / (xs.length * xs.reduce((a, b) => a + b * b, 0));

function fairnessOf(r: Awaited<ReturnType<typeof run>>, clients: readonly string[], capacity: number): FairnessRun {
  const answered: Record<string, number> = {};
  const requests: Record<string, number> = {};
  for (const c of clients) (answered[c] = 0), (requests[c] = 0);
  for (const x of r.outcomes) {
    requests[x.client]!++;
    if (x.ok && x.done <= r.cutoff) answered[x.client]!++;
  }
  const share = (c: string) => answered[c]! / Math.max(1, requests[c]!);
  // Max-min fair shares of this run's answers: water-filling over the demands.
  const total = clients.reduce((n, c) => n + answered[c]!, 0);
  const fair = new Map<string, number>();
  let left = total;
  const open = [...clients].sort((a, b) => requests[a]! - requests[b]!);
  while (open.length > 0) {
    const level = left / open.length;
    const c = open[0]!;
    if (requests[c]! <= level) {
      fair.set(c, requests[c]!);
      left -= requests[c]!;
      open.shift();
    } else {
      for (const d of open) fair.set(d, level);
      break;
    }
  }
  const lights = clients.filter((c) => c !== 'heavy');
  return {
    lightMinShare: Math.min(...lights.map(share)),
    heavyShare: share('heavy'),
    jainIndex: jain(clients.map(share)),
    jainIndexVsMaxMin: jain(clients.map((c) => answered[c]! / Math.max(1e-9, fair.get(c)!))),
    lightMaxMinShare: Math.min(...lights.map((c) => fair.get(c)! / Math.max(1, requests[c]!))),
    goodputRatio: total / capacity,
    answered,
    requests,
  };
}

export async function measureFairness(o: OverloadOptions): Promise<FairnessFigures> {
  const lights = Array.from({ length: 9 }, (_, i) => `light-${i + 1}`);
  const clients = ['heavy', ...lights];
  const perMinute = o.loadFactor * o.projects * o.rpm;
  // 19 shares of load: 10 for the heavy client, 1 for each light one.
  const lightEveryMs = (o.minuteMs * 19) / perMinute;
  const heavyEveryMs = lightEveryMs / 10;
  const end = o.windows * o.minuteMs;
  const arrivals: Arrival[] = [];
  for (let t = 0; t < end; t += heavyEveryMs) arrivals.push({ at: t, client: 'heavy' });
  // Each light client on its own phase, so their requests do not come in one burst.
  lights.forEach((c, i) => {
    for (let t = ((i + 0.5) * lightEveryMs) / lights.length; t < end; t += lightEveryMs) arrivals.push({ at: t, client: c });
  });
  arrivals.sort((a, b) => a.at - b.at);
  const capacity = o.projects * o.rpm * o.windows;
  progress(`fairness: ${arrivals.length} arrivals, ours (clients named, maxWaitMs ${o.maxWaitMs})`);
  const ours = fairnessOf(await run(arrivals, o, ourPool(o, o.maxWaitMs), true), clients, capacity);
  progress('fairness: first come, first served (no client named, waits bounded by the deadline only)');
  const fifo = fairnessOf(await run(arrivals, o, ourPool(o, o.deadlineMs), false), clients, capacity);
  return { ...ours, fifo };
}

export interface LimitsFigures {
  userRpm: number;
  requests: number;
  answered: number;
  refused: number;
  /** generateContent calls the fake saw: as many as the answers, none for a refusal. */
  upstreamCalls: number;
  /** p99 of the time the bot's admission took to refuse. */
  refusalDecisionMs: number;
}

/**
 * `limits`: one Discord user asks `requests` times in a row (each after the previous answer)
 * through the bot's own admission (`admitWork`: the gate, then USER_RPM through
 * ClientLimits over an in-memory store), then the pool on a fresh fake.
 */
export async function measureLimits(o: { userRpm: number; requests: number }): Promise<LimitsFigures> {
  type Ctx = Parameters<typeof admitWork>[0];
  const keys = [{ key: 'AIzaLimits-k0', project: 'limits' }];
  const fake = await FakeProcess.start({ keys, latencyMs: 0 });
  const pool = new GeminiAPIPool({ keys: keys.map((k) => k.key), models: [MODEL], baseUrl: fake.url });
  const store = new MemoryStore();
  const limits = new ClientLimits(store, { flushIntervalMs: 0 });
  const ctx = {
    config: {
      bot: { maxPromptChars: 4_000, clientLimits: { userRpm: o.userRpm, userDailyRequests: undefined, guildDailyRequests: undefined, exemptAdmins: true } },
      gemini: { models: [MODEL] },
    },
    pool,
    gate: new RequestGate(),
    limits,
    metrics: { observe: () => undefined },
    isAdmin: () => false,
    lifecycle: { stopping: false, signal: new AbortController().signal },
  } as unknown as Ctx;
  try {
    let answered = 0;
    const refusals: number[] = [];
    for (let i = 0; i < o.requests; i++) {
      const t = performance.now();
      const admission = await admitWork(ctx, 'ask', { userId: '1100000000000000010', guildId: '1100000000000000002', permissions: null, prompt: `question ${i}` });
      if (!admission.ok) {
        refusals.push(performance.now() - t);
        continue;
      }
      try {
        const r = await admission.work.run(() => pool.generateContent({ prompt: `question ${i}`, client: admission.work.client }));
        admission.work.counted(r);
        if (r.ok) answered++;
      } finally {
        admission.work.release();
      }
    }
    const stats = await fake.stats();
    return { userRpm: o.userRpm, requests: o.requests, answered, refused: refusals.length, upstreamCalls: stats.generate, refusalDecisionMs: quantile(refusals, 0.99) };
  } finally {
    await limits.close();
    await pool.close();
    await fake.close();
  }
}
