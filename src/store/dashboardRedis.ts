/**
 * The dashboard's store in Redis, for RedisStore. Layout, every key under the store's prefix:
 *
 * | key | type | what |
 * | --- | --- | --- |
 * | `dash:session:{id}` | string (JSON), PX until it expires | a session, by the SHA-256 of its cookie |
 * | `dash:keys` | hash | key hash -> the added key as JSON (sealed) |
 *
 * Sessions expire in Redis by themselves; a read also checks the expiry against the caller's
 * clock. Every process reads the added keys from `dash:keys`, so a key added or removed on
 * one is seen by the others at their next reading.
 */
import type { Redis } from 'ioredis';
import { StoreRejectedError } from './errors.ts';
import { assertApiKey, assertSession, cleanApiKey, cleanSession, type DashboardStore, type StoredApiKey, type StoredSession } from './dashboardTypes.ts';

/** {@link DashboardStore} over a RedisStore's command connection. */
export class RedisDashboardStore implements DashboardStore {
  /** @param ready returns the connection, or throws StoreUnavailableError while Redis is away. */
  constructor(
    private readonly ready: () => Redis,
    private readonly prefix: string,
  ) {}

  private k(...parts: string[]): string {
    return `${this.prefix}dash:${parts.join(':')}`;
  }

  async putSession(session: StoredSession): Promise<void> {
    assertSession(session);
    const ttlMs = Math.max(1, Math.ceil(session.expiresAt - session.lastSeenAt));
    await this.ready().set(this.k('session', session.id), JSON.stringify(cleanSession(session)), 'PX', ttlMs);
  }

  async getSession(id: string, now: number): Promise<StoredSession | undefined> {
    const raw = await this.ready().get(this.k('session', id));
    if (raw === null) return undefined;
    const s = JSON.parse(raw) as StoredSession;
    return s.expiresAt > now ? cleanSession(s) : undefined;
  }

  async deleteSession(id: string): Promise<void> {
    await this.ready().del(this.k('session', id));
  }

  async addApiKey(key: StoredApiKey): Promise<void> {
    assertApiKey(key);
    const added = await this.ready().hsetnx(this.k('keys'), key.hash, JSON.stringify(cleanApiKey(key)));
    if (added === 0) throw new StoreRejectedError('this key was added already');
  }

  async listApiKeys(): Promise<StoredApiKey[]> {
    const all = await this.ready().hvals(this.k('keys'));
    return all.map((raw) => cleanApiKey(JSON.parse(raw) as StoredApiKey)).sort((a, b) => a.addedAt - b.addedAt || (a.hash < b.hash ? -1 : 1));
  }

  async removeApiKey(hash: string): Promise<boolean> {
    return (await this.ready().hdel(this.k('keys'), hash)) > 0;
  }
}
