/** The dashboard's store in plain maps, for MemoryStore. Nothing is shared with other processes. */
import { StoreRejectedError } from './errors.ts';
import { assertApiKey, assertSession, cleanApiKey, cleanSession, type DashboardStore, type StoredApiKey, type StoredSession } from './dashboardTypes.ts';

export class MemoryDashboardStore implements DashboardStore {
  private readonly sessions = new Map<string, StoredSession>();
  /** hash -> key; Map order is the order they were added. */
  private readonly keys = new Map<string, StoredApiKey>();

  async putSession(session: StoredSession): Promise<void> {
    assertSession(session);
    // Expired sessions go whenever one is written, so the map stays as small as the live ones.
    for (const [id, s] of this.sessions) if (s.expiresAt <= session.lastSeenAt) this.sessions.delete(id);
    this.sessions.set(session.id, cleanSession(session));
  }

  async getSession(id: string, now: number): Promise<StoredSession | undefined> {
    const s = this.sessions.get(id);
    if (!s) return undefined;
    if (s.expiresAt <= now) {
      this.sessions.delete(id);
      return undefined;
    }
    return cleanSession(s);
  }

  async deleteSession(id: string): Promise<void> {
    this.sessions.delete(id);
  }

  async addApiKey(key: StoredApiKey): Promise<void> {
    assertApiKey(key);
    if (this.keys.has(key.hash)) throw new StoreRejectedError('this key was added already');
    this.keys.set(key.hash, cleanApiKey(key));
  }

  async listApiKeys(): Promise<StoredApiKey[]> {
    return [...this.keys.values()].map(cleanApiKey).sort((a, b) => a.addedAt - b.addedAt);
  }

  async removeApiKey(hash: string): Promise<boolean> {
    return this.keys.delete(hash);
  }
}
