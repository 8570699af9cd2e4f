/**
 * The pool reading key states back from a store, which keeps the kind of failure as text:
 * a kind this code does not know (written by another version) still keeps the key out.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { GeminiAPIPool } from '../../src/pool/GeminiAPIPool.ts';
import { hashKey } from '../../src/pool/keys.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { TestClock } from '../helpers.ts';

const pools: GeminiAPIPool[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.close();
});

describe('the pool loading stored key states', () => {
  it('takes known kinds as they are, and an unknown one as a key-wide disable or a group cooldown', async () => {
    const clock = new TestClock();
    const store = new MemoryStore();
    const model = 'gemini-2.5-flash';
    await store.setKeyState(hashKey('test-key-1'), '*', { status: 'disabled', since: clock.t, reason: 'r1', kind: 'a-kind-of-the-future' });
    await store.setKeyState(hashKey('test-key-2'), model, { status: 'cooling', until: clock.t + 60_000, reason: 'r2', kind: 'another-one' });
    await store.setKeyState(hashKey('test-key-3'), model, { status: 'cooling', until: clock.t + 30_000, reason: 'r3', kind: 'transient' });
    const pool = new GeminiAPIPool({ keys: ['test-key-1', 'test-key-2', 'test-key-3', 'test-key-4'], models: [model], clock, timers: false });
    pools.push(pool);
    await pool.attachStore(store);
    expect(pool.keyState(0, model)).toEqual({ status: 'disabled', since: clock.t, reason: 'r1', kind: 'auth' });
    expect(pool.keyState(1, model)).toEqual({ status: 'cooling', until: clock.t + 60_000, reason: 'r2', kind: 'rate_limited' });
    expect(pool.keyState(2, model)).toEqual({ status: 'cooling', until: clock.t + 30_000, reason: 'r3', kind: 'transient' });
    expect(pool.keyState(3, model)).toEqual({ status: 'active' });
  });
});
