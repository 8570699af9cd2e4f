/**
 * The gateway's side of a store class (client tokens, client usage, the request log) and the
 * dashboard's (sessions, added keys), handed on to the parts that implement them for that
 * store: gatewayMemory.ts / dashboardMemory.ts, gatewaySqlite.ts / dashboardSqlite.ts,
 * gatewayRedis.ts / dashboardRedis.ts. Keeps the store classes to their own state.
 */
import type { DashboardStore, StoredApiKey, StoredSession } from './dashboardTypes.ts';
import type { ClientUsage, GatewayStore, RequestLogQuery, RequestLogRow, StoredToken } from './gatewayTypes.ts';

/** A store class whose {@link GatewayStore} and {@link DashboardStore} methods are those of its `gateway` and `dashboard` parts. */
export abstract class DelegatesGatewayStore implements GatewayStore, DashboardStore {
  /** Implements the gateway's side over the store's own connection or maps. */
  protected abstract readonly gateway: GatewayStore;
  /** Implements the dashboard's side over the store's own connection or maps. */
  protected abstract readonly dashboard: DashboardStore;

  putSession(session: StoredSession): Promise<void> {
    return this.dashboard.putSession(session);
  }

  getSession(id: string, now: number): Promise<StoredSession | undefined> {
    return this.dashboard.getSession(id, now);
  }

  deleteSession(id: string): Promise<void> {
    return this.dashboard.deleteSession(id);
  }

  addApiKey(key: StoredApiKey): Promise<void> {
    return this.dashboard.addApiKey(key);
  }

  listApiKeys(): Promise<StoredApiKey[]> {
    return this.dashboard.listApiKeys();
  }

  removeApiKey(hash: string): Promise<boolean> {
    return this.dashboard.removeApiKey(hash);
  }

  createToken(token: StoredToken): Promise<void> {
    return this.gateway.createToken(token);
  }

  listTokens(): Promise<StoredToken[]> {
    return this.gateway.listTokens();
  }

  tokenByHash(hash: string): Promise<StoredToken | undefined> {
    return this.gateway.tokenByHash(hash);
  }

  tokenByName(name: string): Promise<StoredToken | undefined> {
    return this.gateway.tokenByName(name);
  }

  revokeToken(name: string, at: number): Promise<boolean> {
    return this.gateway.revokeToken(name, at);
  }

  updateToken(name: string, change: Partial<Pick<StoredToken, 'models' | 'limits' | 'expiresAt'>>): Promise<boolean> {
    return this.gateway.updateToken(name, change);
  }

  addClientUsage(client: string, day: string, delta: ClientUsage): Promise<void> {
    return this.gateway.addClientUsage(client, day, delta);
  }

  clientUsage(client: string, day: string): Promise<{ day: ClientUsage; total: ClientUsage }> {
    return this.gateway.clientUsage(client, day);
  }

  topClients(day: string, prefix: string, limit: number): Promise<Array<{ client: string } & ClientUsage>> {
    return this.gateway.topClients(day, prefix, limit);
  }

  appendRequestLog(rows: readonly RequestLogRow[], maxRows?: number): Promise<void> {
    return this.gateway.appendRequestLog(rows, maxRows);
  }

  queryRequestLog(query: RequestLogQuery): Promise<RequestLogRow[]> {
    return this.gateway.queryRequestLog(query);
  }

  pruneRequestLog(olderThan: number, maxRows: number): Promise<number> {
    return this.gateway.pruneRequestLog(olderThan, maxRows);
  }
}
