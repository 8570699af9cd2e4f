/**
 * What every store checks before it writes counters, so that a bad value (a token count
 * that arrived as the string "8", NaN, a negative number) is refused as a whole batch
 * instead of being concatenated, coerced or half written.
 */
import { StoreRejectedError } from './errors.ts';
import type { CounterDelta, CounterRow } from './types.ts';

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** The integer counts of a delta; `latencyMs` may have a fraction. */
const COUNTS = ['requests', 'tokens', 'usage', 'errors'] as const;

/** A value as it may appear in an error message: its type, and a short form of it. */
function shown(v: unknown): string {
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}...` : v)}`;
  if (typeof v === 'number') return String(v);
  return v === null ? 'null' : typeof v;
}

/** What is wrong with one delta or row, or undefined when it is valid. */
function problem<T extends CounterDelta | CounterRow>(d: T, counts: ReadonlyArray<keyof T & string>): string | undefined {
  if (typeof d !== 'object' || d === null) return `is ${shown(d)}, not an object`;
  if (typeof d.keyHash !== 'string' || d.keyHash === '') return `keyHash must be a non-empty string (got ${shown(d.keyHash)})`;
  if (typeof d.model !== 'string' || d.model === '') return `model must be a non-empty string (got ${shown(d.model)})`;
  if (typeof d.day !== 'string' || !DAY.test(d.day)) return `day must be YYYY-MM-DD (got ${shown(d.day)})`;
  for (const name of counts) {
    const v = d[name] as unknown;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return `${name} must be a non-negative integer (got ${shown(v)})`;
  }
  const latency = d.latencyMs as unknown;
  if (typeof latency !== 'number' || !Number.isFinite(latency) || latency < 0) {
    return `latencyMs must be a finite number >= 0 (got ${shown(latency)})`;
  }
  return undefined;
}

/** The integer counts of a row; `latencyMs` may have a fraction. */
const ROW_COUNTS = ['usage', 'errors', 'requestsToday', 'tokensToday'] as const;

/**
 * Checks a batch of counter increments before anything is written.
 * @throws StoreRejectedError naming the first bad delta and field; nothing of the batch
 *   may then be written.
 */
export function assertCounterDeltas(deltas: readonly CounterDelta[]): void {
  if (!Array.isArray(deltas)) throw new StoreRejectedError(`counter batch must be an array (got ${shown(deltas)})`);
  for (let i = 0; i < deltas.length; i++) {
    const p = problem(deltas[i]!, COUNTS);
    if (p) throw new StoreRejectedError(`counter batch refused: delta ${i + 1} of ${deltas.length}: ${p}`);
  }
}

/**
 * Checks counter rows to raise the stored counters to, before anything is written.
 * @throws StoreRejectedError naming the first bad row and field.
 */
export function assertCounterRows(rows: readonly CounterRow[]): void {
  if (!Array.isArray(rows)) throw new StoreRejectedError(`counter rows must be an array (got ${shown(rows)})`);
  for (let i = 0; i < rows.length; i++) {
    const p = problem(rows[i]!, ROW_COUNTS);
    if (p) throw new StoreRejectedError(`counter rows refused: row ${i + 1} of ${rows.length}: ${p}`);
  }
}
