import { describe, expect, it } from 'vitest';
import { RequestGate } from '../../src/bot/gate.ts';

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

describe('RequestGate', () => {
  it('admits one request per user at a time', async () => {
    const gate = new RequestGate({ maxConcurrent: 2, maxQueued: 2 });
    const a = gate.admit('alice');
    expect(a.ok).toBe(true);
    expect(gate.admit('alice')).toEqual({ ok: false, reason: 'busy' });
    expect(gate.admit('bob').ok).toBe(true);
    if (!a.ok) throw new Error('unreachable');
    await a.ticket.run(async () => undefined);
    expect(gate.admit('alice').ok).toBe(true);
  });

  it('bounds running and waiting requests; the next one is refused at once', async () => {
    const gate = new RequestGate({ maxConcurrent: 1, maxQueued: 1 });
    const first = deferred();
    const a = gate.admit('a');
    const b = gate.admit('b');
    if (!a.ok || !b.ok) throw new Error('should be admitted');
    const runA = a.ticket.run(() => first.promise);
    const runB = b.ticket.run(async () => 'b done');
    expect(gate.running).toBe(1);
    expect(gate.waiting).toBe(1);
    expect(gate.admit('c')).toEqual({ ok: false, reason: 'queue_full' });
    first.resolve();
    await runA;
    expect(await runB).toBe('b done');
    expect(gate.inFlight).toBe(0);
    expect(gate.admit('c').ok).toBe(true);
  });

  it('with no waiting line, refuses as soon as every slot is busy', () => {
    const gate = new RequestGate({ maxConcurrent: 1, maxQueued: 0 });
    expect(gate.admit('a').ok).toBe(true);
    expect(gate.admit('b')).toEqual({ ok: false, reason: 'queue_full' });
  });

  it('release gives a slot back once, and a failing run still frees the user', async () => {
    const gate = new RequestGate({ maxConcurrent: 1, maxQueued: 0 });
    const a = gate.admit('a');
    if (!a.ok) throw new Error('unreachable');
    a.ticket.release();
    a.ticket.release();
    expect(gate.inFlight).toBe(0);
    const b = gate.admit('b');
    if (!b.ok) throw new Error('unreachable');
    await expect(b.ticket.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(gate.isBusy('b')).toBe(false);
  });

  it('validates its options', () => {
    expect(() => new RequestGate({ maxConcurrent: 0 })).toThrow(/maxConcurrent/);
    expect(() => new RequestGate({ maxQueued: -1 })).toThrow(/maxQueued/);
  });
});
