/**
 * What the HTTP gateway keeps in the store: client tokens (only their SHA-256 and a short
 * prefix, never the token), their usage, and the request log. In the store so that, with
 * Redis, every process sees a new or revoked token and every request.
 */

/** Limits of one client token; absent means no limit of that kind. */
export interface TokenLimits {
  /** Requests a minute. */
  rpm?: number;
  /** Requests a day (Google's day: midnight Pacific). */
  rpd?: number;
  /** Tokens (in + out) a day. */
  tpd?: number;
}

/** A client token as stored. */
export interface StoredToken {
  /** Unique, chosen by the operator (`tokens create --name`). */
  name: string;
  /** SHA-256 of the whole token, hex. */
  hash: string;
  /** The first characters of the token (`gp-AbCd`), to recognise it in a list. */
  prefix: string;
  /** Models this token may use; absent: every served model. */
  models?: string[];
  limits: TokenLimits;
  createdAt: number;
  /** Epoch ms after which the token no longer works. */
  expiresAt?: number;
  /** Set when revoked: a revoked token never works again (its name stays taken for its history). */
  revokedAt?: number;
}

/** Usage of one client (a token's name) on one day, or in total. */
export interface ClientUsage {
  requests: number;
  tokens: number;
  errors: number;
}

/** One gateway request, as the request log keeps it. No key, no token: `key#N` and the token's name. */
export interface RequestLogRow {
  /** Epoch ms when the request arrived. */
  at: number;
  /** Token name; `anonymous` when anonymous access is on. */
  token: string;
  /** The route as called, without query string (`/v1/chat/completions`, `/v1beta/models/m:generateContent`). */
  route: string;
  model: string;
  /** `key#N` of the last attempt, when one was made. */
  keyId?: string;
  /** HTTP status the gateway answered with. */
  status: number;
  /** The pool's error kind, for failures. */
  kind?: string;
  attempts: number;
  latencyMs: number;
  tokensIn: number;
  tokensOut: number;
  streamed: boolean;
  /** Prompt and answer text, only when REQUEST_LOG_BODIES=true. */
  requestBody?: string;
  responseBody?: string;
}

/** A query of the request log: every field narrows; newest first. */
export interface RequestLogQuery {
  token?: string;
  keyId?: string;
  model?: string;
  status?: number;
  kind?: string;
  /** Epoch ms, inclusive. */
  since?: number;
  /** Epoch ms, exclusive. */
  until?: number;
  /** At most this many rows (default 100). */
  limit?: number;
}

/** The gateway's side of the store. */
export interface GatewayStore {
  /** @throws StoreRejectedError when a token of that name exists (revoked ones too). */
  createToken(token: StoredToken): Promise<void>;
  /** Every token, revoked ones included, by creation time. */
  listTokens(): Promise<StoredToken[]>;
  /** The token with this hash (revoked or not), if any. */
  tokenByHash(hash: string): Promise<StoredToken | undefined>;
  /** The token of this name (revoked or not), if any. */
  tokenByName(name: string): Promise<StoredToken | undefined>;
  /** Marks a token revoked; false when there is no live token of that name. */
  revokeToken(name: string, at: number): Promise<boolean>;
  /**
   * Changes a token's limits, models or expiry; false when there is no such token. A field
   * absent from `change` stays; `limits` replaces the whole limits; `models` or `expiresAt`
   * present with the value `undefined` is cleared (every model; no expiry).
   * @throws StoreRejectedError when a value is not of its type (limits not positive integers ...).
   */
  updateToken(name: string, change: Partial<Pick<StoredToken, 'models' | 'limits' | 'expiresAt'>>): Promise<boolean>;

  /**
   * Adds to a client's usage of `day` (`YYYY-MM-DD`, Pacific) and to its total.
   * @throws StoreRejectedError, writing nothing, when a count is not a non-negative integer.
   */
  addClientUsage(client: string, day: string, delta: ClientUsage): Promise<void>;
  /** A client's usage on `day` and in total (zeros when unknown). */
  clientUsage(client: string, day: string): Promise<{ day: ClientUsage; total: ClientUsage }>;
  /** The clients whose name starts with `prefix` that used something on `day`: most requests first, at most `limit`. */
  topClients(day: string, prefix: string, limit: number): Promise<Array<{ client: string } & ClientUsage>>;

  /**
   * Appends rows to the request log. With `maxRows`, the oldest rows beyond it go in the
   * same write, so the log stays bounded between two prunes.
   * @throws StoreRejectedError, writing nothing, when a row is not of its shape.
   */
  appendRequestLog(rows: readonly RequestLogRow[], maxRows?: number): Promise<void>;
  /** Rows matching the query, newest first. */
  queryRequestLog(query: RequestLogQuery): Promise<RequestLogRow[]>;
  /** Deletes rows older than `olderThan` (epoch ms) and the oldest beyond `maxRows`; returns how many went. */
  pruneRequestLog(olderThan: number, maxRows: number): Promise<number>;
}
