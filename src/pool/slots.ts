/**
 * When the next quota slots free for a model, across the quota groups that can serve it:
 * the k-th time in this schedule is when the k-th request waiting in line can go. The
 * queue uses it to admit only what it can serve within a bounded wait, to tell a refused
 * request when to come back, and to tell a waiting one how long it will wait.
 */
import type { KeyStates } from './keyStates.ts';
import type { QuotaLimiter } from './limiter.ts';

/**
 * One quota group's slots as the limiter sees them (see `QuotaLimiter.slotSource`).
 * `unlimited`: no known per-minute limit, every request can go from `from` on.
 */
export type SlotSource =
  | { kind: 'unlimited'; from: number }
  | {
      kind: 'window';
      /** The earliest time a key of the group is usable (now, or when its cooldown ends). */
      from: number;
      /** Requests a window. */
      rpm: number;
      /** Length of the window, margin included. */
      windowMs: number;
      /** Send times still in the window, oldest first. */
      times: readonly number[];
      /** Requests left today (Infinity: no daily limit). */
      dayLeft: number;
      /** When the day's count starts over. */
      dayEnd: number;
    };

/** Yields a group's free slots in time order, assuming each is taken as soon as it frees. */
class GroupSlots {
  /** Times handed out so far, to know when each slot frees again (a window later). */
  readonly #given: number[] = [];
  #dayLeft: number;
  next: number;

  constructor(private readonly s: Extract<SlotSource, { kind: 'window' }>) {
    this.#dayLeft = s.dayLeft;
    this.next = this.#compute();
  }

  #compute(): number {
    const s = this.s;
    if (this.#dayLeft <= 0) return s.dayEnd;
    const k = this.#given.length;
    const n = s.times.length;
    // The k-th slot from now frees when the send that holds it leaves the window: one of
    // those already in it (the (n - rpm + k)-th), or one handed out here.
    const idx = n - s.rpm + k;
    const holder = idx < 0 ? undefined : idx < n ? s.times[idx] : this.#given[idx - n];
    return holder === undefined ? s.from : Math.max(s.from, holder + s.windowMs);
  }

  take(): number {
    const at = this.next;
    this.#given.push(at);
    this.#dayLeft--;
    this.next = this.#compute();
    return at;
  }
}

/**
 * The first `k` times at which a waiting request of the model can go, ascending. Pure: a
 * k-way merge of each group's slots (a small binary heap over the groups).
 */
export function slotSchedule(sources: readonly SlotSource[], k: number): number[] {
  const out: number[] = [];
  if (k <= 0 || sources.length === 0) return out;
  let unlimitedFrom = Infinity;
  const heap: GroupSlots[] = [];
  for (const s of sources) {
    if (s.kind === 'unlimited') unlimitedFrom = Math.min(unlimitedFrom, s.from);
    else heap.push(new GroupSlots(s));
  }
  const less = (a: GroupSlots, b: GroupSlots) => a.next < b.next;
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && less(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && less(heap[r]!, heap[m]!)) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  };
  for (let i = Math.floor(heap.length / 2) - 1; i >= 0; i--) down(i);
  while (out.length < k) {
    const top = heap[0];
    // A group without a known limit serves everyone from its start on.
    if (!top || unlimitedFrom <= top.next) {
      if (!Number.isFinite(unlimitedFrom)) break;
      while (out.length < k) out.push(unlimitedFrom);
      break;
    }
    out.push(top.take());
    down(0);
  }
  return out;
}

/** What {@link modelSlotTimes} reads. */
export interface SlotParts {
  /** The keys in use: a key removed at runtime frees no slot. */
  ring: { readonly live: ReadonlyArray<{ readonly index: number; readonly group: string }> };
  states: Pick<KeyStates, 'disabled' | 'state'>;
  limiter: Pick<QuotaLimiter, 'slotSource'>;
}

/**
 * The first `k` times a waiting request of `model` can go: over every quota group with a key
 * in use and not disabled, from the moment its first key is usable (a cooldown's end).
 */
export function modelSlotTimes(parts: SlotParts, model: string, k: number, now: number): number[] {
  const from = new Map<string, number>();
  for (const key of parts.ring.live) {
    if (parts.states.disabled(key.index)) continue;
    const st = parts.states.state(key.index, model, now);
    const at = st.status === 'cooling' ? st.until : now;
    const earliest = from.get(key.group);
    if (earliest === undefined || at < earliest) from.set(key.group, at);
  }
  const sources: SlotSource[] = [];
  for (const [group, at] of from) sources.push(parts.limiter.slotSource(group, model, at, now));
  return slotSchedule(sources, k);
}
