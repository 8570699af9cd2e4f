import { describe, expect, it } from 'vitest';
import { KeyRing } from '../../src/pool/keys.ts';
import { KeyStates, type StateChange } from '../../src/pool/keyStates.ts';

const M = 'gemini-2.5-flash';
const NOW = 1_000_000;
const MAX = 600_000;

/** key#1 and key#2 share project p; key#3 is its own project. */
function setup() {
  const ring = new KeyRing(['p:test-key-1', 'p:test-key-2', 'test-key-3']);
  const states = new KeyStates(ring.keys, MAX);
  const changes: StateChange[] = [];
  states.onChange((c) => changes.push(c));
  return { states, changes };
}
const cooling = (until: number, kind: 'rate_limited' | 'transient' | 'quota_exhausted' = 'rate_limited') => ({ status: 'cooling' as const, until, reason: 'r', kind });

describe('KeyStates', () => {
  it('a project cooldown takes every key of the project for that model only, and is told once', () => {
    const { states, changes } = setup();
    expect(states.cool('group', 0, M, cooling(NOW + 1000), NOW, 'local')).toBe(true);
    expect([0, 1, 2].map((i) => states.usable(i, M, NOW))).toEqual([false, false, true]);
    expect(states.usable(0, 'other-model', NOW)).toBe(true);
    expect(states.usable(0, M, NOW + 1000)).toBe(true);
    expect(changes).toEqual([{ type: 'cooling', scope: 'group', by: 0, keys: [0, 1], model: M, cooling: cooling(NOW + 1000), source: 'local', capped: false }]);
  });

  it('a shorter cooldown than the one in place changes nothing; a longer one replaces it', () => {
    const { states, changes } = setup();
    states.cool('group', 0, M, cooling(NOW + 1000), NOW, 'local');
    expect(states.cool('group', 1, M, cooling(NOW + 500), NOW, 'local')).toBe(false);
    expect(states.cool('group', 1, M, cooling(NOW + 2000), NOW, 'local')).toBe(true);
    expect(changes).toHaveLength(2);
    expect(states.state(0, M, NOW)).toMatchObject({ until: NOW + 2000 });
  });

  it('caps a cooldown from the store at the maximum and says so', () => {
    const { states, changes } = setup();
    states.cool('key', 2, M, cooling(NOW + 10 * MAX, 'transient'), NOW, 'stored');
    expect(states.state(2, M, NOW)).toMatchObject({ status: 'cooling', until: NOW + MAX });
    expect(changes[0]).toMatchObject({ type: 'cooling', scope: 'key', keys: [2], capped: true, source: 'stored' });
  });

  it('state: disabled first, else the longest live cooldown, else active', () => {
    const { states } = setup();
    states.cool('group', 0, M, cooling(NOW + 1000), NOW, 'local');
    states.cool('key', 0, M, cooling(NOW + 3000, 'transient'), NOW, 'local');
    expect(states.state(0, M, NOW)).toMatchObject({ kind: 'transient', until: NOW + 3000 });
    expect(states.state(1, M, NOW)).toMatchObject({ kind: 'rate_limited' });
    expect(states.state(1, M, NOW + 1000)).toEqual({ status: 'active' });
    states.disable('key', 0, { status: 'disabled', since: NOW, reason: 'bad', kind: 'auth' }, 'local');
    expect(states.state(0, M, NOW)).toMatchObject({ status: 'disabled', kind: 'auth' });
  });

  it('disable and enable: a project disable covers its keys; enabling one key brings back the others that are not disabled themselves', () => {
    const { states, changes } = setup();
    states.disable('key', 1, { status: 'disabled', since: NOW, reason: 'bad', kind: 'auth' }, 'local');
    states.disable('group', 0, { status: 'disabled', since: NOW, reason: 'no billing', kind: 'billing' }, 'local');
    expect(states.disable('group', 1, { status: 'disabled', since: NOW, reason: 'again', kind: 'billing' }, 'local')).toBe(false);
    expect(states.recheckTargets().sort()).toEqual([0, 1]);
    expect(states.enable(0, 'local')).toBe(true);
    expect(changes.at(-1)).toEqual({ type: 'enabled', keys: [0, 1], back: [0], source: 'local' });
    expect(states.usable(0, M, NOW)).toBe(true);
    expect(states.usable(1, M, NOW)).toBe(false);
    expect(states.anyDisabled).toBe(true);
    expect(states.enable(0, 'local')).toBe(false);
  });

  it('sweep ends what expired, tells it once, and does nothing before the next expiry', () => {
    const { states, changes } = setup();
    states.cool('group', 0, M, cooling(NOW + 1000), NOW, 'local');
    states.cool('key', 2, M, cooling(NOW + 5000, 'transient'), NOW, 'local');
    changes.length = 0;
    states.sweep(NOW + 999);
    expect(changes).toEqual([]);
    states.sweep(NOW + 1000);
    expect(changes).toEqual([{ type: 'ended', keys: [0, 1], model: M, cause: 'expired', source: 'local' }]);
    expect(states.nextExpiry).toBe(NOW + 5000);
  });

  it('clear ends a project cooldown for all its keys and resets its bare-429 streak; without projects only the key', () => {
    const { states, changes } = setup();
    states.cool('group', 0, M, cooling(NOW + 1000), NOW, 'local');
    states.setBareRateLimits(0, M, 3);
    states.clear([1], [M], 'local');
    expect(changes.at(-1)).toEqual({ type: 'ended', keys: [0, 1], model: M, cause: 'cleared', source: 'local' });
    expect(states.bareRateLimits(0, M)).toBe(0);
    states.cool('group', 0, M, cooling(NOW + 1000), NOW, 'local');
    states.clear([0, 1, 2], [M], 'local', 'reset', false);
    expect(states.usable(0, M, NOW)).toBe(false);
  });

  it('entries lists what a store should hold: each live state once, per key', () => {
    const { states } = setup();
    states.cool('group', 0, M, cooling(NOW + 1000), NOW, 'local');
    states.disable('key', 2, { status: 'disabled', since: NOW, reason: 'bad', kind: 'auth' }, 'local');
    expect([...states.entries(NOW)].map((e) => [e.keys, e.model, e.state.status])).toEqual([
      [[0, 1], M, 'cooling'],
      [[2], '*', 'disabled'],
    ]);
    expect([...states.entries(NOW + 1000)]).toHaveLength(1);
  });

  it('soft cooldowns (503s or timeouts of the key\'s own) are the key\'s, and give way together', () => {
    const { states, changes } = setup();
    const soft = (until: number, kind: 'overloaded' | 'timeout') => ({ status: 'cooling' as const, until, reason: 'r', kind });
    states.cool('key', 0, M, soft(NOW + 5_000, 'overloaded'), NOW, 'local');
    states.cool('key', 2, M, soft(NOW + 10_000, 'timeout'), NOW, 'local');
    states.cool('key', 1, M, cooling(NOW + 30_000, 'transient'), NOW, 'local');
    expect([0, 1, 2].map((i) => states.softCooling(i, M, NOW))).toEqual([true, false, true]);
    expect(states.softCooling(0, M, NOW + 5_000)).toBe(false);
    changes.length = 0;
    expect(states.releaseSoft('other-model', NOW)).toEqual([]);
    expect(states.releaseSoft(M, NOW)).toEqual([0, 2]);
    expect(changes).toEqual([{ type: 'ended', keys: [0, 2], model: M, cause: 'released', source: 'local' }]);
    // A cooldown after server errors is not soft: it stays.
    expect(states.state(1, M, NOW)).toMatchObject({ status: 'cooling', kind: 'transient' });
    expect(states.releaseSoft(M, NOW)).toEqual([]);
  });
});
