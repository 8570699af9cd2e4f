/**
 * The PoolStateStore contract: key states, counters and the channel between processes,
 * as the pool uses them.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isStoreRejectedError, isStoreUnavailableError } from '../../src/store/errors.ts';
import type { CounterDelta, CounterRow, PoolStateStore, StoredKeyState } from '../../src/store/types.ts';
import { waitFor, type StoreHarness } from './contract.ts';

const H1 = 'a1b2c3d4e5f60718';
const H2 = 'ffeeddccbbaa9988';
const H3 = '0011223344556677';

const delta = (over: Partial<CounterDelta> = {}): CounterDelta => ({
  keyHash: H1,
  model: 'gemini-2.5-flash',
  day: '2026-11-22',
  requests: 1,
  tokens: 10,
  usage: 1,
  errors: 0,
  latencyMs: 100,
  ...over,
});

const find = (rows: CounterRow[], keyHash: string, model: string): CounterRow | undefined =>
  rows.find((r) => r.keyHash === keyHash && r.model === model);

/** The pool's side: key states, counters, the channel between processes. */
export function describePoolStateStoreContract(name: string, makeStore: () => Promise<StoreHarness<PoolStateStore>>): void {
  describe(`PoolStateStore contract: ${name}`, () => {
    let h: StoreHarness<PoolStateStore>;
    let store: PoolStateStore;
    beforeEach(async () => {
      h = await makeStore();
      store = h.store;
    });
    afterEach(async () => {
      await h.close();
    });

    describe('key states', () => {
      it('has nothing for unknown keys or an empty list', async () => {
        expect((await store.loadKeyStates([H1, H2], Date.now())).size).toBe(0);
        expect((await store.loadKeyStates([], Date.now())).size).toBe(0);
      });

      it('stores cooling and disabled states per model and for the whole key', async () => {
        const t0 = Date.now();
        const cooling: StoredKeyState = { status: 'cooling', until: t0 + 60_000, reason: 'PerMinute quota', kind: 'rate_limited' };
        const disabled: StoredKeyState = { status: 'disabled', since: t0, reason: 'API_KEY_INVALID', kind: 'auth' };
        const day: StoredKeyState = { status: 'cooling', until: t0 + 3_600_000, reason: 'PerDay quota', kind: 'quota_exhausted' };
        await store.setKeyState(H1, 'gemini-2.5-flash', cooling);
        await store.setKeyState(H1, 'gemini-2.5-pro', day);
        await store.setKeyState(H2, '*', disabled);
        await store.setKeyState(H3, 'gemini-2.5-flash', cooling);

        const got = await store.loadKeyStates([H1, H2], t0);
        expect([...got.keys()].sort()).toEqual([H1, H2].sort());
        expect(Object.fromEntries(got.get(H1)!)).toEqual({ 'gemini-2.5-flash': cooling, 'gemini-2.5-pro': day });
        expect(Object.fromEntries(got.get(H2)!)).toEqual({ '*': disabled });
      });

      it('overwrites and clears a state; clearing nothing is fine', async () => {
        const t0 = Date.now();
        await store.setKeyState(H1, '*', { status: 'cooling', until: t0 + 60_000, reason: 'r', kind: 'transient' });
        const disabled: StoredKeyState = { status: 'disabled', since: t0 + 1, reason: 'CONSUMER_SUSPENDED', kind: 'auth' };
        await store.setKeyState(H1, '*', disabled);
        expect((await store.loadKeyStates([H1], t0)).get(H1)?.get('*')).toEqual(disabled);

        await store.setKeyState(H1, '*', null);
        expect((await store.loadKeyStates([H1], t0)).size).toBe(0);
        await store.setKeyState(H1, '*', null);
        await store.setKeyState(H2, 'nothing-here', null);
        expect((await store.loadKeyStates([H1, H2], t0)).size).toBe(0);
      });

      it('does not return a cooldown that has expired at `now`', async () => {
        const t0 = Date.now();
        const until = t0 + 60_000;
        await store.setKeyState(H1, 'm', { status: 'cooling', until, reason: 'r', kind: 'rate_limited' });
        await store.setKeyState(H1, '*', { status: 'disabled', since: t0, reason: 'r', kind: 'billing' });
        expect((await store.loadKeyStates([H1], until - 1)).get(H1)?.has('m')).toBe(true);
        const later = await store.loadKeyStates([H1], until);
        expect(later.get(H1)?.has('m')).toBe(false);
        // A disabled state never expires.
        expect(later.get(H1)?.get('*')?.status).toBe('disabled');
        expect((await store.loadKeyStates([H1], until + 86_400_000)).get(H1)?.get('*')?.status).toBe('disabled');
      });

      it('lets a short real cooldown run out', async () => {
        await store.setKeyState(H1, 'm', { status: 'cooling', until: Date.now() + 80, reason: 'r', kind: 'rate_limited' });
        expect((await store.loadKeyStates([H1], Date.now())).get(H1)?.has('m')).toBe(true);
        const gone = await waitFor(async () => (await store.loadKeyStates([H1], Date.now())).size === 0, 2_000);
        expect(gone).toBe(true);
      });

      it('does not call its own subscribe listeners for its own changes', async () => {
        const seen: unknown[] = [];
        const off = store.subscribe((c) => seen.push(c));
        await store.setKeyState(H1, '*', { status: 'disabled', since: Date.now(), reason: 'r', kind: 'auth' });
        if (h.peer) {
          // Changes arrive in the order they were made: once another process's later change
          // is here, our own would have arrived before it.
          await h.peer.setKeyState(H2, '*', null);
          expect(await waitFor(() => seen.length > 0, 2_000)).toBe(true);
          expect(seen).toEqual([{ keyHash: H2, model: '*', state: null }]);
        } else {
          // A local store has no channel that could deliver anything later.
          await new Promise((r) => setImmediate(r));
          expect(seen).toEqual([]);
        }
        off();
      });
    });

    describe('counters', () => {
      it('adds batches, summing several deltas of one row', async () => {
        await store.addCounters([delta(), delta({ model: 'gemini-2.5-pro', tokens: 5, latencyMs: 250.5 })]);
        await store.addCounters([delta({ errors: 1, usage: 1, latencyMs: 50 }), delta({ requests: 2, tokens: 20 })]);
        await store.addCounters([]);
        const rows = await store.loadCounters([H1], '2026-11-22');
        expect(rows).toHaveLength(2);
        expect(find(rows, H1, 'gemini-2.5-flash')).toEqual({
          keyHash: H1,
          model: 'gemini-2.5-flash',
          usage: 3,
          errors: 1,
          latencyMs: 250,
          day: '2026-11-22',
          requestsToday: 4,
          tokensToday: 40,
        });
        expect(find(rows, H1, 'gemini-2.5-pro')).toMatchObject({ usage: 1, latencyMs: 250.5, requestsToday: 1, tokensToday: 5 });
      });

      it('returns only the keys asked for', async () => {
        await store.addCounters([delta(), delta({ keyHash: H2 }), delta({ keyHash: H3, model: '*' })]);
        const rows = await store.loadCounters([H1, H2], '2026-11-22');
        expect(rows.map((r) => r.keyHash).sort()).toEqual([H1, H2].sort());
        expect(await store.loadCounters([], '2026-11-22')).toEqual([]);
        expect(await store.loadCounters(['unknown'], '2026-11-22')).toEqual([]);
      });

      it("reports today's fields as zero when the stored day is not the day asked", async () => {
        await store.addCounters([delta({ requests: 7, tokens: 70, usage: 7 })]);
        const row = find(await store.loadCounters([H1], '2026-11-23'), H1, 'gemini-2.5-flash');
        expect(row).toMatchObject({ usage: 7, day: '2026-11-23', requestsToday: 0, tokensToday: 0 });
      });

      it('starts a new day at the delta while cumulative fields keep adding', async () => {
        await store.addCounters([delta({ requests: 5, tokens: 50, usage: 5, errors: 1, latencyMs: 500 })]);
        await store.addCounters([delta({ day: '2026-11-23', requests: 2, tokens: 20, usage: 2, errors: 1, latencyMs: 200 })]);
        const row = find(await store.loadCounters([H1], '2026-11-23'), H1, 'gemini-2.5-flash');
        expect(row).toEqual({
          keyHash: H1,
          model: 'gemini-2.5-flash',
          usage: 7,
          errors: 2,
          latencyMs: 700,
          day: '2026-11-23',
          requestsToday: 2,
          tokensToday: 20,
        });
        await store.addCounters([delta({ day: '2026-11-23', requests: 1, tokens: 1, usage: 1 })]);
        expect(find(await store.loadCounters([H1], '2026-11-23'), H1, 'gemini-2.5-flash')).toMatchObject({
          usage: 8,
          requestsToday: 3,
          tokensToday: 21,
        });
      });

      it("never lets a late delta of an older day overwrite today's counts", async () => {
        await store.addCounters([delta({ day: '2026-11-23', requests: 4, tokens: 40, usage: 4 })]);
        await store.addCounters([delta({ day: '2026-11-22', requests: 9, tokens: 90, usage: 9 })]);
        expect(find(await store.loadCounters([H1], '2026-11-23'), H1, 'gemini-2.5-flash')).toMatchObject({
          usage: 13,
          requestsToday: 4,
          tokensToday: 40,
        });
      });

      it("resets cumulative usage, errors and latency but keeps today's counts", async () => {
        await store.addCounters([delta({ usage: 3, errors: 2, latencyMs: 900, requests: 3, tokens: 30 }), delta({ keyHash: H2 })]);
        await store.resetCounters();
        const rows = await store.loadCounters([H1, H2], '2026-11-22');
        expect(find(rows, H1, 'gemini-2.5-flash')).toEqual({
          keyHash: H1,
          model: 'gemini-2.5-flash',
          usage: 0,
          errors: 0,
          latencyMs: 0,
          day: '2026-11-22',
          requestsToday: 3,
          tokensToday: 30,
        });
        expect(find(rows, H2, 'gemini-2.5-flash')).toMatchObject({ usage: 0, requestsToday: 1 });
        await store.addCounters([delta({ usage: 1, errors: 1, latencyMs: 10 })]);
        expect(find(await store.loadCounters([H1], '2026-11-22'), H1, 'gemini-2.5-flash')).toMatchObject({
          usage: 1,
          errors: 1,
          latencyMs: 10,
          requestsToday: 4,
        });
      });

      it('loses no increment when batches run concurrently', async () => {
        const batches = Array.from({ length: 20 }, (_, i) => [
          delta({ model: 'a' }),
          delta({ model: 'b', keyHash: i % 2 === 0 ? H1 : H2 }),
        ]);
        await Promise.all(batches.map((b) => store.addCounters(b)));
        const rows = await store.loadCounters([H1, H2], '2026-11-22');
        expect(find(rows, H1, 'a')).toMatchObject({ usage: 20, requestsToday: 20, tokensToday: 200, latencyMs: 2000 });
        expect(find(rows, H1, 'b')?.usage).toBe(10);
        expect(find(rows, H2, 'b')?.usage).toBe(10);
      });
    });

    describe('raising counters (writing back what a process knows)', () => {
      const row = (over: Partial<CounterRow> = {}): CounterRow => ({
        keyHash: H1,
        model: 'gemini-2.5-flash',
        usage: 5,
        errors: 1,
        latencyMs: 500.5,
        day: '2026-11-22',
        requestsToday: 5,
        tokensToday: 50,
        ...over,
      });

      it('writes rows the store does not have', async () => {
        await store.raiseCounters([row(), row({ keyHash: H2, model: 'gemini-2.5-pro', requestsToday: 2 })]);
        await store.raiseCounters([]);
        const rows = await store.loadCounters([H1, H2], '2026-11-22');
        expect(find(rows, H1, 'gemini-2.5-flash')).toEqual(row());
        expect(find(rows, H2, 'gemini-2.5-pro')).toEqual(row({ keyHash: H2, model: 'gemini-2.5-pro', requestsToday: 2 }));
      });

      it('raises each field to at least the value given and never lowers one', async () => {
        await store.addCounters([delta({ requests: 8, tokens: 20, usage: 3, errors: 2, latencyMs: 100 })]);
        await store.raiseCounters([row()]);
        expect(find(await store.loadCounters([H1], '2026-11-22'), H1, 'gemini-2.5-flash')).toEqual({
          ...row(),
          usage: 5,
          errors: 2,
          latencyMs: 500.5,
          requestsToday: 8,
          tokensToday: 50,
        });
        // Raising again to the same values changes nothing: nothing is counted twice.
        await store.raiseCounters([row()]);
        expect(find(await store.loadCounters([H1], '2026-11-22'), H1, 'gemini-2.5-flash')).toMatchObject({ usage: 5, requestsToday: 8, tokensToday: 50 });
        // And increments still add on top.
        await store.addCounters([delta()]);
        expect(find(await store.loadCounters([H1], '2026-11-22'), H1, 'gemini-2.5-flash')).toMatchObject({ usage: 6, requestsToday: 9, tokensToday: 60 });
      });

      it("follows the day: a newer day's row replaces today's fields, an older day's leaves them", async () => {
        await store.addCounters([delta({ requests: 9, tokens: 90 })]);
        await store.raiseCounters([row({ day: '2026-11-23', requestsToday: 2, tokensToday: 20 })]);
        expect(find(await store.loadCounters([H1], '2026-11-23'), H1, 'gemini-2.5-flash')).toMatchObject({ requestsToday: 2, tokensToday: 20 });
        await store.raiseCounters([row({ day: '2026-11-22', requestsToday: 99, tokensToday: 990 })]);
        expect(find(await store.loadCounters([H1], '2026-11-23'), H1, 'gemini-2.5-flash')).toMatchObject({ requestsToday: 2, tokensToday: 20 });
      });

      it('refuses rows that are not counts, writing none of them', async () => {
        const err = await store
          .raiseCounters([row({ keyHash: H2 }), row({ tokensToday: '8' as unknown as number })])
          .then(() => undefined, (e: unknown) => e);
        expect(isStoreRejectedError(err)).toBe(true);
        expect((err as Error).message).toMatch(/row 2 of 2: tokensToday must be a non-negative integer/);
        expect(await store.loadCounters([H1, H2], '2026-11-22')).toEqual([]);
      });
    });

    describe('counter batches that are not counts', () => {
      // What a token count that arrived as a string, or a NaN from a division, looks like.
      const bad: Array<[string, Partial<Record<keyof CounterDelta, unknown>>, RegExp]> = [
        ['tokens as a string', { tokens: '8' }, /delta 2 of 2: tokens must be a non-negative integer \(got string "8"\)/],
        ['requests NaN', { requests: Number.NaN }, /requests must be a non-negative integer \(got NaN\)/],
        ['usage negative', { usage: -1 }, /usage must be a non-negative integer \(got -1\)/],
        ['errors with a fraction', { errors: 0.5 }, /errors must be a non-negative integer/],
        ['latency infinite', { latencyMs: Number.POSITIVE_INFINITY }, /latencyMs must be a finite number >= 0/],
        ['latency as a string', { latencyMs: '12' }, /latencyMs must be a finite number >= 0 \(got string "12"\)/],
        ['a day that is not a day', { day: '2026-11-22\u0000x' }, /day must be YYYY-MM-DD/],
        ['no key hash', { keyHash: '' }, /keyHash must be a non-empty string/],
      ];
      it.each(bad)('refuses the whole batch, writing none of it: %s', async (_name, over, message) => {
        await store.addCounters([delta({ requests: 2 })]);
        const err = await store
          .addCounters([delta({ keyHash: H2 }), { ...delta(), ...over } as CounterDelta])
          .then(() => undefined, (e: unknown) => e);
        expect(isStoreRejectedError(err)).toBe(true);
        // A refusal is not an outage: the caller must not keep it to try again.
        expect(isStoreUnavailableError(err)).toBe(false);
        expect((err as Error).message).toMatch(message);
        expect(await store.loadCounters([H1, H2], '2026-11-22')).toEqual([
          { keyHash: H1, model: 'gemini-2.5-flash', usage: 1, errors: 0, latencyMs: 100, day: '2026-11-22', requestsToday: 2, tokensToday: 10 },
        ]);
        // The store still takes a good batch afterwards.
        await store.addCounters([delta()]);
        expect(find(await store.loadCounters([H1], '2026-11-22'), H1, 'gemini-2.5-flash')?.requestsToday).toBe(3);
      });
    });

    describe('privacy', () => {
      it('stores the key hash it is given and nothing that looks like the key', async () => {
        const secret = ['AIza', 'SyD-this-is-a-fake-key-0123456789'].join(''); // key-shaped, obviously fake
        const hash = 'deadbeefcafef00d1234';
        const t0 = Date.now();
        await store.setKeyState(hash, '*', { status: 'disabled', since: t0, reason: 'API_KEY_INVALID', kind: 'auth' });
        await store.setKeyState(hash, 'gemini-2.5-flash', { status: 'cooling', until: t0 + 60_000, reason: 'r', kind: 'rate_limited' });
        await store.addCounters([delta({ keyHash: hash })]);
        expect((await store.loadKeyStates([hash], t0)).get(hash)?.size).toBe(2);
        expect(find(await store.loadCounters([hash], '2026-11-22'), hash, 'gemini-2.5-flash')?.usage).toBe(1);
        if (h.rawDump) {
          const dump = await h.rawDump();
          expect(dump).toContain(hash);
          expect(dump).not.toContain(secret);
          expect(dump).not.toMatch(/AIza[0-9A-Za-z_-]{10,}/);
        }
      });
    });
  });
}
