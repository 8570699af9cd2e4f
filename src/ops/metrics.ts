/**
 * Prometheus metrics of the bot, in a Registry of their OWN (not prom-client's global one),
 * so two bots in one process (tests) never share or clash. Key states are read from the
 * pool at scrape time; keys appear only as counts.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { KeyStatsReport } from '../pool/types.ts';

/** What the metrics read at scrape time. */
export interface MetricsSources {
  keyStats(): KeyStatsReport;
  queue(): { running: number; waiting: number };
}

/** One finished Gemini-backed request, as the bot saw it. */
export interface RequestObservation {
  command: string;
  model: string;
  /** `ok` or the failure kind (`rate_limited`, `busy`, ...). */
  outcome: string;
  latencyMs: number;
}

/** The bot's metrics and their registry. */
export class BotMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'command' | 'model' | 'outcome'>;
  readonly #latency: Histogram<'command' | 'model'>;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    this.#requests = new Counter({
      name: 'bot_requests_total',
      help: 'Requests the bot answered, by command, model and outcome (ok or the failure kind).',
      labelNames: ['command', 'model', 'outcome'],
      registers,
    });
    this.#latency = new Histogram({
      name: 'bot_request_duration_seconds',
      help: 'Time from the start of a Gemini call to the end of the answer.',
      labelNames: ['command', 'model'],
      buckets: [0.25, 0.5, 1, 2, 4, 8, 15, 30, 60],
      registers,
    });
    new Gauge({
      name: 'gemini_keys',
      help: 'API keys by state (active, cooling, disabled).',
      labelNames: ['state'],
      registers,
      collect() {
        const t = sources.keyStats().totals;
        this.set({ state: 'active' }, t.active);
        this.set({ state: 'cooling' }, t.cooling);
        this.set({ state: 'disabled' }, t.disabled);
      },
    });
    new Gauge({
      name: 'bot_queue_requests',
      help: 'Requests in the bot queue, running or waiting for a slot.',
      labelNames: ['state'],
      registers,
      collect() {
        const q = sources.queue();
        this.set({ state: 'running' }, q.running);
        this.set({ state: 'waiting' }, q.waiting);
      },
    });
  }

  /** Counts one request and its latency. */
  observe(o: RequestObservation): void {
    this.#requests.inc({ command: o.command, model: o.model, outcome: o.outcome });
    // Refusals before any Gemini call have no latency worth a bucket.
    if (o.latencyMs > 0) this.#latency.observe({ command: o.command, model: o.model }, o.latencyMs / 1000);
  }

  /** The exposition text for GET /metrics. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
