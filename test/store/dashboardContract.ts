/**
 * The DashboardStore contract: sessions with their expiry and the keys operators added, as
 * the dashboard and the CLI use them. `sameData`: a second store on the same data (SQLite's
 * file, Redis) sees what the first wrote, as another process would.
 */
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DashboardStore, StoredApiKey, StoredSession } from '../../src/store/dashboardTypes.ts';
import { isStoreRejectedError } from '../../src/store/errors.ts';
import type { StoreHarness } from './contract.ts';

const sha = (s: string, chars = 64): string => createHash('sha256').update(s).digest('hex').slice(0, chars);
const T0 = 1_800_000_000_000;

const session = (name: string, over: Partial<StoredSession> = {}): StoredSession => ({
  id: sha(`cookie of ${name}`),
  csrf: `csrf-token-of-${name}-0123456789`,
  createdAt: T0,
  lastSeenAt: T0,
  expiresAt: T0 + 60_000,
  ...over,
});

const apiKey = (name: string, over: Partial<StoredApiKey> = {}): StoredApiKey => ({
  hash: sha(name, 32),
  hint: name.slice(-4),
  sealed: `v1.${Buffer.from(`iv-${name}`).toString('base64url')}.dGFn.${Buffer.from(`sealed ${name}`).toString('base64url')}`,
  addedAt: T0,
  ...over,
});

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(() => undefined, (e: unknown) => e);
}

export function describeDashboardStoreContract(name: string, makeStore: () => Promise<StoreHarness<DashboardStore & { close(): Promise<void> }>>, options: { sameData: boolean }): void {
  describe(`DashboardStore contract: ${name}`, () => {
    let h: StoreHarness<DashboardStore & { close(): Promise<void> }>;
    let store: DashboardStore;
    beforeEach(async () => {
      h = await makeStore();
      store = h.store;
    });
    afterEach(async () => {
      await h.close();
    });

    it('keeps a session until it expires, replaces it when put again, and deletes it', async () => {
      const s = session('a');
      await store.putSession(s);
      expect(await store.getSession(s.id, T0 + 1)).toEqual(s);
      expect(await store.getSession(s.id, s.expiresAt)).toBeUndefined();
      expect(await store.getSession(sha('nobody'), T0)).toBeUndefined();
      const touched = { ...s, lastSeenAt: T0 + 30_000, expiresAt: T0 + 90_000 };
      await store.putSession(touched);
      expect(await store.getSession(s.id, T0 + 70_000)).toEqual(touched);
      await store.deleteSession(s.id);
      expect(await store.getSession(s.id, T0 + 1)).toBeUndefined();
      await store.deleteSession(s.id);
    });

    it('refuses a session that is not of its shape, writing nothing', async () => {
      for (const bad of [session('x', { id: 'not-a-hash' }), session('x', { csrf: 'short' }), session('x', { expiresAt: Number.NaN })]) {
        expect(isStoreRejectedError(await rejection(store.putSession(bad)))).toBe(true);
      }
      expect(await store.getSession(session('x').id, T0)).toBeUndefined();
    });

    it('stores added keys oldest first, refuses one added twice, and removes them by hash', async () => {
      expect(await store.listApiKeys()).toEqual([]);
      const b = apiKey('test-key-b', { addedAt: T0 + 5, group: 'proj-b' });
      const a = apiKey('test-key-a', { addedAt: T0 + 1 });
      await store.addApiKey(b);
      await store.addApiKey(a);
      expect(await store.listApiKeys()).toEqual([a, b]);
      expect((await store.listApiKeys())[0]).not.toHaveProperty('group');
      expect(isStoreRejectedError(await rejection(store.addApiKey({ ...a, addedAt: T0 + 9 })))).toBe(true);
      expect(await store.removeApiKey(a.hash)).toBe(true);
      expect(await store.removeApiKey(a.hash)).toBe(false);
      expect(await store.listApiKeys()).toEqual([b]);
    });

    it('refuses an added key that is not sealed or not of its shape, writing nothing', async () => {
      for (const bad of [apiKey('k1', { sealed: 'plain-text-key' }), apiKey('k2', { hash: 'x' }), apiKey('k3', { hint: 'toolong' }), apiKey('k4', { group: '' })]) {
        expect(isStoreRejectedError(await rejection(store.addApiKey(bad)))).toBe(true);
      }
      expect(await store.listApiKeys()).toEqual([]);
    });

    it('keeps what was stored, not the caller object', async () => {
      const s = session('c');
      await store.putSession(s);
      s.csrf = 'changed-after-the-write-000';
      expect((await store.getSession(s.id, T0))!.csrf).toBe('csrf-token-of-c-0123456789');
      const got = (await store.getSession(s.id, T0))!;
      got.expiresAt = 0;
      expect((await store.getSession(s.id, T0))!.expiresAt).toBe(T0 + 60_000);
    });

    if (options.sameData) {
      it('a second store on the same data sees sessions and added keys at once', async () => {
        const other = h.sameData as unknown as DashboardStore;
        const s = session('shared');
        await store.putSession(s);
        await store.addApiKey(apiKey('test-key-shared'));
        expect(await other.getSession(s.id, T0)).toEqual(s);
        expect((await other.listApiKeys()).map((k) => k.hint)).toEqual(['ared']);
        await other.deleteSession(s.id);
        expect(await store.getSession(s.id, T0)).toBeUndefined();
        expect(await other.removeApiKey(apiKey('test-key-shared').hash)).toBe(true);
        expect(await store.listApiKeys()).toEqual([]);
      });
    }
  });
}
