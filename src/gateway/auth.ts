/**
 * Who is calling: the client token, from wherever each dialect's clients put it
 * (`x-goog-api-key`, `?key=`, `Authorization: Bearer`). Client tokens only ever reach the
 * gateway's routes: they are never an admin credential.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { StoredToken } from '../store/gatewayTypes.ts';
import type { GatewayTokens } from './deps.ts';
import type { Exchange } from './exchange.ts';

/** The caller of a request, as the routes see it. */
export interface GatewayClient {
  /** The token's name, or `anonymous`. Also the pool's client and the log's `token`. */
  name: string;
  /** Undefined for anonymous access. */
  token: StoredToken | undefined;
}

export type GatewayEnv = { Variables: { client: GatewayClient; exchange: Exchange } };

/** A failure of the caller's credentials, shaped by the dialect. */
export type AuthFailure = (c: Context, status: 401 | 403, message: string) => Response;

/** The token a request presents, if any. */
export function presentedToken(c: Context): string | undefined {
  const header = c.req.header('x-goog-api-key')?.trim();
  if (header) return header;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '')?.[1];
  if (bearer) return bearer;
  const query = c.req.query('key')?.trim();
  return query || undefined;
}

const REFUSED: Record<'unknown' | 'revoked' | 'expired', string> = {
  unknown: 'invalid client token',
  revoked: 'this client token was revoked',
  expired: 'this client token has expired',
};

/**
 * Sets `client` for the routes, or answers 401. With `tokens` undefined every request is
 * anonymous (the server allows that only on loopback).
 */
export function authenticate(tokens: GatewayTokens | undefined, refuse: AuthFailure): MiddlewareHandler<GatewayEnv> {
  return async (c, next) => {
    if (!tokens) {
      c.set('client', { name: 'anonymous', token: undefined });
      return next();
    }
    const presented = presentedToken(c);
    if (!presented) return refuse(c, 401, 'a client token is required (x-goog-api-key header, Authorization: Bearer, or ?key=)');
    const checked = await tokens.authenticate(presented);
    if (!checked.ok) return refuse(c, 401, REFUSED[checked.reason]);
    c.set('client', { name: checked.token.name, token: checked.token });
    return next();
  };
}
