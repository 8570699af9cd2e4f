/**
 * The dashboard's safety parts on an injected clock: sessions (idle and absolute expiry,
 * renewal, logout), the per-address login limit, the constant-time checks of secrets and
 * passwords, and the sealing of added keys (AES-256-GCM under STATE_SECRET).
 */
import { describe, expect, it } from 'vitest';
import { KeyVault } from '../../src/addedKeys.ts';
import { hashPassword, passwordChecker } from '../../src/gateway/dashboard/password.ts';
import { LoginLimiter, MAX_SESSION_MS, sameSecret, sessionId, Sessions } from '../../src/gateway/dashboard/security.ts';
import { MemoryStore } from '../../src/store/memory.ts';

const MIN = 60_000;

function clock(start = Date.UTC(2026, 10, 22, 12)) {
  const c = { t: start, now: () => c.t };
  return c;
}

describe('sessions', () => {
  it('end after the idle time without use; use renews them; the store holds only the hash of the cookie', async () => {
    const c = clock();
    const store = new MemoryStore();
    const sessions = new Sessions(store, { idleMs: 30 * MIN, now: c.now });
    const { cookie, session } = await sessions.create();
    expect(session.id).toBe(sessionId(cookie));
    expect(session.id).not.toContain(cookie);
    expect(await store.getSession(cookie, c.t)).toBeUndefined();
    c.t += 29 * MIN;
    expect(await sessions.get(cookie, true)).toBeDefined();
    // Renewed at minute 29: good until minute 59.
    c.t += 29 * MIN;
    expect(await sessions.get(cookie, false)).toBeDefined();
    // Not renewed by a live stream (renew false): ends at minute 59.
    c.t += 2 * MIN;
    expect(await sessions.get(cookie, true)).toBeUndefined();
  });

  it('end after 12 hours however busy, and at logout', async () => {
    const c = clock();
    const sessions = new Sessions(new MemoryStore(), { idleMs: 30 * MIN, now: c.now });
    const { cookie } = await sessions.create();
    for (let t = 0; t < MAX_SESSION_MS - 20 * MIN; t += 20 * MIN) {
      c.t += 20 * MIN;
      expect(await sessions.get(cookie, true)).toBeDefined();
    }
    c.t += 20 * MIN;
    expect(await sessions.get(cookie, true)).toBeUndefined();
    const other = await sessions.create();
    expect(await sessions.get(other.cookie, true)).toBeDefined();
    await sessions.end(other.cookie);
    expect(await sessions.get(other.cookie, true)).toBeUndefined();
  });

  it('a made-up or oversized cookie finds nothing', async () => {
    const sessions = new Sessions(new MemoryStore(), { idleMs: MIN, now: Date.now });
    expect(await sessions.get('made-up', true)).toBeUndefined();
    expect(await sessions.get('x'.repeat(10_000), true)).toBeUndefined();
    expect(await sessions.get(undefined, true)).toBeUndefined();
  });
});

describe('the login limit', () => {
  it('allows 5 attempts a minute per address, sliding, and says how long to wait', () => {
    const c = clock();
    const limiter = new LoginLimiter({ now: c.now });
    for (let i = 0; i < 5; i++) {
      expect(limiter.take('203.0.113.7').ok).toBe(true);
      c.t += 1_000;
    }
    const refused = limiter.take('203.0.113.7');
    expect(refused).toEqual({ ok: false, retryAfterMs: 55_000 });
    // Another address is not held back by the first one.
    expect(limiter.take('198.51.100.1').ok).toBe(true);
    c.t += 55_000;
    expect(limiter.take('203.0.113.7').ok).toBe(true);
    expect(limiter.take('203.0.113.7').ok).toBe(false);
  });

  it('forgets the oldest addresses past its size', () => {
    const c = clock();
    const limiter = new LoginLimiter({ now: c.now, attempts: 1, maxAddresses: 3 });
    for (const a of ['a', 'b', 'c', 'd']) expect(limiter.take(a).ok).toBe(true);
    expect(limiter.take('a').ok).toBe(true);
    expect(limiter.take('d').ok).toBe(false);
  });
});

describe('secrets and passwords', () => {
  it('sameSecret: equal only for the same string, whatever the lengths', () => {
    expect(sameSecret('abc', 'abc')).toBe(true);
    expect(sameSecret('abd', 'abc')).toBe(false);
    expect(sameSecret('abcd', 'abc')).toBe(false);
    expect(sameSecret(undefined, 'abc')).toBe(false);
    expect(sameSecret('', 'abc')).toBe(false);
  });

  it('a plain password and its hash check the same way: the password, and nothing else', async () => {
    const plain = await passwordChecker({ kind: 'plain', password: 'correct horse battery' });
    const hashed = await passwordChecker({ kind: 'hash', hash: await hashPassword('correct horse battery') });
    for (const check of [plain, hashed]) {
      expect(await check('correct horse battery')).toBe(true);
      expect(await check('correct horse batter')).toBe(false);
      expect(await check('')).toBe(false);
    }
    await expect(hashPassword('short')).rejects.toThrow(/at least 12/);
  });

  it('many sign-ins at once are all answered (two derivations run at a time, the rest wait)', async () => {
    const check = await passwordChecker({ kind: 'plain', password: 'correct horse battery' });
    const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => check(i === 2 ? 'correct horse battery' : `wrong ${i}`)));
    expect(answers).toEqual([false, false, true, false, false]);
  });
});

describe('sealed keys', () => {
  it('open with the same secret only; a fresh IV each time; bound to their record; never the key in clear', async () => {
    const vault = await KeyVault.open('a-state-secret-for-tests');
    const hash = 'a'.repeat(32);
    const a = vault.seal('test-key-secret-1', hash);
    const b = vault.seal('test-key-secret-1', hash);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(a).not.toContain('test-key-secret-1');
    expect(Buffer.from(a.split('.')[3]!, 'base64url').toString('latin1')).not.toContain('test-key');
    expect(vault.unseal(a, hash)).toBe('test-key-secret-1');
    expect(() => vault.unseal(a, 'b'.repeat(32))).toThrow(/cannot be opened/);
    const other = await KeyVault.open('another-state-secret-entirely');
    expect(() => other.unseal(a, hash)).toThrow(/cannot be opened with this STATE_SECRET/);
    const parts = a.split('.');
    const flipped = Buffer.from(parts[3]!, 'base64url');
    flipped[0] = flipped[0]! ^ 1;
    expect(() => vault.unseal([parts[0], parts[1], parts[2], flipped.toString('base64url')].join('.'), hash)).toThrow(/cannot be opened/);
    await expect(KeyVault.open('short')).rejects.toThrow(/at least 16/);
  });
});
