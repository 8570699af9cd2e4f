/**
 * Who may use the dashboard: server-side sessions in the store (the cookie holds a random
 * value, the store only its SHA-256), idle and absolute expiry on an injected clock, a CSRF
 * token per session compared in constant time, and a per-address limit on login attempts.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { DashboardStore, StoredSession } from '../../store/dashboardTypes.ts';

/** The session cookie's name. */
export const SESSION_COOKIE = 'gp_dash';
/** The login form's own CSRF cookie (double submit: the form sends the same value). */
export const LOGIN_COOKIE = 'gp_login';
/** A session ends this long after its login, however active. */
export const MAX_SESSION_MS = 12 * 3_600_000;

/** A random value for a cookie or a token: 256 bits, base64url. */
export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

/** SHA-256 hex of a cookie value: the only form the store sees. */
export function sessionId(cookie: string): string {
  return createHash('sha256').update(cookie, 'utf8').digest('hex');
}

/** Whether two secrets are equal, in a time that depends on neither. */
export function sameSecret(given: string | undefined, expected: string): boolean {
  if (typeof given !== 'string') return false;
  // Hashing first gives equal lengths, so even the length does not show.
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** Options of {@link Sessions}. */
export interface SessionOptions {
  /** A session unused this long ends. */
  idleMs: number;
  /**
   * A session ends this long after its login.
   * @default MAX_SESSION_MS (12 h)
   */
  maxAgeMs?: number;
  now: () => number;
}

/** Sessions in the store: created at login, renewed by use, ended by logout, idleness or age. */
export class Sessions {
  private readonly idleMs: number;
  private readonly maxAgeMs: number;
  private readonly now: () => number;

  constructor(
    private readonly store: DashboardStore,
    options: SessionOptions,
  ) {
    this.idleMs = options.idleMs;
    this.maxAgeMs = options.maxAgeMs ?? MAX_SESSION_MS;
    this.now = options.now;
    if (!(this.idleMs > 0)) throw new TypeError(`Sessions: \`idleMs\` must be > 0 (got ${this.idleMs})`);
    if (!(this.maxAgeMs > 0)) throw new TypeError(`Sessions: \`maxAgeMs\` must be > 0 (got ${this.maxAgeMs})`);
  }

  #expiry(createdAt: number, at: number): number {
    return Math.min(at + this.idleMs, createdAt + this.maxAgeMs);
  }

  /** A new session: returns the cookie value (shown to the browser only) and the stored session. */
  async create(): Promise<{ cookie: string; session: StoredSession }> {
    const now = this.now();
    const cookie = randomToken();
    const session: StoredSession = { id: sessionId(cookie), csrf: randomToken(), createdAt: now, lastSeenAt: now, expiresAt: this.#expiry(now, now) };
    await this.store.putSession(session);
    return { cookie, session };
  }

  /**
   * The live session of a cookie, if any. With `renew`, its idle expiry starts again now
   * (written at most every tenth of the idle time, so a busy page is not a write a request).
   */
  async get(cookie: string | undefined, renew: boolean): Promise<StoredSession | undefined> {
    if (!cookie || cookie.length > 128) return undefined;
    const now = this.now();
    const s = await this.store.getSession(sessionId(cookie), now);
    if (!s || s.expiresAt <= now) return undefined;
    if (renew && now - s.lastSeenAt >= Math.min(60_000, this.idleMs / 10)) {
      const renewed = { ...s, lastSeenAt: now, expiresAt: this.#expiry(s.createdAt, now) };
      await this.store.putSession(renewed);
      return renewed;
    }
    return s;
  }

  /** Ends the session of a cookie (logout). */
  async end(cookie: string | undefined): Promise<void> {
    if (cookie && cookie.length <= 128) await this.store.deleteSession(sessionId(cookie));
  }
}

/** Options of {@link LoginLimiter}. */
export interface LoginLimiterOptions {
  /** @default 5 */
  attempts?: number;
  /** @default 60_000 */
  windowMs?: number;
  /**
   * Addresses remembered at most (the oldest are forgotten), so many addresses cannot grow it without bound.
   * @default 10_000
   */
  maxAddresses?: number;
  now: () => number;
}

/** At most `attempts` logins per address in any `windowMs` (a sliding window). */
export class LoginLimiter {
  private readonly attempts: number;
  private readonly windowMs: number;
  private readonly maxAddresses: number;
  private readonly now: () => number;
  /** address -> times of its attempts in the window, oldest first; Map order: least recently seen first. */
  private readonly seen = new Map<string, number[]>();

  constructor(options: LoginLimiterOptions) {
    this.attempts = options.attempts ?? 5;
    this.windowMs = options.windowMs ?? 60_000;
    this.maxAddresses = options.maxAddresses ?? 10_000;
    this.now = options.now;
  }

  /** Counts one attempt of `address`: allowed, or refused with how long until the next one is. */
  take(address: string): { ok: true } | { ok: false; retryAfterMs: number } {
    const now = this.now();
    const times = (this.seen.get(address) ?? []).filter((t) => t > now - this.windowMs);
    this.seen.delete(address);
    if (times.length >= this.attempts) {
      this.seen.set(address, times);
      return { ok: false, retryAfterMs: times[times.length - this.attempts]! + this.windowMs - now };
    }
    times.push(now);
    this.seen.set(address, times);
    for (const oldest of this.seen.keys()) {
      if (this.seen.size <= this.maxAddresses) break;
      this.seen.delete(oldest);
    }
    return { ok: true };
  }
}
