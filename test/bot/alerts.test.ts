import { describe, expect, it } from 'vitest';
import { AlertThrottle, alertText, summaryText, type AlertEvent, type AlertTimers } from '../../src/ops/alerts.ts';

class ManualTimers implements AlertTimers {
  t = 0;
  timers: Array<{ at: number; fn: () => void; id: number }> = [];
  #id = 0;
  now = (): number => this.t;
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = ++this.#id;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  };
  clearTimeout = (h: unknown): void => {
    this.timers = this.timers.filter((x) => x.id !== h);
  };
  advance(ms: number): void {
    this.t += ms;
    for (const due of this.timers.filter((x) => x.at <= this.t)) {
      this.timers = this.timers.filter((x) => x !== due);
      due.fn();
    }
  }
}

const disabled = (n: number): AlertEvent => ({ type: 'keyDisabled', keyIds: [`key#${n}`], kind: 'auth', reason: 'API_KEY_INVALID' });

describe('alerts', () => {
  it('a storm makes one message now and one summary after the interval, not hundreds', async () => {
    const timers = new ManualTimers();
    const sent: string[] = [];
    const alerts = new AlertThrottle({ minIntervalMs: 60_000, timers, send: async (t) => void sent.push(t) });
    for (let i = 1; i <= 200; i++) alerts.push(disabled(i));
    alerts.push({ type: 'allKeysUnavailable', model: 'gemini-2.5-flash', kind: 'auth' });
    expect(sent).toHaveLength(1);
    expect(sent[0]).toContain('key#1 disabled');
    timers.advance(59_000);
    expect(sent).toHaveLength(1);
    timers.advance(1_000);
    expect(sent).toHaveLength(2);
    expect(sent[1]).toContain('200 alerts');
    expect(sent[1]).toContain('199 keys disabled');
    expect(sent[1]).toContain('every key unavailable');
    expect(sent[1]!.length).toBeLessThanOrEqual(2000);
    // Quiet afterwards: the next event, a full interval later, goes out at once.
    timers.advance(60_000);
    alerts.push({ type: 'serviceRecovered', model: 'gemini-2.5-flash' });
    expect(sent).toHaveLength(3);
    expect(sent[2]).toContain('recovered');
  });

  it('flush sends what is pending at shutdown; a failing send is reported, not thrown', async () => {
    const timers = new ManualTimers();
    const errors: unknown[] = [];
    const sent: string[] = [];
    let fail = false;
    const alerts = new AlertThrottle({
      minIntervalMs: 1000,
      timers,
      send: async (t) => {
        if (fail) throw new Error('discord down');
        sent.push(t);
      },
      onError: (e) => errors.push(e),
    });
    alerts.push(disabled(1));
    alerts.push(disabled(2));
    await alerts.flush();
    expect(sent).toHaveLength(2);
    expect(sent[1]).toContain('key#2');
    fail = true;
    timers.advance(5000);
    alerts.push(disabled(3));
    await alerts.flush();
    expect(errors).toHaveLength(1);
  });

  it('a send that throws at once, or an onError that throws, never escapes (nor from the timer)', async () => {
    const timers = new ManualTimers();
    const rejections: unknown[] = [];
    const onRejection = (r: unknown) => rejections.push(r);
    process.on('unhandledRejection', onRejection);
    try {
      const errors: unknown[] = [];
      const alerts = new AlertThrottle({
        minIntervalMs: 1000,
        timers,
        send: () => {
          throw new Error('discord client gone');
        },
        onError: (e) => errors.push(e),
      });
      expect(() => alerts.push(disabled(1))).not.toThrow();
      alerts.push(disabled(2));
      expect(() => timers.advance(1000)).not.toThrow();
      await alerts.flush();
      expect(errors).toHaveLength(2);
      const quiet = new AlertThrottle({
        minIntervalMs: 0,
        timers,
        send: async () => {
          throw new Error('discord down');
        },
        onError: () => {
          throw new Error('logger broken');
        },
      });
      quiet.push(disabled(3));
      await quiet.flush();
      await new Promise((r) => setImmediate(r));
      expect(rejections).toEqual([]);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });

  it('every key unavailable: the words name the real reason; a same-answer refusal of every key points at the path', () => {
    const transient = alertText({ type: 'allKeysUnavailable', model: 'gemini-2.5-flash', kind: 'transient', retryAfterMs: 29_500 });
    expect(transient).toContain('Gemini is failing with server errors (transient); the first should be back in ~30 s');
    expect(transient).not.toContain('rate-limited');
    expect(alertText({ type: 'allKeysUnavailable', model: 'm', kind: 'rate_limited' })).toContain('every key is rate-limited');
    const suspect: AlertEvent = { type: 'allKeysUnavailable', model: 'm', kind: 'auth', sameFailure: { withinMs: 3_200, reason: 'refused (HTTP 403)' } };
    expect(alertText(suspect)).toContain('Every key was refused within 4 s with the same answer (refused (HTTP 403)): check GEMINI_BASE_URL or the proxy; Google revoking every key at once is unlikely.');
    const summary = summaryText([disabled(1), disabled(2), suspect], 60_000);
    expect(summary).toContain('every key unavailable: `m` ×1 (every key is disabled (invalid or suspended))');
    expect(summary).toContain('🧭 Every key was refused within 4 s');
    expect(summaryText([disabled(1), disabled(2)], 60_000)).not.toContain('GEMINI_BASE_URL');
  });

  it('texts show key#N only', () => {
    const text = alertText({ type: 'keyDisabled', keyIds: ['key#3'], kind: 'auth', reason: 'API key not valid' });
    expect(text).toContain('key#3');
    expect(summaryText([disabled(1)], 1000)).toBe(alertText(disabled(1)));
  });
});
