import { describe, expect, it } from 'vitest';
import { ANSWER_CHARS, LiveMessages, answerTokenBudget, finalAnswerParts, pumpStream, streamAnswer, type AnswerSink, type StreamClock } from '../../src/bot/stream.ts';
import type { PoolResult, PoolSuccess } from '../../src/pool/types.ts';

interface Write {
  at: number;
  op: 'create' | 'edit';
  index: number;
  content: string;
}

/**
 * Time that moves only when nothing else can run: then it jumps to the end of the earliest
 * sleep. The rate of edits is checked against this clock, so a slow machine changes
 * nothing.
 */
class VirtualClock implements StreamClock {
  #now = 0;
  readonly #sleepers: Array<{ at: number; wake: () => void }> = [];
  now = (): number => this.#now;
  sleep = (ms: number): Promise<void> => new Promise<void>((wake) => this.#sleepers.push({ at: this.#now + Math.max(0, ms), wake }));

  /** Runs `work` to its end, moving time whenever it (and everything else) waits. */
  async run<T>(work: Promise<T>): Promise<T> {
    let done = false;
    const result = work.finally(() => (done = true));
    for (let idle = 0; !done; ) {
      // Every promise reaction settles before a setImmediate callback runs.
      await new Promise((resolve) => setImmediate(resolve));
      if (done) break;
      this.#sleepers.sort((a, b) => a.at - b.at);
      const next = this.#sleepers.shift();
      if (!next) {
        if (++idle > 100) throw new Error('VirtualClock: the work waits for something other than time');
        continue;
      }
      idle = 0;
      this.#now = Math.max(this.#now, next.at);
      next.wake();
    }
    return result;
  }
}

function recordingSink(firstExists: boolean, clock: { now(): number }): AnswerSink & { writes: Write[]; messages: string[] } {
  const writes: Write[] = [];
  const messages: string[] = [];
  return {
    firstExists,
    writes,
    messages,
    async create(index, content) {
      expect(index).toBe(messages.length);
      writes.push({ at: clock.now(), op: 'create', index, content });
      messages[index] = content;
    },
    async edit(index, content) {
      writes.push({ at: clock.now(), op: 'edit', index, content });
      messages[index] = content;
    },
  };
}

/** Yields the chunks `everyMs` apart on the clock. */
async function* timed(chunks: string[], everyMs: number, clock: StreamClock): AsyncGenerator<string> {
  for (const c of chunks) {
    await clock.sleep(everyMs);
    yield c;
  }
}

const ok = (text: string): PoolSuccess => ({
  ok: true,
  text,
  keyId: 'key#1',
  model: 'gemini-2.5-flash',
  attempts: 1,
  latencyMs: 1500,
  usage: { promptTokens: 1, outputTokens: 1, totalTokens: 2 },
});

describe('streaming into messages', () => {
  it('edits one message at most once per interval while text streams in', async () => {
    const clock = new VirtualClock();
    const sink = recordingSink(true, clock);
    const live = new LiveMessages(sink, { editIntervalMs: 100, clock });
    // 25 chunks 20 ms apart: half a second of streaming.
    const chunks = Array.from({ length: 25 }, (_, i) => `word${i} `);
    const text = await clock.run(pumpStream(timed(chunks, 20, clock), live, { editIntervalMs: 100, clock }));
    await clock.run(live.show(finalAnswerParts(ok(text), text)));
    expect(text).toBe(chunks.join(''));
    const edits = sink.writes.filter((w) => w.index === 0);
    // About one edit per interval over 500 ms, never two within one.
    expect(edits.length).toBeGreaterThanOrEqual(5);
    expect(edits.length).toBeLessThanOrEqual(7);
    for (let i = 1; i < edits.length; i++) expect(edits[i]!.at - edits[i - 1]!.at).toBeGreaterThanOrEqual(100);
    expect(sink.messages[0]).toBe(`${text.trim()}\n-# gemini-2.5-flash · 1.5 s`);
  });

  it('rolls over into new messages past the limit, in order, each under 2000 characters', async () => {
    const clock = new VirtualClock();
    const sink = recordingSink(true, clock);
    const live = new LiveMessages(sink, { editIntervalMs: 30, clock });
    const paragraph = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(6);
    const chunks = Array.from({ length: 30 }, (_, i) => `${i}. ${paragraph}\n\n`);
    const layout = { maxChars: ANSWER_CHARS, maxMessages: 20 };
    const text = await clock.run(pumpStream(timed(chunks, 3, clock), live, { editIntervalMs: 30, layout, clock }));
    await clock.run(live.show(finalAnswerParts(ok(text), text, layout)));
    expect(sink.messages.length).toBeGreaterThan(4);
    for (const m of sink.messages) expect(m.length).toBeLessThanOrEqual(2000);
    expect(sink.messages.join('\n\n').replace(/\n-# .*$/, '').replace(/\s+/g, ' ').trim()).toBe(text.replace(/\s+/g, ' ').trim());
    // Created strictly in order.
    const creates = sink.writes.filter((w) => w.op === 'create').map((w) => w.index);
    expect(creates).toEqual(creates.map((_, i) => i + 1));
  });

  it('shows the failure text when nothing came, and keeps partial text when something did', () => {
    const fail: PoolResult = { ok: false, attempts: 4, model: 'm', error: { kind: 'rate_limited', message: 'x', retryAfterMs: 30_000 } };
    expect(finalAnswerParts(fail, '')).toEqual([expect.stringContaining('try again in ~30 s')]);
    const parts = finalAnswerParts({ ...fail, partialText: 'Half an answer' }, '');
    expect(parts[0]).toContain('Half an answer');
    expect(parts[0]).toContain('cut off');
    expect(finalAnswerParts(ok(''), '')[0]).toContain('empty answer');
    expect(ANSWER_CHARS).toBeLessThan(2000);
  });

  it('never writes an unchanged message again', async () => {
    const clock = new VirtualClock();
    const sink = recordingSink(false, clock);
    const live = new LiveMessages(sink, { editIntervalMs: 10, clock });
    await live.show(['a']);
    await live.show(['a']);
    await live.show(['a', 'b']);
    expect(sink.writes.map((w) => `${w.op}${w.index}`)).toEqual(['create0', 'create1']);
  });

  it('caps an answer at MAX_ANSWER_MESSAGES and ends it with one line saying it was cut', () => {
    const layout = { maxChars: ANSWER_CHARS, maxMessages: 5 };
    const huge = 'All work and no play makes a long answer. '.repeat(25_000); // about 1 MB
    const parts = finalAnswerParts(ok(huge), huge, layout);
    expect(parts).toHaveLength(5);
    for (const p of parts) expect(p.length).toBeLessThanOrEqual(2000);
    const lastLines = parts[4]!.split('\n');
    expect(lastLines.at(-2)).toBe('✂️ *The answer was cut here: it was longer than 5 messages.*');
    expect(lastLines.at(-1)).toMatch(/^-# gemini-2\.5-flash · /);
    expect(parts.slice(0, 4).join('').includes('cut here')).toBe(false);
    // What is shown is the start of the answer, in order.
    expect(parts.join(' ').replace(/\s+/g, ' ').startsWith(huge.slice(0, 5000).replace(/\s+/g, ' ').trim())).toBe(true);

    // An answer that fits is not cut, even at exactly the cap.
    const fits = finalAnswerParts(ok('short answer'), 'short answer', { ...layout, maxMessages: 1 });
    expect(fits).toEqual(['short answer\n-# gemini-2.5-flash · 1.5 s']);
  });

  it('an answer Gemini stopped at its token budget says so too', () => {
    const parts = finalAnswerParts({ ...ok('The first half'), finishReason: 'MAX_TOKENS' }, 'The first half');
    expect(parts).toEqual(['The first half\n✂️ *The answer was cut here: it reached the length limit.*\n-# gemini-2.5-flash · 1.5 s']);
  });

  it('a failure after a long partial answer stays within the cap and still gives the reason', () => {
    const partial = 'Some words of a long answer. '.repeat(2000);
    const fail: PoolResult = { ok: false, attempts: 1, model: 'm', error: { kind: 'timeout', message: 'x' }, partialText: partial };
    const parts = finalAnswerParts(fail, partial, { maxChars: ANSWER_CHARS, maxMessages: 3 });
    expect(parts).toHaveLength(3);
    for (const p of parts) expect(p.length).toBeLessThanOrEqual(2000);
    expect(parts[2]).toMatch(/⚠️ The answer was cut off\. ⌛ Gemini took too long/);
  });

  it('asks Gemini for no more tokens than the messages show, plus room to think', () => {
    // 5 messages of 1,900 characters at 3 characters a token, plus 8,192 thinking tokens.
    expect(answerTokenBudget(5)).toBe(Math.ceil((5 * 1900) / 3) + 8192);
    expect(answerTokenBudget(1)).toBeLessThan(answerTokenBudget(5));
  });

  it('sources go above the footer, or into one more message with it when the last is full', () => {
    const sources = [
      { title: 'A', uri: 'https://a.example/x' },
      { title: 'bad', uri: 'javascript:alert(1)' },
      { title: 'B', uri: 'https://b.example/y' },
    ];
    expect(finalAnswerParts({ ...ok('Short.'), sources }, 'Short.')).toEqual([
      'Short.\n-# [1] [A](<https://a.example/x>)\n-# [2] [B](<https://b.example/y>)\n-# gemini-2.5-flash · 1.5 s',
    ]);
    const full = 'word '.repeat(380).trim();
    const long = [{ title: 'A page with a long address', uri: `https://a.example/${'x'.repeat(100)}` }];
    const parts = finalAnswerParts({ ...ok(full), sources: long }, full);
    expect(parts).toEqual([full, `-# [1] [A page with a long address](<${long[0]!.uri}>)\n-# gemini-2.5-flash · 1.5 s`]);
  });

  it('a placeholder shows only when no text came in time, and never over text', async () => {
    const run = async (firstChunkAfterMs: number) => {
      const clock = new VirtualClock();
      const sink = recordingSink(false, clock);
      const chunks = timed(['Hello', ' world'], firstChunkAfterMs, clock);
      const stream = Object.assign(chunks, { result: Promise.resolve(ok('Hello world')) });
      await clock.run(streamAnswer(stream, sink, { editIntervalMs: 100, clock, placeholder: { text: '💭 Thinking…', afterMs: 250 } }));
      return sink.writes.map((w) => `${w.at} ${w.op} ${w.content.split('\n')[0]}`);
    };
    expect(await run(400)).toEqual(['250 create 💭 Thinking…', '400 edit Hello', '800 edit Hello world', '900 edit Hello world']);
    const quick = await run(100);
    expect(quick.some((w) => w.includes('Thinking'))).toBe(false);
    expect(quick[0]).toBe('100 create Hello');
  });
});
