/**
 * The gateway's side of a store class (client tokens, client usage, the request log),
 * handed on to the part that implements it for that store: gatewayMemory.ts,
 * gatewaySqlite.ts, gatewayRedis.ts. Keeps the store classes to their own state.
 */
import type { ClientUsage, GatewayStore, RequestLogQuery, RequestLogRow, StoredToken } from './gatewayTypes.ts';

/** A store class whose {@link GatewayStore} methods are those of its `gateway` part. */
export abstract class DelegatesGatewayStore implements GatewayStore {
  /** Implements the gateway's side over the store's own connection or maps. */
  protected abstract readonly gateway: GatewayStore;

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
