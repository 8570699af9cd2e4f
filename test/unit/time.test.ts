import { describe, expect, it } from 'vitest';
import { nextPacificMidnight, pacificDay } from '../../src/pool/time.ts';

describe('Pacific day', () => {
  it('midnight in winter is 08:00 UTC', () => {
    const now = Date.UTC(2026, 0, 15, 20, 0); // 12:00 PST
    expect(new Date(nextPacificMidnight(now)).toISOString()).toBe('2026-01-16T08:00:00.000Z');
    expect(pacificDay(now)).toBe('2026-01-15');
  });
  it('midnight in summer is 07:00 UTC', () => {
    const now = Date.UTC(2026, 6, 1, 6, 59, 59); // 23:59:59 PDT June 30
    expect(pacificDay(now)).toBe('2026-06-30');
    expect(new Date(nextPacificMidnight(now)).toISOString()).toBe('2026-07-01T07:00:00.000Z');
    expect(pacificDay(now + 1000)).toBe('2026-07-01');
  });
  it('across the spring-forward day', () => {
    const now = Date.UTC(2026, 2, 8, 9, 0); // 01:00 PST March 8, clocks jump at 02:00
    expect(new Date(nextPacificMidnight(now)).toISOString()).toBe('2026-03-09T07:00:00.000Z');
  });
  it('at exactly midnight the next midnight is a day later', () => {
    const midnight = Date.UTC(2026, 10, 22, 8, 0);
    expect(pacificDay(midnight)).toBe('2026-11-22');
    expect(nextPacificMidnight(midnight)).toBe(Date.UTC(2026, 10, 23, 8, 0));
    expect(pacificDay(midnight - 1)).toBe('2026-11-21');
  });
});
