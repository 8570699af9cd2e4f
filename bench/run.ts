/**
 * Benchmarks of GeminiAPIPool: `npm run bench` (table) or `npm run bench -- --json` (table,
 * then one JSON object on the last line). Progress goes to stderr. About 5 minutes on 2
 * cores; no network: everything runs against the fake Gemini server (fakes/) or a
 * no-network client. The run reports; it never fails on a missed target (exit code 0).
 *
 * How to read it (every figure is measured in this run, side by side):
 *
 * - selectNsPerPick {10,100,1000}: median cost of one choice of instance, `pool.nextKey()`
 *   (the exact pick path of a request, nothing sent) on a pool of that many keys, pool size
 *   10, no timers. 200 samples of 1,000 picks after a warm-up; the median of the per-pick
 *   averages. Target < 2,000 ns (given for 1,000 keys; applied to every size). Reference
 *   (INFO, `selectNsPerPickWithRpm`): the same pick at 1,000 keys with a configured rpm
 *   that is never reached, as a pool run with GEMINI_RPM picks.
 * - overheadRatio: client CPU per call of 5,000 generateContent calls through the pool (10
 *   keys, pool size 10, the real SDK adapter) over the same calls through one plain
 *   GoogleGenAI client (process.cpuUsage around each chunk), concurrency 32, fake server
 *   without latency in a child process (so it does not share our event loop). 5 rounds; a
 *   round runs 5,000 calls per side as 10 interleaved chunks of 500 (plain, pool, pool,
 *   plain, ...) so that load from other processes, which comes and goes within seconds,
 *   hits both sides; the figure is the median of the 5 within-round ratios of pool CPU/call
 *   to plain CPU/call. Target <= 1.05. CPU per call is what the pool adds; calls/s moves
 *   with whatever else the machine runs (`throughputRatio`, pool calls/s over plain calls/s,
 *   median of the rounds, is shown for reference), and so does the CPU ratio against the
 *   plain client given a timeout (which, like the pool, passes a signal to every fetch).
 *   `addedLatencyUs`
 *   {p50, p99}: the pool's best p50 (p99) minus plain's best p50 (p99), in µs (no target
 *   given: INFO). Also shown: the round ratios, best-vs-best ratio, client CPU per call,
 *   the pool's own CPU per call measured without HTTP (no-network client: the part that is
 *   pool logic, not SDK/undici work), and a reference side run in the same chunks: the plain
 *   client given the same 30 s timeout (`httpOptions.timeout`). The plain client of the
 *   figure sets no timeout, so its fetch gets no AbortSignal. The pool gives every attempt
 *   a timer and an AbortSignal of its own, which the SDK passes to fetch: the attempt ends
 *   at the attempt timeout or the request's deadline, whichever is nearer, and once text has
 *   reached the caller, after that long without a new piece; the caller's signal aborts it
 *   too. The pool's shared connections only carry headers/body timeouts 2 s longer, as a
 *   backstop. So the pool pays for a signal on every call and plain does not: on Node 20 a
 *   fetch with a signal costs more than one without, and the plain-with-timeout side shows
 *   how much on this machine (`ratioVsPlainTimeout` compares like with like). Other
 *   processes on the machine make this figure noisy: read `roundRatios`.
 * - goodput: 5 projects x 2 keys, quota R = 5 requests per scaled minute (1 s) per project
 *   and model, offered 2 x capacity (50 arrivals/s, steady) for 20 windows, a fresh fake per
 *   contender. `ours` = our pool told rpm (deadline 2 s); `oursLearned` = our pool with no
 *   limit (only the scaled minute length), learning rpm from the 429's quotaValue;
 *   `roundRobinRetry` (a key-rotating proxy that moves to the next key on every 429 until
 *   all were tried) and `roundRobinCool24h` (one that cools a key for 24 scaled hours on its
 *   first 429) are plain-SDK baselines for reference (no target).
 *   goodputRatio = answers (to arrivals inside the windows, delivered by 250 ms after the
 *   last window) / (5 x R x 20); wasted429Ratio = 429s / generateContent calls the fake saw;
 *   p99WaitMs = arrival to answer. Targets for our pool: goodput >= 0.97, 429s <= 0.02.
 *   p50WaitMs / p99WaitMs of the goodput contenders are INFO (see overload for the targets).
 * - overload (bench/overload.ts): the goodput setup (our pool told rpm), one client offering
 *   2 x capacity, the pool's maxWaitMs scaled like the windows (10 s x minuteMs / 60 s =
 *   167 ms). goodputRatio as in goodput (>= 0.97); p50WaitMs <= 10 % and p99WaitMs <= 50 %
 *   of deadlineMs (waits of answered requests, arrival to answer); refusalDecisionMs = p99
 *   of arrival to refusal over every refusal (< 5); retryAfterErrorRatio = p90 of
 *   |refusal + retryAfterMs - when its slot really freed| / (that - refusal), where a
 *   request refused while p - 1 others waited needed the p-th slot after its refusal, which
 *   under overload is the p-th answer after it (<= 0.25).
 * - fairness: the goodput setup, one heavy client offering 10 x the load of each of 9 light
 *   ones, 2 x capacity in all, clients named. share = answers / requests per client;
 *   lightMinShare (the smallest light share, target >= 0.95), heavyShare, jainIndex (Jain's
 *   index of the shares), jainIndexVsMaxMin (Jain's index of answers over the max-min fair
 *   share of this run's answers: 1 is exactly max-min). `fifo`: the same arrivals through
 *   the pool with no client named and waits bounded only by the deadline (first come, first
 *   served, as before fair shares).
 * - limits: one Discord user with USER_RPM = 5 asks 20 times in a row through the bot's
 *   admission (admitWork: the gate, then ClientLimits) and the pool on a fresh fake: the 15
 *   refused must make no upstream call (upstreamCalls = answered).
 * - storeUsPerRequest {sqlite, redis}: what an attached store adds to one request (no
 *   network client, 20 keys; counters batched and flushed once per 5,000 requests round):
 *   median over interleaved rounds with the store minus the median without, per request
 *   (INFO; near zero, so noise can make it slightly negative). Redis
 *   runs a redis-server of its own on loopback; n/a when redis-server is not installed.
 * - heapMB.pool: heap of a pool of 1,000 keys x 3 models x 10 instances (no-network client),
 *   measured after gc in a child `node --expose-gc --import tsx bench/heap.ts`. Target < 50.
 *   heapMB.chats: what 100 chats x 20 turns (answers ~200 chars) add on top (INFO).
 * - faults: 10 keys on the fake (20 ms before every answer, errors included), key#3
 *   answering 503 on every call and key#7 invalid, 240 requests arriving at 20/s through our
 *   pool (pool size 10); the same run with 10 good keys gives p99MsNoFaults. Targets: every
 *   request answered (answeredRatio 1), <= 1.05 upstream calls per answer, <= 2 calls to the
 *   invalid key in all, <= 3 calls to the overloaded key in the last third of the arrivals,
 *   p99Ms <= 2 x p99MsNoFaults (see bench/faults.ts).
 * - gatewayOverhead: generateContent straight into an in-process pool and through the HTTP
 *   gateway (in a child process, client token, memory store) over its Gemini-native and
 *   OpenAI routes, on the fake without latency (bench/gatewayOverhead.ts). calls/s and
 *   p50/p99 at concurrency 32 (3 interleaved rounds of 2,000 calls per side, best round);
 *   the added latency of one request, one at a time (300 calls per side, interleaved):
 *   target p50 < 1 ms; time to the first byte of a streamed answer through the gateway
 *   minus straight from the fake (median of 30 each): target < 5 ms. At concurrency 32 on
 *   two cores the extra process and hop also cost throughput, so the added latency there is
 *   mostly queueing (INFO).
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import { progress, ROOT, round } from './common.ts';
import { measureFaults } from './faults.ts';
import { measureGatewayOverhead } from './gatewayOverhead.ts';
import { measureGoodput, type ContenderName, type GoodputFigures, type GoodputOptions } from './goodput.ts';
import { measureFairness, measureLimits, measureOverload, type FairnessFigures, type FairnessRun, type OverloadFigures } from './overload.ts';
import { measureOverhead, measurePoolOwnCost } from './overhead.ts';
import { measureSelect } from './select.ts';
import { measureStoreCost } from './store.ts';

const json = process.argv.includes('--json');
const started = performance.now();

// ------------------------------------------------------------------ targets

const TARGET = {
  selectNs: 2_000,
  overheadRatio: 1.05,
  goodputRatio: 0.97,
  wasted429Ratio: 0.02,
  heapPoolMB: 50,
  faultsAnsweredRatio: 1,
  faultsCallsPerAnswer: 1.05,
  faultsInvalidKeyCalls: 2,
  faultsOverloadedKeyCallsLastThird: 3,
  faultsP99Factor: 2,
  overloadP50OfDeadline: 0.1,
  overloadP99OfDeadline: 0.5,
  refusalDecisionMs: 5,
  retryAfterErrorRatio: 0.25,
  lightMinShare: 0.95,
  gatewayAddedP50Ms: 1,
  gatewayFirstByteAddedMs: 5,
} as const;

// ------------------------------------------------------------------ 1. selection

const SELECT_SIZES = [10, 100, 1_000] as const;
const selectNsPerPick: Record<string, number> = {};
for (const n of SELECT_SIZES) {
  progress(`select: ${n} keys`);
  selectNsPerPick[String(n)] = measureSelect(n, { poolSize: 10, picksPerSample: 1_000, samples: 200, warmupPicks: 50_000 });
}
// Reference: the same pick with a configured quota (rpm never reached), as with GEMINI_RPM.
progress('select: 1000 keys, with a configured rpm');
const selectWithLimitsNs = measureSelect(1_000, { poolSize: 10, picksPerSample: 1_000, samples: 200, warmupPicks: 50_000, rpm: 1_000_000_000 });

// ------------------------------------------------------------------ 4. heap (child process, needs --expose-gc)

interface HeapFigures {
  pool: number;
  chats: number;
  error?: string;
}

async function measureHeap(): Promise<HeapFigures> {
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/heap.ts'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const last = out.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as HeapFigures;
  } catch {
    return { pool: Number.NaN, chats: Number.NaN, error: `heap child exited ${code}: ${last}` };
  }
}
progress('heap: 1,000 keys x 3 models x 10 instances, then 100 chats x 20 turns');
const heap = await measureHeap();

// ------------------------------------------------------------------ 2. overhead

/** A section that fails (a child that does not start, say) is reported as n/a, not fatal. */
const errors: string[] = [];
async function guarded<T>(what: string, run: () => Promise<T>, fallback: T): Promise<T> {
  try {
    return await run();
  } catch (err) {
    errors.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    progress(`${what} failed: ${String(err)}`);
    return fallback;
  }
}
const NAN_FIGURES = { callsPerSec: NaN, p50Ms: NaN, p99Ms: NaN, cpuUsPerCall: NaN, failures: 0 };

progress('overhead: 5 rounds x 5,000 calls per side (chunks of 500), concurrency 32');
const overhead = await guarded(
  'overhead',
  () => measureOverhead({ calls: 5_000, chunkCalls: 500, concurrency: 32, rounds: 5, keys: 10, attemptTimeoutMs: 30_000 }),
  {
    overheadRatio: NaN,
    throughputRatio: NaN,
    cpuRatioVsPlainTimeout: NaN,
    overheadRatioBest: NaN,
    ratioVsPlainTimeout: NaN,
    cpuRatio: NaN,
    addedLatencyUs: { p50: NaN, p99: NaN },
    sides: { plain: NAN_FIGURES, pool: NAN_FIGURES, plainTimeout: NAN_FIGURES },
    rounds: [],
    upstreamCalls: 0,
    upstreamNon200: 0,
  },
);
progress("overhead: the pool's own CPU per call, no network");
const ownCost = await guarded('pool own cost', () => measurePoolOwnCost(), { poolUsPerCall: NaN, directUsPerCall: NaN, ownUsPerCall: NaN });

// ------------------------------------------------------------------ 3. goodput

const GOODPUT: GoodputOptions = {
  projects: 5,
  keysPerProject: 2,
  rpm: 5,
  minuteMs: 1_000,
  windows: 20,
  loadFactor: 2,
  drainMs: 250,
  deadlineMs: 2_000,
};
const CONTENDER_ORDER: ContenderName[] = ['ours', 'oursLearned', 'roundRobinRetry', 'roundRobinCool24h'];
const goodput = {} as Record<ContenderName, GoodputFigures>;
for (const name of CONTENDER_ORDER) {
  progress(`goodput: ${name} (${GOODPUT.windows} windows of ${GOODPUT.minuteMs} ms)`);
  const capacity = GOODPUT.projects * GOODPUT.rpm * GOODPUT.windows;
  goodput[name] = await guarded(`goodput ${name}`, () => measureGoodput(name, GOODPUT), {
    goodputRatio: NaN,
    wasted429Ratio: NaN,
    p99WaitMs: NaN,
    p50WaitMs: NaN,
    arrivals: 0,
    answered: 0,
    answeredLate: 0,
    failed: 0,
    upstreamCalls: 0,
    upstream429: 0,
    capacity,
  });
}

// ------------------------------------------------------------------ 3b. overload, fairness, limits

const OVERLOAD = { ...GOODPUT, maxWaitMs: Math.round((10_000 * GOODPUT.minuteMs) / 60_000) };
const NAN_FAIR: FairnessRun = { lightMinShare: NaN, heavyShare: NaN, jainIndex: NaN, jainIndexVsMaxMin: NaN, lightMaxMinShare: NaN, goodputRatio: NaN, answered: {}, requests: {} };
const overload: OverloadFigures = await guarded('overload', () => measureOverload(OVERLOAD), {
  goodputRatio: NaN,
  p50WaitMs: NaN,
  p99WaitMs: NaN,
  deadlineMs: OVERLOAD.deadlineMs,
  refusalDecisionMs: NaN,
  retryAfterErrorRatio: NaN,
  retryAfterErrorMedian: NaN,
  answered: 0,
  refused: 0,
  refusedLate: 0,
  capacity: 0,
  arrivals: 0,
  upstream429: 0,
});
const fairness: FairnessFigures = await guarded('fairness', () => measureFairness(OVERLOAD), { ...NAN_FAIR, fifo: NAN_FAIR });
progress('limits: USER_RPM 5, 20 requests in a row through the bot\'s admission');
const limits = await guarded('limits', () => measureLimits({ userRpm: 5, requests: 20 }), { userRpm: 5, requests: 20, answered: NaN, refused: NaN, upstreamCalls: NaN, refusalDecisionMs: NaN });

// ------------------------------------------------------------------ 5. state store on the request path

progress('store: µs per request added by SQLite and Redis (counters batched, flushed every second)');
const storeCost = await guarded('store', () => measureStoreCost(), { baseUs: NaN, sqlite: NaN, redis: undefined as number | undefined });

// ------------------------------------------------------------------ 6. failover under bad keys

const NAN_RUN = { answered: 0, requests: 0, upstreamCalls: 0, invalidKeyCalls: 0, overloadedKeyCalls: 0, overloadedKeyCallsLastThird: 0, p50Ms: NaN, p99Ms: NaN };
const faults = await guarded('faults', () => measureFaults({ keys: 10, requests: 240, perSecond: 20, latencyMs: 20 }), {
  answeredRatio: NaN,
  callsPerAnswer: NaN,
  invalidKeyCalls: NaN,
  overloadedKeyCallsLastThird: NaN,
  p99Ms: NaN,
  p99MsNoFaults: NaN,
  detail: { faults: NAN_RUN, noFaults: NAN_RUN },
});

// ------------------------------------------------------------------ 7. the HTTP gateway

progress('gatewayOverhead: 3 rounds x 2,000 calls per side, concurrency 32; then one at a time');
const NAN_SIDE = { callsPerSec: NaN, p50Ms: NaN, p99Ms: NaN, failures: 0 };
const gateway = await guarded('gatewayOverhead', () => measureGatewayOverhead({ calls: 2_000, concurrency: 32, rounds: 3, sequentialCalls: 300, streams: 30 }), {
  direct: NAN_SIDE,
  native: NAN_SIDE,
  openai: NAN_SIDE,
  addedP50Ms: { native: NaN, openai: NaN },
  addedP99Ms: { native: NaN, openai: NaN },
  sequentialAddedMs: { native: { p50: NaN, p99: NaN }, openai: { p50: NaN, p99: NaN } },
  firstByteMs: { fake: NaN, gateway: NaN, addedMs: NaN },
});

const durationSec = (performance.now() - started) / 1000;

// ------------------------------------------------------------------ table

type Mark = 'PASS' | 'MISS' | 'INFO' | 'REF';
const below = (v: number, t: number): Mark => (Number.isFinite(v) && v < t ? 'PASS' : 'MISS');
const atMost = (v: number, t: number): Mark => (Number.isFinite(v) && v <= t ? 'PASS' : 'MISS');
const atLeast = (v: number, t: number): Mark => (Number.isFinite(v) && v >= t ? 'PASS' : 'MISS');

const rows: Array<[string, string, string, Mark]> = [];
const row = (name: string, value: string, target: string, mark: Mark) => rows.push([name, value, target, mark]);
const fmt = (x: number, digits = 0) => (Number.isFinite(x) ? x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a');

for (const n of SELECT_SIZES) {
  const v = selectNsPerPick[String(n)]!;
  row(`selectNsPerPick, ${fmt(n)} keys`, `${fmt(v)} ns`, `< ${fmt(TARGET.selectNs)} ns`, below(v, TARGET.selectNs));
}
row('  ref: 1,000 keys with a configured rpm', `${fmt(selectWithLimitsNs)} ns`, '', 'INFO');
row(
  'overheadRatio (pool / plain client CPU per call)',
  `${fmt(overhead.overheadRatio, 3)}`,
  `<= ${TARGET.overheadRatio}`,
  atMost(overhead.overheadRatio, TARGET.overheadRatio),
);
const sides = overhead.sides;
row('  round CPU ratios', overhead.rounds.map((r) => fmt(r.pool.cpuUsPerCall / r.plain.cpuUsPerCall, 3)).join(' '), '', 'INFO');
row('  lowest client CPU µs/call: plain, plain with 30 s timeout, pool', `${fmt(sides.plain.cpuUsPerCall)}, ${fmt(sides.plainTimeout.cpuUsPerCall)}, ${fmt(sides.pool.cpuUsPerCall)}`, '', 'INFO');
row('  ref: pool / plain with 30 s timeout, CPU per call', `${fmt(overhead.cpuRatioVsPlainTimeout, 3)}`, '', 'INFO');
row('  throughputRatio (pool / plain calls/s)', `${fmt(overhead.throughputRatio, 3)}`, '', 'INFO');
row('  round throughput ratios', overhead.rounds.map((r) => fmt(r.pool.callsPerSec / r.plain.callsPerSec, 3)).join(' '), '', 'INFO');
row('  best calls/s: plain, pool (ratio)', `${fmt(sides.plain.callsPerSec)}, ${fmt(sides.pool.callsPerSec)} (${fmt(overhead.overheadRatioBest, 3)})`, '', 'INFO');
row('  ref: pool / plain with 30 s timeout', `${fmt(overhead.ratioVsPlainTimeout, 3)}`, '', 'INFO');
row('  pool logic alone, no HTTP (µs/call)', `${fmt(ownCost.ownUsPerCall, 1)}`, '', 'INFO');
row('addedLatencyUs p50', `${fmt(overhead.addedLatencyUs.p50)} µs`, `(plain p50 ${fmt(sides.plain.p50Ms, 2)} ms)`, 'INFO');
row('addedLatencyUs p99', `${fmt(overhead.addedLatencyUs.p99)} µs`, `(plain p99 ${fmt(sides.plain.p99Ms, 2)} ms)`, 'INFO');
for (const name of CONTENDER_ORDER) {
  const g = goodput[name];
  const ourPool = name === 'ours' || name === 'oursLearned';
  row(
    `goodput ${name}: goodputRatio`,
    `${fmt(g.goodputRatio, 3)} (${g.answered}/${g.capacity})`,
    ourPool ? `>= ${TARGET.goodputRatio}` : 'baseline',
    ourPool ? atLeast(g.goodputRatio, TARGET.goodputRatio) : 'REF',
  );
  row(
    `goodput ${name}: wasted429Ratio`,
    `${fmt(g.wasted429Ratio, 3)} (${g.upstream429}/${g.upstreamCalls})`,
    ourPool ? `<= ${TARGET.wasted429Ratio}` : 'baseline',
    ourPool ? atMost(g.wasted429Ratio, TARGET.wasted429Ratio) : 'REF',
  );
  row(`goodput ${name}: p99WaitMs (p50)`, `${fmt(g.p99WaitMs)} ms (${fmt(g.p50WaitMs)})`, '', ourPool ? 'INFO' : 'REF');
}
const ol = overload;
row('overload: goodputRatio', `${fmt(ol.goodputRatio, 3)} (${ol.answered}/${ol.capacity})`, `>= ${TARGET.goodputRatio}`, atLeast(ol.goodputRatio, TARGET.goodputRatio));
row('overload: p50WaitMs', `${fmt(ol.p50WaitMs)} ms`, `<= ${fmt(TARGET.overloadP50OfDeadline * ol.deadlineMs)} ms`, atMost(ol.p50WaitMs, TARGET.overloadP50OfDeadline * ol.deadlineMs));
row('overload: p99WaitMs', `${fmt(ol.p99WaitMs)} ms`, `<= ${fmt(TARGET.overloadP99OfDeadline * ol.deadlineMs)} ms`, atMost(ol.p99WaitMs, TARGET.overloadP99OfDeadline * ol.deadlineMs));
row('overload: refusalDecisionMs (p99)', `${fmt(ol.refusalDecisionMs, 2)} ms (${ol.refusedLate} of ${ol.refused} over 5 ms)`, `< ${TARGET.refusalDecisionMs} ms`, below(ol.refusalDecisionMs, TARGET.refusalDecisionMs));
row('overload: retryAfterErrorRatio (p90)', `${fmt(ol.retryAfterErrorRatio, 3)} (median ${fmt(ol.retryAfterErrorMedian, 3)})`, `<= ${TARGET.retryAfterErrorRatio}`, atMost(ol.retryAfterErrorRatio, TARGET.retryAfterErrorRatio));
row('fairness: lightMinShare', `${fmt(fairness.lightMinShare, 3)} (exact max-min: ${fmt(fairness.lightMaxMinShare, 3)})`, `>= ${TARGET.lightMinShare}`, atLeast(fairness.lightMinShare, TARGET.lightMinShare));
row('fairness: heavyShare, jainIndex (vs max-min)', `${fmt(fairness.heavyShare, 3)}, ${fmt(fairness.jainIndex, 3)} (${fmt(fairness.jainIndexVsMaxMin, 3)})`, '', 'INFO');
row('  fifo: lightMinShare, heavyShare, jainIndex (vs max-min)', `${fmt(fairness.fifo.lightMinShare, 3)}, ${fmt(fairness.fifo.heavyShare, 3)}, ${fmt(fairness.fifo.jainIndex, 3)} (${fmt(fairness.fifo.jainIndexVsMaxMin, 3)})`, 'baseline', 'REF');
row('limits: over USER_RPM, upstream calls', `${fmt(limits.refused)} refused, ${fmt(limits.upstreamCalls)} calls for ${fmt(limits.answered)} answers`, '= answers', Number.isFinite(limits.upstreamCalls) && limits.upstreamCalls === limits.answered && limits.refused > 0 ? 'PASS' : 'MISS');
row('heapMB.pool (1,000 keys x 3 models x 10)', `${fmt(heap.pool, 2)} MB`, `< ${TARGET.heapPoolMB} MB`, below(heap.pool, TARGET.heapPoolMB));
row('heapMB.chats (100 chats x 20 turns)', `${fmt(heap.chats, 2)} MB`, '', 'INFO');
row('storeUsPerRequest sqlite', `${fmt(storeCost.sqlite, 2)} µs`, `(pool alone ${fmt(storeCost.baseUs, 1)} µs)`, 'INFO');
row('storeUsPerRequest redis', storeCost.redis === undefined ? 'n/a (no redis-server)' : `${fmt(storeCost.redis, 2)} µs`, '', 'INFO');
const fd = faults.detail.faults;
row('faults: answeredRatio', `${fmt(faults.answeredRatio, 3)} (${fd.answered}/${fd.requests})`, `= ${TARGET.faultsAnsweredRatio}`, atLeast(faults.answeredRatio, TARGET.faultsAnsweredRatio));
row('faults: callsPerAnswer', `${fmt(faults.callsPerAnswer, 3)} (${fd.upstreamCalls} calls)`, `<= ${TARGET.faultsCallsPerAnswer}`, atMost(faults.callsPerAnswer, TARGET.faultsCallsPerAnswer));
row('faults: invalidKeyCalls', fmt(faults.invalidKeyCalls), `<= ${TARGET.faultsInvalidKeyCalls}`, atMost(faults.invalidKeyCalls, TARGET.faultsInvalidKeyCalls));
row('faults: overloadedKeyCallsLastThird', `${fmt(faults.overloadedKeyCallsLastThird)} (${fd.overloadedKeyCalls} in all)`, `<= ${TARGET.faultsOverloadedKeyCallsLastThird}`, atMost(faults.overloadedKeyCallsLastThird, TARGET.faultsOverloadedKeyCallsLastThird));
row('faults: p99Ms (p50)', `${fmt(faults.p99Ms, 1)} ms (${fmt(fd.p50Ms, 1)})`, `<= ${TARGET.faultsP99Factor} x p99MsNoFaults`, atMost(faults.p99Ms, TARGET.faultsP99Factor * faults.p99MsNoFaults));
row('  p99MsNoFaults (p50)', `${fmt(faults.p99MsNoFaults, 1)} ms (${fmt(faults.detail.noFaults.p50Ms, 1)})`, '', 'INFO');
for (const route of ['native', 'openai'] as const) {
  const r = gateway[route];
  row(`gateway ${route}: calls/s (direct pool)`, `${fmt(r.callsPerSec)} (${fmt(gateway.direct.callsPerSec)})`, '', 'INFO');
  row(`gateway ${route}: added p50 / p99, one at a time`, `${fmt(gateway.sequentialAddedMs[route].p50, 2)} / ${fmt(gateway.sequentialAddedMs[route].p99, 2)} ms`, `p50 < ${TARGET.gatewayAddedP50Ms} ms`, below(gateway.sequentialAddedMs[route].p50, TARGET.gatewayAddedP50Ms));
  row(`gateway ${route}: added p50 / p99, concurrency 32`, `${fmt(gateway.addedP50Ms[route], 1)} / ${fmt(gateway.addedP99Ms[route], 1)} ms`, '', 'INFO');
}
row('gateway: first streamed byte added', `${fmt(gateway.firstByteMs.addedMs, 2)} ms (fake ${fmt(gateway.firstByteMs.fake, 2)})`, `< ${TARGET.gatewayFirstByteAddedMs} ms`, below(gateway.firstByteMs.addedMs, TARGET.gatewayFirstByteAddedMs));

const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
const header = `GeminiAPIPool benchmarks  (${cores} cores, node ${process.version}, ${process.platform}, ${new Date().toISOString()}, ${fmt(durationSec, 1)} s)`;
const widths = [0, 1, 2].map((i) => Math.max(['figure', 'value', 'target'][i]!.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c)).join('  ').trimEnd();
const out: string[] = [header, '', line(['figure', 'value', 'target', '']), line(widths.map((w) => '-'.repeat(w)).concat('----'))];
for (const r of rows) out.push(line(r));
if (heap.error) errors.push(`heap: ${heap.error}`);
for (const e of errors) out.push(`error: ${e}`);
const misses = rows.filter((r) => r[3] === 'MISS').length;
out.push('', misses === 0 ? 'All targets met.' : `${misses} target(s) missed (reported, not asserted).`);
process.stdout.write(`${out.join('\n')}\n`);

// ------------------------------------------------------------------ JSON (last line)

if (json) {
  const g = (f: GoodputFigures) => ({
    goodputRatio: round(f.goodputRatio, 4),
    wasted429Ratio: round(f.wasted429Ratio, 4),
    p99WaitMs: round(f.p99WaitMs, 1),
    p50WaitMs: round(f.p50WaitMs, 1),
    answered: f.answered,
    capacity: f.capacity,
    arrivals: f.arrivals,
    upstreamCalls: f.upstreamCalls,
    upstream429: f.upstream429,
  });
  const result = {
    selectNsPerPick: Object.fromEntries(SELECT_SIZES.map((n) => [String(n), round(selectNsPerPick[String(n)]!)])),
    selectNsPerPickWithRpm: { '1000': round(selectWithLimitsNs) },
    overheadRatio: round(overhead.overheadRatio, 4),
    addedLatencyUs: { p50: round(overhead.addedLatencyUs.p50), p99: round(overhead.addedLatencyUs.p99) },
    overheadDetail: {
      roundCpuRatios: overhead.rounds.map((r) => round(r.pool.cpuUsPerCall / r.plain.cpuUsPerCall, 3)),
      throughputRatio: round(overhead.throughputRatio, 4),
      cpuRatioVsPlainWithTimeout: round(overhead.cpuRatioVsPlainTimeout, 4),
      roundRatios: overhead.rounds.map((r) => round(r.pool.callsPerSec / r.plain.callsPerSec, 3)),
      ratioOfBest: round(overhead.overheadRatioBest, 4),
      ratioVsPlainWithTimeout: round(overhead.ratioVsPlainTimeout, 4),
      bestCallsPerSec: { plain: round(sides.plain.callsPerSec), pool: round(sides.pool.callsPerSec), plainWithTimeout: round(sides.plainTimeout.callsPerSec) },
      clientCpuUsPerCall: { plain: round(sides.plain.cpuUsPerCall, 1), pool: round(sides.pool.cpuUsPerCall, 1), plainWithTimeout: round(sides.plainTimeout.cpuUsPerCall, 1) },
      poolLogicUsPerCall: round(ownCost.ownUsPerCall, 1),
      failures: sides.plain.failures + sides.pool.failures + sides.plainTimeout.failures,
    },
    goodput: Object.fromEntries(CONTENDER_ORDER.map((n) => [n, g(goodput[n])])),
    overload: {
      goodputRatio: round(overload.goodputRatio, 4),
      p50WaitMs: round(overload.p50WaitMs, 1),
      p99WaitMs: round(overload.p99WaitMs, 1),
      deadlineMs: overload.deadlineMs,
      refusalDecisionMs: round(overload.refusalDecisionMs, 2),
      retryAfterErrorRatio: round(overload.retryAfterErrorRatio, 4),
      retryAfterErrorMedian: round(overload.retryAfterErrorMedian, 4),
      answered: overload.answered,
      refused: overload.refused,
      refusedLate: overload.refusedLate,
      upstream429: overload.upstream429,
    },
    fairness: {
      lightMinShare: round(fairness.lightMinShare, 4),
      heavyShare: round(fairness.heavyShare, 4),
      jainIndex: round(fairness.jainIndex, 4),
      jainIndexVsMaxMin: round(fairness.jainIndexVsMaxMin, 4),
      lightMaxMinShare: round(fairness.lightMaxMinShare, 4),
      goodputRatio: round(fairness.goodputRatio, 4),
      fifo: {
        lightMinShare: round(fairness.fifo.lightMinShare, 4),
        heavyShare: round(fairness.fifo.heavyShare, 4),
        jainIndex: round(fairness.fifo.jainIndex, 4),
        jainIndexVsMaxMin: round(fairness.fifo.jainIndexVsMaxMin, 4),
      },
    },
    limits,
    heapMB: { pool: round(heap.pool, 2), chats: round(heap.chats, 2) },
    storeUsPerRequest: { sqlite: round(storeCost.sqlite, 2), redis: storeCost.redis === undefined ? null : round(storeCost.redis, 2) },
    faults: {
      answeredRatio: round(faults.answeredRatio, 4),
      callsPerAnswer: round(faults.callsPerAnswer, 4),
      invalidKeyCalls: faults.invalidKeyCalls,
      overloadedKeyCallsLastThird: faults.overloadedKeyCallsLastThird,
      p99Ms: round(faults.p99Ms, 1),
      p99MsNoFaults: round(faults.p99MsNoFaults, 1),
    },
    gatewayOverhead: {
      callsPerSec: { direct: round(gateway.direct.callsPerSec), native: round(gateway.native.callsPerSec), openai: round(gateway.openai.callsPerSec) },
      addedP50Ms: { native: round(gateway.sequentialAddedMs.native.p50, 2), openai: round(gateway.sequentialAddedMs.openai.p50, 2) },
      addedP99Ms: { native: round(gateway.sequentialAddedMs.native.p99, 2), openai: round(gateway.sequentialAddedMs.openai.p99, 2) },
      concurrency32: {
        addedP50Ms: { native: round(gateway.addedP50Ms.native, 1), openai: round(gateway.addedP50Ms.openai, 1) },
        addedP99Ms: { native: round(gateway.addedP99Ms.native, 1), openai: round(gateway.addedP99Ms.openai, 1) },
      },
      firstByteMs: { fake: round(gateway.firstByteMs.fake, 2), gateway: round(gateway.firstByteMs.gateway, 2), addedMs: round(gateway.firstByteMs.addedMs, 2) },
    },
    machine: { cores, node: process.version, platform: process.platform },
    date: new Date().toISOString(),
    durationSec: round(durationSec, 1),
    ...(errors.length > 0 ? { errors } : {}),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
