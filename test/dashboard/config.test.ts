/** The dashboard's settings: a password of 12 characters or more (or a hash), STATE_SECRET, never echoed. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';

const base = { GEMINI_API_KEY: 'test-key-1' };

function problems(env: Record<string, string>): string {
  try {
    loadConfig({ ...base, ...env });
    return '';
  } catch (e) {
    return (e as Error).message;
  }
}

describe('dashboard configuration', () => {
  it('is off without a password, on with one of 12 characters or more', () => {
    expect(loadConfig(base).dashboard).toEqual({ password: undefined, sessionIdleMs: 30 * 60_000, trustProxy: false });
    const c = loadConfig({ ...base, DASHBOARD_PASSWORD: 'twelve chars', DASHBOARD_SESSION_IDLE_MINUTES: '5', DASHBOARD_TRUST_PROXY: 'true' });
    expect(c.dashboard).toEqual({ password: { kind: 'plain', password: 'twelve chars' }, sessionIdleMs: 300_000, trustProxy: true });
  });

  it('refuses a password under 12 characters without showing it', () => {
    const m = problems({ DASHBOARD_PASSWORD: 'elevenchars' });
    expect(m).toMatch(/DASHBOARD_PASSWORD: must be at least 12 characters/);
    expect(m).not.toContain('elevenchars');
  });

  it('takes a hash made by hash-password, refuses anything else and both at once', () => {
    const hash = `scrypt$15$8$1$${'A'.repeat(22)}$${'B'.repeat(43)}`;
    expect(loadConfig({ ...base, DASHBOARD_PASSWORD_HASH: hash }).dashboard.password).toEqual({ kind: 'hash', hash });
    expect(problems({ DASHBOARD_PASSWORD_HASH: 'plain-password-here' })).toMatch(/DASHBOARD_PASSWORD_HASH: is not a hash made by/);
    expect(problems({ DASHBOARD_PASSWORD_HASH: 'plain-password-here' })).not.toContain('plain-password-here');
    expect(problems({ DASHBOARD_PASSWORD_HASH: hash, DASHBOARD_PASSWORD: 'twelve chars' })).toMatch(/set either it or DASHBOARD_PASSWORD, not both/);
  });

  it('STATE_SECRET: at least 16 characters, never shown', () => {
    expect(loadConfig({ ...base, STATE_SECRET: 'sixteen-chars-ok' }).stateSecret).toBe('sixteen-chars-ok');
    expect(loadConfig(base).stateSecret).toBeUndefined();
    const m = problems({ STATE_SECRET: 'too-short-one' });
    expect(m).toMatch(/STATE_SECRET: must be at least 16 characters/);
    expect(m).not.toContain('too-short-one');
  });
});
