import { describe, expect, it } from 'vitest';
import { Conversations, trimHistory, userTurnText } from '../../src/bot/conversations.ts';
import type { ChatTurn } from '../../src/pool/types.ts';
import { MemoryStore } from '../../src/store/memory.ts';

const turn = (role: 'user' | 'model', text: string): ChatTurn => ({ role, parts: [{ text }] });

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
    expect((await c.get('t1'))!.history.map((t) => t.parts[0]!.text)).toEqual(['u2', 'm2', 'u3', 'm3']);
    expect(c.historyFor(conv).map((t) => t.parts[0]!.text)).toEqual(['u3', 'm3']);
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
});
