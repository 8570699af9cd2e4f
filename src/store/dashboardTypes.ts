/**
 * What the dashboard keeps in the store: signed-in sessions (found by the SHA-256 of the
 * cookie, never the cookie itself) and the keys operators added at runtime (encrypted with
 * a key derived from STATE_SECRET; only their hash and last four characters in clear). In
 * the store so that, with Redis, a session works on every process and every process uses
 * the keys added on any of them. Every store checks a value before it writes it: a bad one
 * is refused as a whole with a StoreRejectedError.
 */
import { StoreRejectedError } from './errors.ts';

/** A signed-in dashboard session, as stored. */
export interface StoredSession {
  /** SHA-256 of the session cookie's value, hex (64 characters). */
  id: string;
  /** The session's CSRF token: every change the dashboard makes must send it back. */
  csrf: string;
  /** Epoch ms of the login. */
  createdAt: number;
  /** Epoch ms of the last activity. */
  lastSeenAt: number;
  /** Epoch ms from which the session no longer works (idle or absolute expiry, whichever is first). */
  expiresAt: number;
}

/** A key an operator added, as stored: the key itself only sealed (AES-256-GCM). */
export interface StoredApiKey {
  /** The key's hash as the pool persists it (SHA-256, 32 hex characters): unique. */
  hash: string;
  /** The key's last four characters. */
  hint: string;
  /** Its Google Cloud project, when the operator named one. */
  group?: string;
  /** The key, sealed with the key from STATE_SECRET (`v1.` and base64url parts). */
  sealed: string;
  /** Epoch ms when it was added. */
  addedAt: number;
}

/** The dashboard's side of the store. */
export interface DashboardStore {
  /** Creates or replaces a session. @throws StoreRejectedError when it is not of its shape. */
  putSession(session: StoredSession): Promise<void>;
  /** The session with this id, unless it expired by `now`. */
  getSession(id: string, now: number): Promise<StoredSession | undefined>;
  /** Ends a session (nothing happens when there is none). */
  deleteSession(id: string): Promise<void>;

  /**
   * Stores an added key.
   * @throws StoreRejectedError when a key with this hash is stored already, or the record is not of its shape.
   */
  addApiKey(key: StoredApiKey): Promise<void>;
  /** Every added key, oldest first. */
  listApiKeys(): Promise<StoredApiKey[]>;
  /** Removes an added key by its hash; false when there was none. */
  removeApiKey(hash: string): Promise<boolean>;
}

const HEX64 = /^[0-9a-f]{64}$/;
const HEX32 = /^[0-9a-f]{32}$/;
const SEALED = /^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** @throws StoreRejectedError naming the first field that is wrong. */
export function assertSession(s: StoredSession): void {
  const problem =
    typeof s !== 'object' || s === null
      ? 'a session must be an object'
      : !HEX64.test(String(s.id))
        ? 'session id must be 64 hex characters (a SHA-256)'
        : typeof s.csrf !== 'string' || s.csrf.length < 16
          ? 'session csrf must be a string of 16 characters or more'
          : !isTime(s.createdAt) || !isTime(s.lastSeenAt) || !isTime(s.expiresAt)
            ? 'session times must be epoch ms'
            : undefined;
  if (problem) throw new StoreRejectedError(problem);
}

/** @throws StoreRejectedError naming the first field that is wrong (never showing a value). */
export function assertApiKey(k: StoredApiKey): void {
  const problem =
    typeof k !== 'object' || k === null
      ? 'an added key must be an object'
      : !HEX32.test(String(k.hash))
        ? 'added key hash must be 32 hex characters'
        : typeof k.hint !== 'string' || k.hint.length > 4
          ? 'added key hint must be at most 4 characters'
          : k.group !== undefined && (typeof k.group !== 'string' || k.group === '')
            ? 'added key group must be a non-empty string when present'
            : typeof k.sealed !== 'string' || !SEALED.test(k.sealed)
              ? 'added key must be sealed (v1. and three base64url parts)'
              : !isTime(k.addedAt)
                ? 'added key addedAt must be epoch ms'
                : undefined;
  if (problem) throw new StoreRejectedError(problem);
}

/** The fields of a session, copied (no extra properties kept). */
export function cleanSession(s: StoredSession): StoredSession {
  return { id: s.id, csrf: s.csrf, createdAt: s.createdAt, lastSeenAt: s.lastSeenAt, expiresAt: s.expiresAt };
}

/** The fields of an added key, copied (no extra properties kept). */
export function cleanApiKey(k: StoredApiKey): StoredApiKey {
  return { hash: k.hash, hint: k.hint, ...(k.group !== undefined ? { group: k.group } : {}), sealed: k.sealed, addedAt: k.addedAt };
}
