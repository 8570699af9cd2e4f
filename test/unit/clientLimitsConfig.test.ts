/**
 * The configuration of fair shares and per-client limits: CLIENT_WEIGHTS parsed into the
 * pool's client names, the queue's wait bound, the bot's user and server limits.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { poolOptions } from '../../src/services.ts';

const base = { GEMINI_API_KEY: 'test-key-1' };

describe('fair shares and per-client limits in the configuration', () => {
  it('defaults: a 10 s bound behind others, no weights, no limits, admins exempt', () => {
    const c = loadConfig(base);
    expect(c.limits).toMatchObject({ maxWaitMs: 10_000, clientWeights: {} });
    expect(c.bot.clientLimits).toEqual({ userRpm: undefined, userDailyRequests: undefined, guildDailyRequests: undefined, exemptAdmins: true });
  });

  it('reads them, and hands the weights to the pool under its client names (a token by its bare name)', () => {
    const c = loadConfig({
      ...base,
      GEMINI_MAX_QUEUE_WAIT_MS: '5000',
      CLIENT_WEIGHTS: 'token:web-app=3, discord:guild:123456789012345678=2,cli=0.5,discord:user:123456789012345679=1',
      USER_RPM: '5',
      USER_DAILY_REQUESTS: '100',
      GUILD_DAILY_REQUESTS: '1000',
      LIMITS_EXEMPT_ADMINS: 'false',
    });
    expect(c.bot.clientLimits).toEqual({ userRpm: 5, userDailyRequests: 100, guildDailyRequests: 1000, exemptAdmins: false });
    expect(poolOptions(c).limits).toMatchObject({
      maxWaitMs: 5_000,
      clientWeights: { 'web-app': 3, 'discord:guild:123456789012345678': 2, cli: 0.5, 'discord:user:123456789012345679': 1 },
    });
  });

  it('a bad weight or client name is one problem line each, naming the entry', () => {
    let problems: string[] = [];
    try {
      loadConfig({ ...base, CLIENT_WEIGHTS: 'token:web-app=0,someone=2', USER_RPM: '0' });
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      problems = (e as ConfigError).problems;
    }
    expect(problems).toEqual([
      'CLIENT_WEIGHTS: entry 1 must look like token:NAME=3, discord:guild:ID=2, discord:user:ID=2 or cli=1, with a weight > 0 (got "token:web-app=0")',
      'USER_RPM: must be a whole number from 1 to 9007199254740991 (got "0")',
    ]);
  });
});
