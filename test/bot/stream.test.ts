import { describe, expect, it } from 'vitest';
import { ANSWER_CHARS, LiveMessages, finalAnswerParts, pumpStream, type AnswerSink } from '../../src/bot/stream.ts';
import type { PoolResult } from '../../src/pool/types.ts';

interface Write {
  at: number;
  op: 'create' | 'edit';
  index: number;
  content: string;
}

function recordingSink(firstExists: boolean): AnswerSink & { writes: Write[]; messages: string[] } {
  const writes: Write[] = [];
  const messages: string[] = [];
  return {
    firstExists,
    writes,
    messages,
    async create(index, content) {
      expect(index).toBe(messages.length);
      writes.push({ at: Date.now(), op: 'create', index, content });
      messages[index] = content;
    },
    async edit(index, content) {
      writes.push({ at: Date.now(), op: 'edit', index, content });
      messages[index] = content;
    },
  };
}

async function* timed(chunks: string[], everyMs: number): AsyncGenerator<string> {
  for (const c of chunks) {
    await new Promise((r) => setTimeout(r, everyMs));
    yield c;
  }
}

const ok = (text: string): PoolResult => ({
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
    const sink = recordingSink(true);
    const live = new LiveMessages(sink, { editIntervalMs: 100 });
    const chunks = Array.from({ length: 25 }, (_, i) => `word${i} `);
    const text = await pumpStream(timed(chunks, 20), live, { editIntervalMs: 100 });
    await live.show(finalAnswerParts(ok(text), text));
    expect(text).toBe(chunks.join(''));
    const edits = sink.writes.filter((w) => w.index === 0);
    expect(edits.length).toBeGreaterThan(2);
    expect(edits.length).toBeLessThanOrEqual(9);
    for (let i = 1; i < edits.length; i++) expect(edits[i]!.at - edits[i - 1]!.at).toBeGreaterThanOrEqual(95);
    expect(sink.messages[0]).toBe(`${text.trim()}\n-# gemini-2.5-flash · 1.5 s`);
  });

  it('rolls over into new messages past the limit, in order, each under 2000 characters', async () => {
    const sink = recordingSink(true);
    const live = new LiveMessages(sink, { editIntervalMs: 30 });
    const paragraph = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(6);
    const chunks = Array.from({ length: 30 }, (_, i) => `${i}. ${paragraph}\n\n`);
    const text = await pumpStream(timed(chunks, 3), live, { editIntervalMs: 30 });
    await live.show(finalAnswerParts(ok(text), text));
    expect(sink.messages.length).toBeGreaterThan(4);
    for (const m of sink.messages) expect(m.length).toBeLessThanOrEqual(2000);
    expect(sink.messages.join('\n\n').replace(/\n-# .*$/, '').replace(/\s+/g, ' ').trim()).toBe(text.replace(/\s+/g, ' ').trim());
    // Created strictly in order, and each earlier message is edited at most a few times.
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
    const sink = recordingSink(false);
    const live = new LiveMessages(sink, { editIntervalMs: 10 });
    await live.show(['a']);
    await live.show(['a']);
    await live.show(['a', 'b']);
    expect(sink.writes.map((w) => `${w.op}${w.index}`)).toEqual(['create0', 'create1']);
  });
});
