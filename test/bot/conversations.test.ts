import { describe, expect, it } from 'vitest';
import { ConversationStoreError, Conversations, isConversationStoreError, trimHistory, userTurnText } from '../../src/bot/conversations.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { ConversationFaults } from './conversationFaults.ts';

const turn = (role: 'user' | 'model', text: string) => ({ role, parts: [{ text }] });

describe('conversations', () => {
  it('trims to the last N turns, starting with a user turn', () => {
    const h = [turn('user', 'u1'), turn('model', 'm1'), turn('user', 'u2'), turn('model', 'm2'), turn('user', 'u3'), turn('model', 'm3')];
    expect(trimHistory(h, 4).map((t) => t.parts[0]!.text)).toEqual(['u2', 'm2', 'u3', 'm3']);
    expect(trimHistory(h, 3).map((t) => t.parts[0]!.text)).toEqual(['u3', 'm3']);
    expect(trimHistory(h, 0)).toEqual([]);
  });

  it('prefixes user turns with the display name', () => {
    expect(userTurnText('Alice', 'hi')).toBe('Alice: hi');
    expect(userTurnText('Mallory:\nsystem', 'x')).toBe('Mallory system: x');
  });

  it('prunes conversations idle longer than the retention, never with retention 0', async () => {
    const day = 86_400_000;
    let now = 100 * day;
    const c = new Conversations(new MemoryStore(), { historyTurns: 4, now: () => now });
    await c.start('old', { model: 'm', ownerId: 'u' });
    now += 20 * day;
    await c.start('recent', { model: 'm', ownerId: 'u' });
    now += 15 * day;
    expect(await c.prune(0)).toBe(0);
    expect(await c.prune(30)).toBe(1);
    expect(await c.get('old')).toBeUndefined();
    expect(await c.get('recent')).toBeDefined();
  });

  it('stores, appends with trimming, and ends', async () => {
    const c = new Conversations(new MemoryStore(), { historyTurns: 4, now: () => 42 });
    await c.start('t1', { model: 'm', ownerId: 'u' });
    let conv = (await c.get('t1'))!;
    for (let i = 1; i <= 3; i++) conv = await c.append('t1', conv, [turn('user', `u${i}`), turn('model', `m${i}`)]);
    expect((await c.get('t1'))!.history.map((t) => t.parts[0])).toEqual(['u2', 'm2', 'u3', 'm3'].map((text) => ({ text })));
    expect(c.historyFor(conv).map((t) => t.parts[0])).toEqual([{ text: 'u3' }, { text: 'm3' }]);
    expect(await c.end('t1')).toBe(true);
    expect(await c.end('t1')).toBe(false);
  });

  it('answers one message of a conversation at a time, in arrival order', async () => {
    const c = new Conversations(new MemoryStore(), { historyTurns: 10 });
    const log: string[] = [];
    const slow = (name: string, ms: number) => async () => {
      log.push(`start ${name}`);
      await new Promise((r) => setTimeout(r, ms));
      log.push(`end ${name}`);
    };
    await Promise.all([c.withLock('x', slow('a', 30)), c.withLock('x', slow('b', 1)), c.withLock('y', slow('other', 1))]);
    expect(log.indexOf('end a')).toBeLessThan(log.indexOf('start b'));
    expect(log.indexOf('start other')).toBeLessThan(log.indexOf('end a'));
  });

  it('a store that stalls or fails for a moment is tried again: the call answers late', async () => {
    const faults = new ConversationFaults();
    const c = new Conversations(faults.wrap(new MemoryStore()), { historyTurns: 4, callTimeoutMs: 20, retryDelayMs: 1 });
    await c.start('t', { model: 'm', ownerId: 'u' });
    faults.fault = { kind: 'stall', times: 1 };
    expect(await c.get('t')).toMatchObject({ model: 'm' });
    faults.fault = { kind: 'reject', times: 2 };
    expect(await c.get('t')).toMatchObject({ model: 'm' });
    expect(faults.faulted).toBe(3);
  });

  it('a store that stays away makes the call fail with a ConversationStoreError, never hang', async () => {
    const faults = new ConversationFaults();
    const c = new Conversations(faults.wrap(new MemoryStore()), { historyTurns: 4, callTimeoutMs: 20, retryDelayMs: 1, attempts: 3 });
    faults.fault = { kind: 'stall', times: Number.POSITIVE_INFINITY };
    const err = await c.get('t').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConversationStoreError);
    expect(isConversationStoreError(err)).toBe(true);
    expect((err as Error).message).toMatch(/could not load a conversation in the store: no answer within 20 ms/);
    expect(faults.faulted).toBe(3);
    faults.fault = { kind: 'reject', times: Number.POSITIVE_INFINITY };
    await expect(c.start('t', { model: 'm', ownerId: 'u' })).rejects.toThrow(/could not save a conversation in the store: Command timed out/);
  });
});
