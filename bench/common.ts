/**
 * Shared pieces of the benchmarks: statistics, a no-network client, a closed-loop driver
 * and the fake Gemini server in a child process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ClientFactory, GeminiClient } from '../src/gemini/adapter.ts';
import type { FakeGeminiOptions, Fault, FaultMatch } from '../fakes/fakeGemini.ts';

/** The project root (bench/..), where `--import tsx` resolves. */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

export const MODEL = 'gemini-2.5-flash';

/** Progress goes to stderr so stdout holds only the table and the JSON line. */
export function progress(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

export function median(xs: readonly number[]): number {
  return quantile(xs, 0.5);
}

/** Nearest-rank quantile (q in 0..1); NaN for an empty list. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[rank]!;
}

export function round(x: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/**
 * A client that never touches the network: answers of about 200 characters, each a fresh
 * flat string (as JSON.parse would give), so heap figures are not flattered by sharing.
 */
export const noNetworkFactory: ClientFactory = (): GeminiClient => ({
  async generate() {
    const text = randomBytes(100).toString('hex');
    return { text, usage: { promptTokens: 10, outputTokens: 50, totalTokens: 60 }, finishReason: 'STOP' };
  },
  async *stream() {
    const text = randomBytes(100).toString('hex');
    yield { text, usage: { promptTokens: 10, outputTokens: 50, totalTokens: 60 }, finishReason: 'STOP' };
  },
  async check() {},
  async native() {
    return nativeAnswer(randomBytes(100).toString('hex'));
  },
  async *nativeStream() {
    yield nativeAnswer(randomBytes(100).toString('hex'));
  },
});

/** A generateContent answer in Gemini's JSON, as the native path passes it on. */
function nativeAnswer(text: string): Record<string, unknown> {
  return {
    candidates: [{ content: { parts: [{ text }], role: 'model' }, finishReason: 'STOP', index: 0 }],
    usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 50, totalTokenCount: 60 },
    modelVersion: MODEL,
  };
}

/**
 * Closed loop: `concurrency` workers run `n` calls back to back. Returns the wall time, the
 * CPU time of this process, every call's latency (ms) and how many calls reported failure.
 */
export async function closedLoop(
  n: number,
  concurrency: number,
  call: (i: number) => Promise<boolean>,
): Promise<{ elapsedMs: number; cpuMs: number; latenciesMs: Float64Array; failures: number }> {
  const latenciesMs = new Float64Array(n);
  let next = 0;
  let failures = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      const t = process.hrtime.bigint();
      const ok = await call(i);
      latenciesMs[i] = Number(process.hrtime.bigint() - t) / 1e6;
      if (!ok) failures++;
    }
  };
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  return { elapsedMs, cpuMs: (cpu.user + cpu.system) / 1000, latenciesMs, failures };
}

/** What the fake in the child process reports about the requests it received. */
export interface FakeStats {
  total: number;
  generate: number;
  byStatus: Record<string, number>;
  generateByStatus: Record<string, number>;
}

/**
 * The fake Gemini server (fakes/fakeGemini.ts) in its own process (bench/fakeServer.ts),
 * so its request handling does not share an event loop, or a core, with the client side.
 */
export class FakeProcess {
  readonly #child: ChildProcess;
  readonly #lines: Interface;
  readonly #waiting: Array<(line: string) => void> = [];
  url = '';

  private constructor(child: ChildProcess) {
    this.#child = child;
    this.#lines = createInterface({ input: child.stdout! });
    this.#lines.on('line', (line) => this.#waiting.shift()?.(line));
  }

  static async start(options: FakeGeminiOptions): Promise<FakeProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/fakeServer.ts', JSON.stringify(options)], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const fp = new FakeProcess(child);
    const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`fake server exited (${code})`))));
    const first = await Promise.race([fp.#next(), exited]);
    exited.catch(() => {});
    fp.url = (JSON.parse(first) as { url: string }).url;
    return fp;
  }

  #next(): Promise<string> {
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  async #ask(cmd: string): Promise<string> {
    const reply = this.#next();
    this.#child.stdin!.write(`${cmd}\n`);
    return reply;
  }

  async stats(): Promise<FakeStats> {
    return JSON.parse(await this.#ask('stats')) as FakeStats;
  }

  /** CPU time the server process has used so far, in ms. */
  async cpuMs(): Promise<number> {
    return (JSON.parse(await this.#ask('cpu')) as { cpuMs: number }).cpuMs;
  }

  /** Injects a fault (see `FakeGemini.inject`); without `match.times` it applies to every request that fits. */
  async inject(fault: Fault, match: FaultMatch = {}): Promise<void> {
    await this.#ask(`inject ${JSON.stringify({ fault, match })}`);
  }

  /** Every generateContent call received so far: key, arrival time (the fake's clock, ms) and status. */
  async calls(): Promise<Array<{ key: string; at: number; status: number }>> {
    return JSON.parse(await this.#ask('calls')) as Array<{ key: string; at: number; status: number }>;
  }

  /** Forgets recorded requests (quota counters stay). */
  async clear(): Promise<void> {
    await this.#ask('clear');
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const done = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.#child.stdin!.end();
    const timer = setTimeout(() => this.#child.kill(), 3_000);
    await done;
    clearTimeout(timer);
    this.#lines.close();
  }
}
