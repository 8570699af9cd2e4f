import { describe, expect, it } from 'vitest';
import { admit, refusal } from '../../src/bot/admission.ts';
import { RequestGate } from '../../src/bot/gate.ts';
import type { BotContext } from '../../src/bot/types.ts';

const ADMIN = '1';

/** The parts of a bot context admission reads, and the refusals it counted. */
function context(options: { stopping?: boolean; maxQueued?: number } = {}) {
  const observed: Array<{ command: string; model: string; outcome: string }> = [];
  const ctx = {
    config: { bot: { maxPromptChars: 10 }, gemini: { models: ['m1', 'm2'] } },
    // The pool also serves an embedding model, which the bot does not offer.
    pool: { models: ['m1', 'm2', 'embedding-1'], defaultModel: 'm1' },
    gate: new RequestGate({ maxConcurrent: 1, maxQueued: options.maxQueued ?? 0 }),
    metrics: { observe: (o: { command: string; model: string; outcome: string }) => observed.push({ command: o.command, model: o.model, outcome: o.outcome }) },
    isAdmin: (who: { userId: string }) => who.userId === ADMIN,
    lifecycle: { stopping: options.stopping ?? false, signal: new AbortController().signal },
  } as unknown as BotContext;
  return { ctx, observed };
}

describe('admission', () => {
  it('refuses in one order: stopping, not an admin, prompt too long, model not served', () => {
    const { ctx } = context({ stopping: true });
    expect(refusal(ctx, { userId: '2', admin: null, prompt: 'x'.repeat(11), model: 'nope' })).toEqual({ kind: 'shutting_down' });
    const open = context().ctx;
    expect(refusal(open, { userId: '2', admin: null, prompt: 'x'.repeat(11), model: 'nope' })).toEqual({ kind: 'not_admin' });
    expect(refusal(open, { userId: ADMIN, admin: null, prompt: 'x'.repeat(11), model: 'nope' })).toEqual({
      kind: 'prompt_too_long',
      promptChars: 11,
      maxPromptChars: 10,
    });
    expect(refusal(open, { userId: '2', prompt: 'short', model: 'nope' })).toEqual({
      kind: 'bad_request',
      message: 'model nope is not served here (available: m1, m2)',
    });
    expect(refusal(open, { userId: '2', prompt: 'x'.repeat(10), model: 'm2' })).toBeUndefined();
    expect(refusal(open, { userId: '2', prompt: 'short', model: 'embedding-1' })).toEqual({
      kind: 'bad_request',
      message: 'model embedding-1 is not served here (available: m1, m2)',
    });
  });

  it('admits Gemini work through the gate: one request per user, a bounded line; refusals are counted', () => {
    const { ctx, observed } = context();
    const first = admit(ctx, 'ask', { userId: 'a', prompt: 'hi' });
    expect(first.ok).toBe(true);
    expect(admit(ctx, 'chat', { userId: 'a', prompt: 'again' })).toEqual({ ok: false, failure: { kind: 'busy' } });
    expect(admit(ctx, 'ask', { userId: 'b', prompt: 'hi', model: 'm2' })).toEqual({ ok: false, failure: { kind: 'queue_full' } });
    // A refusal before the gate takes no slot; a model typed by a user is not a metric label.
    expect(admit(ctx, 'ask', { userId: 'c', prompt: 'hi', model: 'typed by a user' })).toMatchObject({ ok: false, failure: { kind: 'bad_request' } });
    expect(observed).toEqual([
      { command: 'chat', model: 'm1', outcome: 'busy' },
      { command: 'ask', model: 'm2', outcome: 'queue_full' },
      { command: 'ask', model: 'unknown', outcome: 'bad_request' },
    ]);
    if (first.ok) first.ticket.release();
    expect(admit(ctx, 'ask', { userId: 'b', prompt: 'hi' }).ok).toBe(true);
  });

  it('while stopping, nothing reaches the gate', () => {
    const { ctx } = context({ stopping: true });
    expect(admit(ctx, 'ask', { userId: 'a', prompt: 'hi' })).toEqual({ ok: false, failure: { kind: 'shutting_down' } });
    expect(ctx.gate.inFlight).toBe(0);
  });
});
