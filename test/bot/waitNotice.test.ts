/**
 * The wait notice on its own: written when the wait starts, counted down at most every
 * `refreshMs`, and never written once stopped, not even by a write that was due; an answer
 * streamed after it replaces it.
 */
import { describe, expect, it } from 'vitest';
import { WaitNotice, streamAnswer, type AnswerSink } from '../../src/bot/stream.ts';
import type { PoolResult, PoolStream } from '../../src/pool/types.ts';
import { until } from '../helpers.ts';

describe('WaitNotice', () => {
  it('writes at once, then at most every refreshMs with the latest expectation, counting down', async () => {
    let now = 1_000_000;
    const written: string[] = [];
    const n = new WaitNotice(async (t) => void written.push(t), { refreshMs: 40, now: () => now });
    n.waiting(3_000);
    await until(() => written.length === 1);
    expect(written).toEqual(['⏳ Waiting for a free slot, about 3 s…']);
    n.waiting(12_000);
    expect(written).toHaveLength(1);
    await until(() => written.length === 2);
    expect(written[1]).toBe('⏳ Waiting for a free slot, about 12 s…');
    now += 5_000;
    await until(() => written.length === 3);
    expect(written[2]).toBe('⏳ Waiting for a free slot, about 7 s…');
    await n.stop();
    const after = written.length;
    n.waiting(1_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(written).toHaveLength(after);
  });

  it('stop waits for a write in flight, and a due write never follows it', async () => {
    let release!: () => void;
    const written: string[] = [];
    const n = new WaitNotice(
      (t) =>
        new Promise<void>((r) => {
          written.push(t);
          release = r;
        }),
      { refreshMs: 10 },
    );
    n.waiting(30_000);
    await until(() => written.length === 1);
    let stopped = false;
    const stopping = n.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 30));
    expect(stopped).toBe(false);
    release();
    await stopping;
    await new Promise((r) => setTimeout(r, 30));
    expect(written).toHaveLength(1);
  });
});

describe('streamAnswer with a wait notice', () => {
  it('the notice shows while the request waits; the answer replaces it and nothing of the notice comes after', async () => {
    const ops: string[] = [];
    const sink: AnswerSink = {
      firstExists: true,
      create: async (i, c) => void ops.push(`create ${i}: ${c}`),
      edit: async (i, c) => void ops.push(`edit ${i}: ${c}`),
    };
    const notice = new WaitNotice((t) => sink.edit(0, t), { refreshMs: 5 });
    let push!: (s: string) => void;
    let end!: () => void;
    const result: PoolResult = { ok: true, text: 'hello', keyId: 'key#1', model: 'm', attempts: 1, latencyMs: 5, usage: { promptTokens: 1, outputTokens: 1, totalTokens: 2 } };
    const stream: PoolStream = {
      result: new Promise((r) => (end = () => r(result))),
      async *[Symbol.asyncIterator]() {
        notice.waiting(8_000);
        yield await new Promise<string>((r) => (push = r));
      },
    };
    const done = streamAnswer(stream, sink, { editIntervalMs: 1, notice });
    await until(() => push !== undefined && ops.length === 1);
    // Countdown writes keep coming while it waits.
    await new Promise((r) => setTimeout(r, 30));
    push('hello');
    end();
    await done;
    const answerAt = ops.findIndex((o) => o.includes('hello'));
    expect(ops[0]).toBe('edit 0: ⏳ Waiting for a free slot, about 8 s…');
    expect(answerAt).toBeGreaterThan(0);
    expect(ops.slice(answerAt).every((o) => !o.includes('Waiting'))).toBe(true);
    expect(ops.at(-1)).toMatch(/^edit 0: hello\n-# m · /);
  });
});

describe('streamAnswer with a wait notice and a placeholder', () => {
  it('"thinking" does not replace the notice while the request waits: it shows one interval after the expected wait', async () => {
    let now = 1_000_000;
    const sleeps: Array<{ at: number; wake: () => void }> = [];
    const clock = {
      now: () => now,
      sleep: (ms: number) => new Promise<void>((wake) => void sleeps.push({ at: now + ms, wake })),
    };
    const advance = (ms: number) => {
      now += ms;
      for (const s of sleeps.splice(0).filter((x) => (x.at <= now ? (x.wake(), false) : true))) sleeps.push(s);
    };
    const ops: string[] = [];
    const sink: AnswerSink = {
      firstExists: true,
      create: async (i, c) => void ops.push(`create ${i}: ${c}`),
      edit: async (i, c) => void ops.push(`edit ${i}: ${c}`),
    };
    // No countdown in this test: only the first write of the notice.
    const notice = new WaitNotice((t) => sink.edit(0, t), { refreshMs: 3_600_000, now: () => now });
    let push!: (s: string) => void;
    let end!: () => void;
    const result: PoolResult = { ok: true, text: 'hello', keyId: 'key#1', model: 'm', attempts: 1, latencyMs: 5, usage: { promptTokens: 1, outputTokens: 1, totalTokens: 2 } };
    const stream: PoolStream = {
      result: new Promise((r) => (end = () => r(result))),
      async *[Symbol.asyncIterator]() {
        yield await new Promise<string>((r) => (push = r));
      },
    };
    // The pool tells the wait as the request starts, before anything streams.
    notice.waiting(2_000);
    let finished = false;
    const done = streamAnswer(stream, sink, { editIntervalMs: 1, clock, notice, placeholder: { text: 'thinking', afterMs: 100 } }).then(() => (finished = true));
    await until(() => sleeps.length === 1 && ops.length === 1);
    expect(ops).toEqual(['edit 0: ⏳ Waiting for a free slot, about 2 s…']);
    advance(100);
    // Still waiting for quota: the placeholder waits too, and the notice stays.
    await until(() => sleeps.length === 1 && sleeps[0]!.at > now);
    expect(ops).toEqual(['edit 0: ⏳ Waiting for a free slot, about 2 s…']);
    advance(2_000);
    await until(() => ops.includes('edit 0: thinking'));
    push('hello');
    end();
    for (let i = 0; i < 200 && !finished; i++) {
      advance(10);
      await new Promise((r) => setTimeout(r, 1));
    }
    await done;
    expect(ops.at(-1)).toMatch(/^edit 0: hello\n-# m · /);
  });
});
