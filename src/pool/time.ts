/**
 * Time helpers. Gemini's requests-per-day quota resets at midnight America/Los_Angeles,
 * so "today" for counters and daily cooldowns is the Pacific calendar day.
 */

const PACIFIC = 'America/Los_Angeles';

const fmt = new Intl.DateTimeFormat('en-US', {
  timeZone: PACIFIC,
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

function wallParts(t: number): { y: number; m: number; d: number; h: number; mi: number; s: number } {
  const p: Record<string, number> = {};
  for (const part of fmt.formatToParts(new Date(t))) {
    if (part.type !== 'literal') p[part.type] = Number(part.value);
  }
  return { y: p.year!, m: p.month!, d: p.day!, h: p.hour!, mi: p.minute!, s: p.second! };
}

/** Offset of Pacific wall time from UTC at instant t, in ms (about -8 h or -7 h). */
function offsetMs(t: number): number {
  const w = wallParts(t);
  const asUtc = Date.UTC(w.y, w.m - 1, w.d, w.h, w.mi, w.s);
  return asUtc - (t - (t % 1000 + 1000) % 1000);
}

/** The UTC instant of the Pacific midnight that starts day (y, m, d). */
function pacificMidnight(y: number, m: number, d: number): number {
  const wall = Date.UTC(y, m - 1, d);
  // Two passes settle the offset across a daylight-saving change.
  const guess = wall - offsetMs(wall);
  return wall - offsetMs(guess);
}

let cache: { start: number; end: number; day: string } | undefined;

function dayBounds(now: number): { start: number; end: number; day: string } {
  if (cache && now >= cache.start && now < cache.end) return cache;
  const w = wallParts(now);
  const start = pacificMidnight(w.y, w.m, w.d);
  const end = pacificMidnight(w.y, w.m, w.d + 1);
  const day = `${w.y}-${String(w.m).padStart(2, '0')}-${String(w.d).padStart(2, '0')}`;
  cache = { start, end, day };
  return cache;
}

/** The next midnight in America/Los_Angeles after `now`, as epoch ms. */
export function nextPacificMidnight(now: number): number {
  return dayBounds(now).end;
}

/** The Pacific calendar day of `now`, as `YYYY-MM-DD`: the day Gemini counts quota in. */
export function pacificDay(now: number): string {
  return dayBounds(now).day;
}

/** Injected time and randomness, so cooldowns and rotation are tested without waiting. */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  random(): number;
}

/** Sleeps for real, waking early (without throwing) when the signal aborts. */
export function realSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export const systemClock: Clock = { now: () => Date.now(), sleep: realSleep, random: Math.random };
