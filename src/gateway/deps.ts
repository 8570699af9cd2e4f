/**
 * What the gateway's routes need from the rest of the product, as narrow interfaces: the
 * pool (one pool for every front door), the client tokens, the per-client limits and the
 * request log. `server.ts` builds them from the configuration; tests may pass their own.
 */
import type { Hono } from 'hono';
import type { Logger } from 'pino';
import type { DashboardEnv } from './dashboard/app.ts';
import type { NativeRequest, NativeResult, NativeStream } from '../pool/nativeTypes.ts';
import type { ClientUsage, RequestLogRow, StoredToken, TokenLimits } from '../store/gatewayTypes.ts';

/** The pool as the gateway uses it. */
export interface GatewayPool {
  callNative(req: NativeRequest): Promise<NativeResult>;
  streamNative(req: Omit<NativeRequest, 'method'>): NativeStream;
}

/** A presented token, checked. */
export type TokenCheck = { ok: true; token: StoredToken } | { ok: false; reason: 'unknown' | 'revoked' | 'expired' };

/** Client tokens: who may call, and which models. */
export interface GatewayTokens {
  authenticate(presented: string): Promise<TokenCheck>;
  allows(token: StoredToken, model: string): boolean;
}

/** Per-client limits, decided before the pool is asked. */
export interface GatewayLimits {
  admit(client: string, limits: TokenLimits, now: number): Promise<{ ok: true } | { ok: false; limit: 'rpm' | 'rpd' | 'tpd'; retryAfterMs: number }>;
  record(client: string, usage: ClientUsage, now: number): void;
}

/** The request log (batched by its owner). */
export interface GatewayLog {
  append(row: RequestLogRow): void;
}

/** Everything the routes use. */
export interface GatewayDeps {
  pool: GatewayPool;
  /** Chat models served (generateContent, chat completions); the first is the default. */
  chatModels: readonly string[];
  /** Embedding models served (embedContent, embeddings). */
  embeddingModels: readonly string[];
  /** Undefined: anonymous access (only ever on loopback; `server.ts` checks). */
  tokens: GatewayTokens | undefined;
  limits: GatewayLimits;
  log: GatewayLog;
  logger: Logger;
  now: () => number;
  maxBodyBytes: number;
  fetchUrls: boolean;
  /** Keep prompt and answer text in the request log. */
  logBodies: boolean;
  /** The web dashboard, served under `/dashboard`; undefined: off (no password configured). */
  dashboard?: Hono<DashboardEnv>;
}
