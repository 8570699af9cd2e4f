/** Many prompts through one pool, with bounded concurrency. */
import PQueue from 'p-queue';
import { positiveInt } from './options.ts';
import type { GenerateRequest, PoolResult } from './types.ts';

/** Options of a batch. */
export interface BatchOptions {
  /** Requests in flight at once. @default 4 */
  concurrency?: number;
  /** Model of the plain-text prompts (requests name their own). */
  model?: string;
}

/** Sends every prompt through `generate`, at most `concurrency` at once; results in input order. */
export function generateBatch(
  generate: (req: GenerateRequest) => Promise<PoolResult>,
  prompts: ReadonlyArray<string | GenerateRequest>,
  options: BatchOptions = {},
): Promise<PoolResult[]> {
  const queue = new PQueue({ concurrency: positiveInt('concurrency', options.concurrency ?? 4) });
  const asRequest = (p: string | GenerateRequest): GenerateRequest =>
    typeof p === 'string' ? { prompt: p, ...(options.model ? { model: options.model } : {}) } : p;
  return Promise.all(prompts.map((p) => queue.add(() => generate(asRequest(p))) as Promise<PoolResult>));
}
