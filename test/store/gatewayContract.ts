/**
 * The GatewayStore contract: client tokens, client usage and the request log, as the
 * gateway and the CLI use them.
 */
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isStoreRejectedError } from '../../src/store/errors.ts';
import type { GatewayStore, RequestLogRow, StoredToken } from '../../src/store/gatewayTypes.ts';
import type { StoreHarness } from './contract.ts';

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

const token = (name: string, over: Partial<StoredToken> = {}): StoredToken => ({
  name,
  hash: sha(`secret of ${name}`),
  prefix: 'gp-AbCd',
  limits: {},
  createdAt: 1_700_000_000_000,
  ...over,
});

const row = (over: Partial<RequestLogRow> = {}): RequestLogRow => ({
  at: 1_000,
  token: 'app',
  route: '/v1/chat/completions',
  model: 'gemini-2.5-flash',
  keyId: 'key#1',
  status: 200,
  attempts: 1,
  latencyMs: 12.5,
  tokensIn: 10,
  tokensOut: 20,
  streamed: false,
  ...over,
});

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(() => undefined, (e: unknown) => e);
}

/**
 * The gateway's side: tokens, usage, request log. `sameData`: the harness gives a second
 * store on the same data (SQLite's file, Redis), and the tests of sharing run.
 */
export function describeGatewayStoreContract(
  name: string,
  makeStore: () => Promise<StoreHarness<GatewayStore>>,
  options: { sameData: boolean },
): void {
  describe(`GatewayStore contract: ${name}`, () => {
    let h: StoreHarness<GatewayStore>;
    let store: GatewayStore;
    beforeEach(async () => {
      h = await makeStore();
      store = h.store;
    });
    afterEach(async () => {
      await h.close();
    });

    describe('tokens', () => {
      it('creates, lists by creation time, and finds by hash and by name', async () => {
        expect(await store.listTokens()).toEqual([]);
        const b = token('bot-2', { createdAt: 2_000, models: ['gemini-2.5-pro'], limits: { rpm: 10, tpd: 5_000 }, expiresAt: 9_000 });
        const a = token('web.app_1', { createdAt: 1_000 });
        await store.createToken(b);
        await store.createToken(a);
        expect(await store.listTokens()).toEqual([a, b]);
        expect(await store.tokenByHash(b.hash)).toEqual(b);
        expect(await store.tokenByName('web.app_1')).toEqual(a);
        expect(await store.tokenByHash(sha('nobody'))).toBeUndefined();
        expect(await store.tokenByName('nobody')).toBeUndefined();
        const got = (await store.tokenByName('web.app_1'))!;
        expect(got).not.toHaveProperty('models');
        expect(got).not.toHaveProperty('expiresAt');
        expect(got).not.toHaveProperty('revokedAt');
      });

      it('keeps what was stored, not the caller object', async () => {
        const t = token('app', { models: ['m1'], limits: { rpm: 1 } });
        await store.createToken(t);
        t.models!.push('m2');
        t.limits.rpm = 99;
        const got = (await store.tokenByName('app'))!;
        expect(got.models).toEqual(['m1']);
        expect(got.limits).toEqual({ rpm: 1 });
        got.limits.rpd = 5;
        expect((await store.tokenByName('app'))!.limits).toEqual({ rpm: 1 });
      });

      it('refuses a second token of a name, revoked or not, and a hash stored already', async () => {
        await store.createToken(token('app'));
        const dup = await rejection(store.createToken(token('app', { hash: sha('another') })));
        expect(isStoreRejectedError(dup)).toBe(true);
        expect((dup as Error).message).toMatch(/named app exists already/);
        expect(await store.revokeToken('app', 5)).toBe(true);
        expect(isStoreRejectedError(await rejection(store.createToken(token('app', { hash: sha('third') }))))).toBe(true);
        const sameHash = await rejection(store.createToken(token('other', { hash: sha('secret of app') })));
        expect(isStoreRejectedError(sameHash)).toBe(true);
        expect((await store.listTokens()).map((t) => t.name)).toEqual(['app']);
        expect((await store.tokenByHash(sha('secret of app')))?.name).toBe('app');
      });

      it('refuses a token that is not of its shape, writing nothing', async () => {
        const bad: StoredToken[] = [
          token('a', { hash: 'not-hex' }),
          token('b', { limits: { rpm: '10' as unknown as number } }),
          token('c', { limits: { rpd: 0 } }),
          token('d', { models: [] }),
          token(''),
        ];
        for (const t of bad) expect(isStoreRejectedError(await rejection(store.createToken(t))), t.name).toBe(true);
        expect(await store.listTokens()).toEqual([]);
      });

      it('revokes a live token once; a revoked token is still found, with its time', async () => {
        await store.createToken(token('app'));
        expect(await store.revokeToken('app', 1_234)).toBe(true);
        expect(await store.revokeToken('app', 5_678)).toBe(false);
        expect(await store.revokeToken('nobody', 1)).toBe(false);
        expect((await store.tokenByHash(sha('secret of app')))?.revokedAt).toBe(1_234);
        expect((await store.listTokens())[0]?.revokedAt).toBe(1_234);
      });

      it('updates limits, models and expiry; clears the fields given as undefined; leaves the others', async () => {
        const t = token('app', { models: ['m1'], limits: { rpm: 5 }, expiresAt: 9_000 });
        await store.createToken(t);
        expect(await store.updateToken('app', { limits: { rpd: 100, tpd: 1_000 } })).toBe(true);
        expect(await store.tokenByName('app')).toEqual({ ...t, limits: { rpd: 100, tpd: 1_000 } });
        expect(await store.updateToken('app', { models: ['m1', 'm2'], expiresAt: 10_000 })).toBe(true);
        expect(await store.tokenByName('app')).toEqual({ ...t, limits: { rpd: 100, tpd: 1_000 }, models: ['m1', 'm2'], expiresAt: 10_000 });
        expect(await store.updateToken('app', { models: undefined, expiresAt: undefined })).toBe(true);
        const cleared = (await store.tokenByHash(t.hash))!;
        expect(cleared).toEqual({ name: 'app', hash: t.hash, prefix: t.prefix, createdAt: t.createdAt, limits: { rpd: 100, tpd: 1_000 } });
        expect(cleared).not.toHaveProperty('models');
        expect(cleared).not.toHaveProperty('expiresAt');
        expect(await store.updateToken('nobody', { limits: {} })).toBe(false);
        const bad = await rejection(store.updateToken('app', { limits: { rpm: -1 } }));
        expect(isStoreRejectedError(bad)).toBe(true);
        expect((await store.tokenByName('app'))?.limits).toEqual({ rpd: 100, tpd: 1_000 });
      });

      it.runIf(options.sameData)('a token created or revoked by one store is seen by another on the same data at once', async () => {
        const other = h.sameData!;
        const t = token('shared', { limits: { rpm: 3 } });
        await store.createToken(t);
        expect(await other.tokenByHash(t.hash)).toEqual(t);
        expect(await other.revokeToken('shared', 42)).toBe(true);
        expect((await store.tokenByHash(t.hash))?.revokedAt).toBe(42);
        expect(isStoreRejectedError(await rejection(other.createToken(token('shared', { hash: sha('x') }))))).toBe(true);
      });
    });

    describe('client usage', () => {
      it('adds per day and in total; zeros when unknown', async () => {
        const none = { requests: 0, tokens: 0, errors: 0 };
        expect(await store.clientUsage('app', '2026-11-22')).toEqual({ day: none, total: none });
        await store.addClientUsage('app', '2026-11-22', { requests: 1, tokens: 100, errors: 0 });
        await store.addClientUsage('app', '2026-11-22', { requests: 2, tokens: 50, errors: 1 });
        await store.addClientUsage('app', '2026-11-23', { requests: 1, tokens: 7, errors: 1 });
        await store.addClientUsage('other', '2026-11-22', { requests: 9, tokens: 9, errors: 9 });
        expect(await store.clientUsage('app', '2026-11-22')).toEqual({
          day: { requests: 3, tokens: 150, errors: 1 },
          total: { requests: 4, tokens: 157, errors: 2 },
        });
        expect(await store.clientUsage('app', '2026-11-23')).toEqual({ day: { requests: 1, tokens: 7, errors: 1 }, total: { requests: 4, tokens: 157, errors: 2 } });
        expect((await store.clientUsage('app', '2026-11-24')).day).toEqual(none);
        expect((await store.clientUsage('other', '2026-11-22')).total).toEqual({ requests: 9, tokens: 9, errors: 9 });
      });

      it('lists the clients of a day whose name has a prefix, most requests first, at most as many as asked', async () => {
        await store.addClientUsage('discord:user:1', '2026-11-22', { requests: 2, tokens: 20, errors: 0 });
        await store.addClientUsage('discord:user:2', '2026-11-22', { requests: 5, tokens: 9, errors: 1 });
        await store.addClientUsage('discord:user:3', '2026-11-22', { requests: 1, tokens: 1, errors: 0 });
        await store.addClientUsage('discord:user:4', '2026-11-23', { requests: 9, tokens: 9, errors: 0 });
        await store.addClientUsage('discord:guild:1', '2026-11-22', { requests: 8, tokens: 30, errors: 1 });
        await store.addClientUsage('web-app', '2026-11-22', { requests: 7, tokens: 7, errors: 0 });
        expect(await store.topClients('2026-11-22', 'discord:user:', 2)).toEqual([
          { client: 'discord:user:2', requests: 5, tokens: 9, errors: 1 },
          { client: 'discord:user:1', requests: 2, tokens: 20, errors: 0 },
        ]);
        expect(await store.topClients('2026-11-22', 'discord:guild:', 10)).toEqual([{ client: 'discord:guild:1', requests: 8, tokens: 30, errors: 1 }]);
        expect(await store.topClients('2026-11-24', 'discord:user:', 10)).toEqual([]);
        expect((await store.topClients('2026-11-22', '', 10)).map((c) => c.client)).toEqual(['discord:guild:1', 'web-app', 'discord:user:2', 'discord:user:1', 'discord:user:3']);
      });

      it('refuses counts that are not counts, writing nothing', async () => {
        for (const delta of [
          { requests: 1, tokens: '8' as unknown as number, errors: 0 },
          { requests: -1, tokens: 0, errors: 0 },
          { requests: 1.5, tokens: 0, errors: 0 },
        ]) {
          expect(isStoreRejectedError(await rejection(store.addClientUsage('app', '2026-11-22', delta)))).toBe(true);
        }
        expect(isStoreRejectedError(await rejection(store.addClientUsage('app', 'today', { requests: 1, tokens: 0, errors: 0 })))).toBe(true);
        expect((await store.clientUsage('app', '2026-11-22')).total).toEqual({ requests: 0, tokens: 0, errors: 0 });
      });

      it.runIf(options.sameData)('two stores on the same data add up', async () => {
        await store.addClientUsage('app', '2026-11-22', { requests: 1, tokens: 10, errors: 0 });
        await h.sameData!.addClientUsage('app', '2026-11-22', { requests: 2, tokens: 20, errors: 1 });
        expect((await store.clientUsage('app', '2026-11-22')).day).toEqual({ requests: 3, tokens: 30, errors: 1 });
      });
    });

    describe('request log', () => {
      it('gives rows back as written, newest first, at most 100 unless told', async () => {
        const full = row({ at: 3, kind: 'rate_limited', status: 429, streamed: true, requestBody: 'hi "there"\n🎉', responseBody: '' });
        const bare = row({ at: 2 });
        delete bare.keyId;
        await store.appendRequestLog([row({ at: 1 }), full]);
        await store.appendRequestLog([bare]);
        await store.appendRequestLog([]);
        const got = await store.queryRequestLog({});
        expect(got).toEqual([full, bare, row({ at: 1 })]);
        expect(got[1]).not.toHaveProperty('keyId');
        expect(got[1]).not.toHaveProperty('kind');
        expect(got[2]).not.toHaveProperty('requestBody');

        await store.appendRequestLog(Array.from({ length: 150 }, (_, i) => row({ at: 100 + i })));
        const page = await store.queryRequestLog({});
        expect(page).toHaveLength(100);
        expect(page[0]!.at).toBe(249);
        expect(page[99]!.at).toBe(150);
      });

      it('narrows by every filter, and by all of them together', async () => {
        await store.appendRequestLog([
          row({ at: 10, token: 'a', keyId: 'key#1', model: 'm1', status: 200 }),
          row({ at: 20, token: 'b', keyId: 'key#2', model: 'm1', status: 429, kind: 'rate_limited' }),
          row({ at: 30, token: 'a', keyId: 'key#2', model: 'm2', status: 503, kind: 'overloaded' }),
          row({ at: 40, token: 'a', keyId: 'key#1', model: 'm1', status: 429, kind: 'quota_exhausted' }),
        ]);
        const ats = async (q: Parameters<GatewayStore['queryRequestLog']>[0]) => (await store.queryRequestLog(q)).map((r) => r.at);
        expect(await ats({ token: 'a' })).toEqual([40, 30, 10]);
        expect(await ats({ keyId: 'key#2' })).toEqual([30, 20]);
        expect(await ats({ model: 'm1' })).toEqual([40, 20, 10]);
        expect(await ats({ status: 429 })).toEqual([40, 20]);
        expect(await ats({ kind: 'overloaded' })).toEqual([30]);
        expect(await ats({ since: 20 })).toEqual([40, 30, 20]);
        expect(await ats({ until: 30 })).toEqual([20, 10]);
        expect(await ats({ since: 20, until: 40 })).toEqual([30, 20]);
        expect(await ats({ limit: 2 })).toEqual([40, 30]);
        expect(await ats({ token: 'a', status: 429, model: 'm1', keyId: 'key#1', kind: 'quota_exhausted', since: 1, until: 41 })).toEqual([40]);
        expect(await ats({ token: 'nobody' })).toEqual([]);
        expect(await ats({ token: 'a', limit: 1, since: 0 })).toEqual([40]);
      });

      it('orders by time whatever the order of writing; rows of one time newest written first', async () => {
        await store.appendRequestLog([row({ at: 50, route: 'x1' }), row({ at: 10 })]);
        await store.appendRequestLog([row({ at: 30 }), row({ at: 50, route: 'x2' })]);
        const got = await store.queryRequestLog({});
        expect(got.map((r) => [r.at, r.route])).toEqual([[50, 'x2'], [50, 'x1'], [30, row().route], [10, row().route]]);
      });

      it('keeps at most maxRows when an append says so, dropping the oldest', async () => {
        await store.appendRequestLog([row({ at: 5 }), row({ at: 1 }), row({ at: 3 })]);
        await store.appendRequestLog([row({ at: 4 }), row({ at: 2 })], 3);
        expect((await store.queryRequestLog({})).map((r) => r.at)).toEqual([5, 4, 3]);
        await store.appendRequestLog([row({ at: 6 })], 10);
        expect((await store.queryRequestLog({})).map((r) => r.at)).toEqual([6, 5, 4, 3]);
      });

      it('prunes by age and by row cap, saying how many went', async () => {
        await store.appendRequestLog(Array.from({ length: 10 }, (_, i) => row({ at: (i + 1) * 100 })));
        expect(await store.pruneRequestLog(300, 1_000)).toBe(2);
        expect((await store.queryRequestLog({})).map((r) => r.at).at(-1)).toBe(300);
        expect(await store.pruneRequestLog(0, 5)).toBe(3);
        expect((await store.queryRequestLog({})).map((r) => r.at)).toEqual([1000, 900, 800, 700, 600]);
        expect(await store.pruneRequestLog(650, 4)).toBe(1);
        expect(await store.pruneRequestLog(0, 4)).toBe(0);
        expect(await store.pruneRequestLog(Number.POSITIVE_INFINITY, 4)).toBe(4);
        expect(await store.queryRequestLog({})).toEqual([]);
      });

      it('refuses rows that are not of their shape, writing none of the batch', async () => {
        for (const bad of [
          row({ status: '200' as unknown as number }),
          row({ at: Number.NaN }),
          row({ tokensIn: -1 }),
          row({ streamed: 'no' as unknown as boolean }),
          row({ keyId: 5 as unknown as string }),
        ]) {
          expect(isStoreRejectedError(await rejection(store.appendRequestLog([row({ at: 1 }), bad])))).toBe(true);
        }
        expect(isStoreRejectedError(await rejection(store.queryRequestLog({ limit: 0 })))).toBe(true);
        expect(isStoreRejectedError(await rejection(store.pruneRequestLog(0, -1)))).toBe(true);
        expect(await store.queryRequestLog({})).toEqual([]);
      });

      it.runIf(options.sameData)('two stores on the same data write one log', async () => {
        await store.appendRequestLog([row({ at: 1 })]);
        await h.sameData!.appendRequestLog([row({ at: 2 })]);
        expect((await store.queryRequestLog({})).map((r) => r.at)).toEqual([2, 1]);
        expect(await h.sameData!.pruneRequestLog(2, 10)).toBe(1);
        expect((await store.queryRequestLog({})).map((r) => r.at)).toEqual([2]);
      });
    });
  });
}
