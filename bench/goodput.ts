/**
 * Goodput under overload, in scaled time: a "minute" of the fake's quota is `minuteMs`
 * (1 s), each project may make `rpm` generateContent calls per minute (sliding window, per
 * project and model, as Gemini counts), keys come two to a project, and requests arrive at
 * a steady `loadFactor` x capacity for `windows` minutes. Each contender gets a fresh fake
 * server (in a child process) and the same arrival schedule.
 *
 * Counted: answers to requests that arrived inside the windows and were answered by the end
 * of the windows plus `drainMs`. goodputRatio = those answers / capacity
 * (projects x rpm x windows); wasted429Ratio = 429s / generateContent calls the fake saw;
 * p99WaitMs = arrival to answer of the counted answers.
 */
import { setMaxListeners } from 'node:events';
import { ApiError, GoogleGenAI } from '@google/genai';
import { GeminiAPIPool } from '../src/pool/GeminiAPIPool.ts';
import { FakeProcess, MODEL, progress, quantile, sleep } from './common.ts';

export interface GoodputOptions {
  projects: number;
  keysPerProject: number;
  /** Requests per scaled minute per project and model. */
  rpm: number;
  /** Length of a scaled minute (the fake's and the limiter's `minuteMs`). */
  minuteMs: number;
  windows: number;
  /** Offered load as a multiple of capacity. */
  loadFactor: number;
  /** Answers after the last window still count for this long (calls in flight, the queue's head). */
  drainMs: number;
  /** Our pool's per-request deadline (scaled). */
  deadlineMs: number;
}

export interface GoodputFigures {
  goodputRatio: number;
  wasted429Ratio: number;
  p99WaitMs: number;
  p50WaitMs: number;
  arrivals: number;
  answered: number;
  /** Answers that came after the drain period (not counted). */
  answeredLate: number;
  failed: number;
  upstreamCalls: number;
  upstream429: number;
  capacity: number;
}

interface BenchKey {
  key: string;
  project: string;
}

/** One way of sending a request: resolves true for a useful answer. */
interface Sender {
  send(prompt: string, signal: AbortSignal): Promise<boolean>;
  close(): Promise<void>;
}

type Contender = (url: string, keys: readonly BenchKey[], o: GoodputOptions) => Sender;

const plainClients = (url: string, keys: readonly BenchKey[]) =>
  keys.map((k) => new GoogleGenAI({ apiKey: k.key, apiVersion: 'v1beta', httpOptions: { baseUrl: url } }));

const is429 = (err: unknown): boolean => err instanceof ApiError && err.status === 429;

const poolContender =
  (told: boolean): Contender =>
  (url, keys, o) =>
    poolSender(
      new GeminiAPIPool({
        keys: keys.map((k) => `${k.project}:${k.key}`),
        models: [MODEL],
        poolSize: keys.length,
        baseUrl: url,
        deadlineMs: o.deadlineMs,
        // `minuteMs` is not a limit but the scaled clock (the length of Gemini's minute), so
        // even the learning variant gets it.
        limits: told ? { defaults: { rpm: o.rpm }, minuteMs: o.minuteMs } : { minuteMs: o.minuteMs },
      }),
    );

/** Our pool, told the quota (`limits.defaults.rpm`). */
const ours = poolContender(true);

/** Our pool with no configured limit: it must learn rpm from the first 429's quotaValue. */
const oursLearned = poolContender(false);

function poolSender(pool: GeminiAPIPool): Sender {
  return {
    send: async (prompt, signal) => (await pool.generateContent({ prompt, signal })).ok,
    close: () => pool.close(),
  };
}

/**
 * A key-rotating proxy as many are written: round-robin over the keys; on a 429 move on to the
 * next key at once, until every key was tried. Nothing is remembered, so a key that is out of
 * quota is tried again on the next request.
 */
const roundRobinRetry: Contender = (url, keys) => {
  const clients = plainClients(url, keys);
  let cursor = 0;
  return {
    async send(prompt, signal) {
      const start = cursor;
      cursor = (cursor + 1) % clients.length;
      for (let k = 0; k < clients.length; k++) {
        if (signal.aborted) return false;
        try {
          await clients[(start + k) % clients.length]!.models.generateContent({ model: MODEL, contents: prompt, config: { abortSignal: signal } });
          return true;
        } catch (err) {
          if (!is429(err)) return false;
        }
      }
      return false;
    },
    close: async () => {},
  };
};

/**
 * A key-rotating proxy that benches a key for a day on its first 429: round-robin over keys
 * that are not cooling; a 429 cools that key for 24 (scaled) hours, i.e. for the rest of the
 * run, and the request fails over to the next key.
 */
const roundRobinCool24h: Contender = (url, keys, o) => {
  const clients = plainClients(url, keys);
  const coolUntil = clients.map(() => 0);
  const coolMs = 24 * 60 * o.minuteMs;
  let cursor = 0;
  return {
    async send(prompt, signal) {
      for (let k = 0; k < clients.length; k++) {
        if (signal.aborted) return false;
        const i = cursor;
        cursor = (cursor + 1) % clients.length;
        if (coolUntil[i]! > Date.now()) continue;
        try {
          await clients[i]!.models.generateContent({ model: MODEL, contents: prompt, config: { abortSignal: signal } });
          return true;
        } catch (err) {
          if (!is429(err)) return false;
          coolUntil[i] = Date.now() + coolMs;
        }
      }
      return false;
    },
    close: async () => {},
  };
};

export const CONTENDERS = { ours, oursLearned, roundRobinRetry, roundRobinCool24h } as const;
export type ContenderName = keyof typeof CONTENDERS;

export async function measureGoodput(name: ContenderName, o: GoodputOptions): Promise<GoodputFigures> {
  const keys: BenchKey[] = [];
  for (let p = 0; p < o.projects; p++) {
    for (let j = 0; j < o.keysPerProject; j++) keys.push({ key: `AIzaGoodput-p${p}-k${j}`, project: `proj-${p}` });
  }
  const fake = await FakeProcess.start({ keys, quotas: { rpm: o.rpm }, minuteMs: o.minuteMs, latencyMs: 0 });
  const sender = CONTENDERS[name](fake.url, keys, o);
  try {
    const capacity = o.projects * o.rpm * o.windows;
    const perMinute = o.loadFactor * o.projects * o.rpm;
    const arrivals = Math.round(perMinute * o.windows);
    const intervalMs = o.minuteMs / perMinute;
    // One signal ends every request still open at the cutoff; each request and each SDK call
    // listens to it, so lift the listener warning (it is not a leak here).
    const ctl = new AbortController();
    setMaxListeners(100_000, ctl.signal);
    const t0 = performance.now() + 50;
    const arrivalsEnd = t0 + o.windows * o.minuteMs;
    const cutoff = arrivalsEnd + o.drainMs;
    const waits: number[] = [];
    let answeredLate = 0;
    let failed = 0;
    let sent = 0;
    const pending: Promise<void>[] = [];
    for (let i = 0; i < arrivals; i++) {
      // Absolute targets: timer lateness does not accumulate into a lower arrival rate.
      const target = t0 + i * intervalMs;
      const ahead = target - performance.now();
      if (ahead > 0) await sleep(ahead);
      const arrival = performance.now();
      if (arrival >= arrivalsEnd) break; // the event loop fell far behind: do not arrive outside the windows
      sent++;
      pending.push(
        sender.send(`question ${i}`, ctl.signal).then(
          (ok) => {
            const at = performance.now();
            if (!ok) failed++;
            else if (at <= cutoff) waits.push(at - arrival);
            else answeredLate++;
          },
          () => {
            failed++;
          },
        ),
      );
    }
    await sleep(cutoff - performance.now());
    ctl.abort();
    await Promise.race([Promise.allSettled(pending), sleep(5_000)]);
    const stats = await fake.stats();
    const upstream429 = stats.generateByStatus['429'] ?? 0;
    return {
      goodputRatio: waits.length / capacity,
      wasted429Ratio: stats.generate > 0 ? upstream429 / stats.generate : 0,
      p99WaitMs: quantile(waits, 0.99),
      p50WaitMs: quantile(waits, 0.5),
      arrivals: sent,
      answered: waits.length,
      answeredLate,
      failed,
      upstreamCalls: stats.generate,
      upstream429,
      capacity,
    };
  } finally {
    await sender.close();
    await fake.close();
    progress(`goodput: ${name} done`);
  }
}
