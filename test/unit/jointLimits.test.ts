/**
 * The one mechanism for per-client limits, as the bot uses it: a user and their server
 * admitted together (both counted, or neither), a reservation given back, and a store that
 * does not answer in time not holding the decision up.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ClientLimits, type ClientUsageStore } from '../../src/limits/clientLimits.ts';
import { MemoryStore } from '../../src/store/memory.ts';

/** 10:00 in Los Angeles on 2026-11-22: 14 h to the next Pacific midnight. */
const T = Date.UTC(2026, 10, 22, 18, 0, 0);
const H = 3_600_000;

const opened: ClientLimits[] = [];
afterEach(async () => {
  for (const l of opened.splice(0)) await l.close();
});
const limitsOver = (store: ClientUsageStore, options: ConstructorParameters<typeof ClientLimits>[1] = {}) => {
  const l = new ClientLimits(store, { flushIntervalMs: 0, ...options });
  opened.push(l);
  return l;
};

describe('ClientLimits.admitAll', () => {
  const user = 'discord:user:1';
  const guild = 'discord:guild:9';

  it('counts a request for every client named, or for none when one is over', async () => {
    const limits = limitsOver(new MemoryStore());
    const both = [
      { client: user, limits: { rpd: 5 } },
      { client: guild, limits: { rpd: 2 } },
    ];
    expect(await limits.admitAll(both, T)).toEqual({ ok: true });
    expect(await limits.admitAll(both, T + 1)).toEqual({ ok: true });
    // The server's limit is reached: refused, naming it, and the user's count does not move.
    expect(await limits.admitAll(both, T + 2)).toEqual({ ok: false, client: guild, limit: 'rpd', retryAfterMs: 14 * H - 2 });
    expect(await limits.admitAll(both, T + 3)).toEqual({ ok: false, client: guild, limit: 'rpd', retryAfterMs: 14 * H - 3 });
    for (let i = 0; i < 3; i++) expect((await limits.admit(user, { rpd: 5 }, T + 10 + i)).ok).toBe(true);
    expect(await limits.admit(user, { rpd: 5 }, T + 20)).toEqual({ ok: false, limit: 'rpd', retryAfterMs: 14 * H - 20 });
  });

  it('names the client whose limit frees last', async () => {
    const limits = limitsOver(new MemoryStore());
    const entries = [
      { client: user, limits: { rpm: 1 } },
      { client: guild, limits: { rpd: 1 } },
    ];
    expect((await limits.admitAll(entries, T)).ok).toBe(true);
    expect(await limits.admitAll(entries, T + 1_000)).toEqual({ ok: false, client: guild, limit: 'rpd', retryAfterMs: 14 * H - 1_000 });
    expect(await limits.admitAll([entries[0]!], T + 1_000)).toEqual({ ok: false, client: user, limit: 'rpm', retryAfterMs: 59_000 });
  });

  it('no limits: admitted, nothing read', async () => {
    const store = { clientUsage: () => Promise.reject(new Error('not read')), addClientUsage: () => Promise.resolve() };
    expect(await limitsOver(store).admitAll([{ client: user, limits: {} }], T)).toEqual({ ok: true });
  });

  it('release gives a reservation back to the day (not to the minute)', async () => {
    const limits = limitsOver(new MemoryStore());
    expect((await limits.admit(user, { rpd: 1 }, T)).ok).toBe(true);
    limits.release(user, T + 1);
    expect((await limits.admit(user, { rpd: 1 }, T + 2)).ok).toBe(true);
    expect((await limits.admit(user, { rpm: 2 }, T + 3)).ok).toBe(false);
  });

  it('a store that does not answer within readTimeoutMs: decided on what is known, at once', async () => {
    const hanging: ClientUsageStore = { clientUsage: () => new Promise(() => undefined), addClientUsage: () => Promise.resolve() };
    const limits = limitsOver(hanging, { readTimeoutMs: 20 });
    expect(await limits.admit(user, { rpd: 1 }, T)).toEqual({ ok: true });
    expect(await limits.admit(user, { rpd: 1 }, T + 1)).toMatchObject({ ok: false, limit: 'rpd' });
  });
});
