/**
 * Keys while the pool runs: added ones are used at once and get new ids, removed ones are
 * never picked again, a key disabled by hand stays disabled through re-checks and restarts,
 * and a watched list of keys brings every pool in step.
 */
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory.ts';
import { TestClock } from '../helpers.ts';
import { poolFixture } from './fixture.ts';

const MODEL = 'gemini-2.5-flash';
const setup = poolFixture(() => new TestClock(), { keys: ['test-key-1', 'test-key-2'], models: [MODEL], poolSize: 5 });

describe('adding and removing keys while the pool runs', () => {
  it('an added key gets the next id, takes an instance and serves; a removed one is never picked again', async () => {
    const { pool, fake } = await setup();
    const added: unknown[] = [];
    const removed: unknown[] = [];
    pool.on('keyAdded', (e) => added.push(e));
    pool.on('keyRemoved', (e) => removed.push(e));
    const k = await pool.addKey({ key: 'test-key-3', group: 'proj-c' });
    expect(k).toMatchObject({ id: 'key#3', hint: 'ey-3', groupLabel: 'proj-c', source: 'added' });
    expect(added).toEqual([{ keyId: 'key#3', hint: 'ey-3', group: 'proj-c' }]);
    expect(pool.getPoolStats().models[MODEL]!.keyDistribution['key#3']).toBe(1);
    // The new key has no usage: the health strategy sends it the next request.
    const r = await pool.generateContent({ prompt: 'hi' });
    expect(r.ok && r.keyId).toBe('key#3');
    expect(fake.requestsFor('test-key-3')).toHaveLength(1);
    expect(pool.getKeyStats().keys.map((s) => [s.id, s.added ?? false])).toEqual([['key#1', false], ['key#2', false], ['key#3', true]]);
    await expect(pool.addKey('test-key-3')).rejects.toThrow(/already in the pool as key#3/);

    expect(pool.removeKey(2)).toBe(true);
    expect(removed).toEqual([{ keyId: 'key#3' }]);
    expect(pool.keys.map((x) => x.id)).toEqual(['key#1', 'key#2']);
    expect(pool.getPoolStats().models[MODEL]!.keyDistribution['key#3']).toBeUndefined();
    const before = fake.requestsFor('test-key-3').length;
    for (let i = 0; i < 6; i++) expect((await pool.generateContent({ prompt: `x${i}` })).ok).toBe(true);
    expect(fake.requestsFor('test-key-3')).toHaveLength(before);
    await expect(pool.checkKey(2)).rejects.toThrow(RangeError);
    // Added again, it is a new key: ids are never reused.
    expect((await pool.addKey('test-key-3')).id).toBe('key#4');
    expect(() => pool.removeKey(0)).not.toThrow();
    expect(() => pool.removeKey(1)).not.toThrow();
    expect(() => pool.removeKey(3)).toThrow(/last key in use/);
  });

  it('a key disabled by hand is avoided, survives a passing re-check and a restart, and only enableKey brings it back', async () => {
    const { pool, fake } = await setup();
    const store = new MemoryStore();
    await pool.attachStore(store);
    const disabled: unknown[] = [];
    pool.on('keyDisabled', (e) => disabled.push(e));
    expect(pool.disableKey(0)).toBe(true);
    expect(pool.disableKey(0)).toBe(false);
    expect(disabled).toEqual([{ keyId: 'key#1', keyIds: ['key#1'], reason: 'disabled by an operator', kind: 'auth' }]);
    const stats = pool.getKeyStats().keys[0]!;
    expect(stats).toMatchObject({ state: 'disabled', disabledReason: 'disabled by an operator', disabledByOperator: true });
    for (let i = 0; i < 4; i++) expect((await pool.generateContent({ prompt: `p${i}` })).ok).toBe(true);
    expect(fake.requestsFor('test-key-1')).toHaveLength(0);

    // The key answers a check, yet stays disabled: an operator decided.
    await pool.recheckDisabledKeys();
    expect(fake.requestsFor('test-key-1')).toHaveLength(0);
    expect((await pool.checkKey(0)).ok).toBe(true);
    expect(pool.keyState(0, MODEL).status).toBe('disabled');
    await pool.flush();
    expect((await store.loadKeyStates([pool.keys[0]!.hash], Date.now())).get(pool.keys[0]!.hash)?.get('*')).toMatchObject({ status: 'disabled', kind: 'manual' });

    // A second process on the same store reads it as disabled by hand too.
    const { GeminiAPIPool } = await import('../../src/pool/GeminiAPIPool.ts');
    const other = new GeminiAPIPool({ keys: ['test-key-1', 'test-key-2'], models: [MODEL], baseUrl: fake.url, timers: false });
    try {
      await other.attachStore(store);
      expect(other.getKeyStats().keys[0]).toMatchObject({ state: 'disabled', disabledByOperator: true });
      await other.recheckDisabledKeys();
      expect(other.keyState(0, MODEL).status).toBe('disabled');
    } finally {
      await other.close();
    }

    expect(pool.enableKey(0)).toBe(true);
    expect(pool.keyState(0, MODEL).status).toBe('active');
    expect(pool.enableKey(0)).toBe(false);
  });

  it('a disable by hand replaces a disable for auth, so a re-check no longer lifts it', async () => {
    const { pool, fake } = await setup({ fake: { keys: [{ key: 'test-key-1', status: 'invalid' }] } });
    await pool.checkKey(0);
    expect(pool.getKeyStats().keys[0]).toMatchObject({ state: 'disabled' });
    expect(pool.getKeyStats().keys[0]!.disabledByOperator).toBeUndefined();
    expect(pool.disableKey(0)).toBe(true);
    fake.setKey({ key: 'test-key-1', status: 'valid' });
    await pool.recheckDisabledKeys();
    expect(pool.getKeyStats().keys[0]).toMatchObject({ state: 'disabled', disabledByOperator: true });
  });

  it('probeKey checks a key that is not in the pool and changes nothing', async () => {
    const { pool } = await setup({ fake: { keys: [{ key: 'test-key-bad', status: 'invalid' }] } });
    const bad = await pool.probeKey('test-key-bad');
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.error.kind).toBe('auth');
    expect(JSON.stringify(bad)).not.toContain('test-key-bad');
    expect((await pool.probeKey('test-key-9')).ok).toBe(true);
    expect(pool.keys).toHaveLength(2);
    expect(pool.getKeyStats().totals).toMatchObject({ keys: 2, active: 2, disabled: 0 });
  });

  it('watchKeys follows a list: what it lists joins, what leaves it goes, keys of the configuration stay', async () => {
    const { pool } = await setup();
    let listed = [{ key: 'test-key-5' }, { key: 'test-key-6', group: 'p6' }];
    await pool.watchKeys(async () => listed, 10_000);
    expect(pool.keys.map((k) => [k.id, k.source])).toEqual([['key#1', 'config'], ['key#2', 'config'], ['key#3', 'added'], ['key#4', 'added']]);
    listed = [{ key: 'test-key-6', group: 'p6' }, { key: 'test-key-1' }];
    await pool.syncKeys();
    expect(pool.keys.map((k) => k.id)).toEqual(['key#1', 'key#2', 'key#4']);
    listed = [];
    await pool.syncKeys();
    expect(pool.keys.map((k) => k.id)).toEqual(['key#1', 'key#2']);
  });
});
