import { describe, expect, it } from 'vitest';
import { describeStartFailure } from '../../src/startFailure.ts';

describe('describeStartFailure', () => {
  it('names the cause an operator can fix, in one line', () => {
    const rejected = 'Discord rejected DISCORD_TOKEN (reset it in the Developer Portal -> Bot, and update .env)';
    expect(describeStartFailure(new Error('An invalid token was provided.'))).toBe(rejected);
    expect(describeStartFailure(Object.assign(new Error('401: Unauthorized'), { status: 401, code: 0 }))).toBe(rejected);
    expect(describeStartFailure(new Error('Used disallowed intents'))).toMatch(/^Discord refused the Message Content intent/);
    expect(describeStartFailure(Object.assign(new Error('Missing Access'), { status: 403, code: 50001 }))).toMatch(/^Discord refused access \(Missing Access\): is the bot in the server DISCORD_GUILD_ID names/);
    expect(describeStartFailure(new Error('first line\n    at somewhere (file.ts:1:1)'))).toBe('first line');
    expect(describeStartFailure('plain')).toBe('plain');
  });

  it('a network failure says Discord could not be reached, where, and what to check', () => {
    expect(describeStartFailure(new Error('getaddrinfo ENOTFOUND discord.com'))).toBe(
      'cannot reach Discord discord.com (ENOTFOUND): check the network, a firewall or proxy, and DISCORD_API_URL if it is set',
    );
    expect(describeStartFailure(new Error('connect ECONNREFUSED 127.0.0.1:9'))).toMatch(/^cannot reach Discord 127\.0\.0\.1:9 \(ECONNREFUSED\)/);
  });
});
