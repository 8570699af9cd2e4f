/**
 * The dashboard's password: kept only as a scrypt hash (`scrypt$LOGN$R$P$SALT$HASH`, the
 * salt and hash in base64url), checked in constant time. A plain DASHBOARD_PASSWORD is
 * hashed once at start with a random salt, so both settings are checked the same way and
 * take the same time.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { PASSWORD_HASH_SHAPE } from '../../configFields.ts';

/** The cost of a new hash: N = 2^15, r = 8, p = 1 (32 MiB, about 0.1 s). */
const LOG_N = 15;
const R = 8;
const P = 1;
const HASH_BYTES = 32;
/** The shortest password accepted. */
export const MIN_PASSWORD_CHARS = 12;

/** A parsed hash. */
export interface PasswordHash {
  logN: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

function derive(password: string, h: Pick<PasswordHash, 'logN' | 'r' | 'p' | 'salt'>, bytes: number): Promise<Buffer> {
  // Room for the largest cost a hash may name (N = 2^22, r and p up to 99 are refused by memory, not silently weakened).
  const maxmem = 128 * 2 ** h.logN * h.r + 16 * 1024 * 1024;
  return new Promise((resolve, reject) => scryptCb(password.normalize('NFC'), h.salt, bytes, { N: 2 ** h.logN, r: h.r, p: h.p, maxmem }, (err, key) => (err ? reject(err) : resolve(key))));
}

/**
 * A new hash of `password`, as DASHBOARD_PASSWORD_HASH takes it.
 * @throws TypeError when the password is shorter than {@link MIN_PASSWORD_CHARS}.
 */
export async function hashPassword(password: string): Promise<string> {
  if (typeof password !== 'string' || password.length < MIN_PASSWORD_CHARS) throw new TypeError(`the password must be at least ${MIN_PASSWORD_CHARS} characters`);
  const salt = randomBytes(16);
  const hash = await derive(password, { logN: LOG_N, r: R, p: P, salt }, HASH_BYTES);
  return `scrypt$${LOG_N}$${R}$${P}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

/** A hash as {@link hashPassword} writes it, parsed. @throws TypeError when it is not one. */
export function parsePasswordHash(text: string): PasswordHash {
  const m = PASSWORD_HASH_SHAPE.exec(text.trim());
  if (!m) throw new TypeError('not a password hash made by `npm run cli -- dashboard hash-password`');
  return { logN: Number(m[1]), r: Number(m[2]), p: Number(m[3]), salt: Buffer.from(m[4]!, 'base64url'), hash: Buffer.from(m[5]!, 'base64url') };
}

/** Derivations run at once at most: each takes 32 MiB, so many sign-ins at once wait instead. */
const MAX_CONCURRENT_CHECKS = 2;

/** The check of a login: the configured password (plain or hashed) as one parsed hash. */
export async function passwordChecker(setting: { kind: 'plain'; password: string } | { kind: 'hash'; hash: string }): Promise<(given: string) => Promise<boolean>> {
  const h = parsePasswordHash(setting.kind === 'hash' ? setting.hash : await hashPassword(setting.password));
  let running = 0;
  const waiting: Array<() => void> = [];
  return async (given) => {
    if (running >= MAX_CONCURRENT_CHECKS) await new Promise<void>((r) => waiting.push(r));
    running++;
    try {
      // Always a whole derivation and a comparison of equal lengths: the time says nothing.
      const got = await derive(typeof given === 'string' ? given.slice(0, 1024) : '', h, h.hash.length);
      return timingSafeEqual(got, h.hash);
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}
