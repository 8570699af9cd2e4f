import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory.ts';
import type { ConversationStore } from '../../src/store/types.ts';
import {
  DEFAULT_GUILD_SETTINGS,
  GuildSettingsStore,
  changeSettings,
  channelAllowed,
  guildSettingsMeta,
  modelFor,
  parseGuildSettings,
  roleAllowed,
  systemInstructionFor,
} from '../../src/bot/settings.ts';
import { idsIn } from '../../src/bot/settingsCommand.ts';

const place = (channelIds: string[], roleIds: string[] = []) => ({ guildId: '100001', channelIds, roleIds });

describe('server settings', () => {
  it('reads what was set over the defaults, and refuses what is not settings', () => {
    expect(parseGuildSettings(undefined).settings).toEqual(DEFAULT_GUILD_SETTINGS);
    expect(parseGuildSettings('{"persona":"Pirate","search":true,"extra":1}').settings).toEqual({ ...DEFAULT_GUILD_SETTINGS, persona: 'Pirate', search: true });
    expect(parseGuildSettings('{nope').problem).toBe('not JSON');
    const bad = parseGuildSettings(JSON.stringify({ persona: 'x'.repeat(2001) }));
    expect(bad.settings).toEqual(DEFAULT_GUILD_SETTINGS);
    expect(bad.problem).toMatch(/^persona: /);
    expect(parseGuildSettings('{"channels":["not-an-id"]}').settings).toEqual(DEFAULT_GUILD_SETTINGS);
  });

  it('changes: set fields replace, reset ones go back to the default', () => {
    const stored = changeSettings({}, { persona: 'A', channels: ['123456'], allowPrivate: false });
    expect(changeSettings(stored, { persona: 'B' }, ['channels', 'private'])).toEqual({ persona: 'B' });
  });

  it('channels, roles, model and system instruction', () => {
    const s = { ...DEFAULT_GUILD_SETTINGS, channels: ['200002'], roles: ['300003'], model: 'm2', persona: 'Pirate' };
    expect(channelAllowed(s, place(['900009', '200002']))).toBe(true);
    expect(channelAllowed(s, place(['900009']))).toBe(false);
    expect(channelAllowed(DEFAULT_GUILD_SETTINGS, place(['900009']))).toBe(true);
    expect(roleAllowed(s, place([], ['300003']))).toBe(true);
    expect(roleAllowed(s, place([], []))).toBe(false);
    expect(modelFor(s, ['m1', 'm2'], 'm1')).toBe('m2');
    // A model the bot no longer serves falls back to its default.
    expect(modelFor(s, ['m1'], 'm1')).toBe('m1');
    expect(systemInstructionFor('Be brief.', s)).toBe('Be brief.\n\nPirate');
    expect(systemInstructionFor(undefined, DEFAULT_GUILD_SETTINGS)).toBeUndefined();
    expect(idsIn('<#123456> , 234567 <@&345678> x12')).toEqual(['123456', '234567', '345678']);
  });

  it('a store that does not answer leaves the last known settings (or the defaults) in force', async () => {
    const memory = new MemoryStore();
    let stalled = false;
    const store = {
      getMeta: (name: string) => (stalled ? new Promise<never>(() => undefined) : memory.getMeta(name)),
      setMeta: (name: string, value: string) => memory.setMeta(name, value),
    } as unknown as ConversationStore;
    let now = 0;
    const settings = new GuildSettingsStore(store, { cacheMs: 10, timeoutMs: 50, now: () => now });
    await settings.change('100001', { persona: 'Pirate' });
    now = 100;
    stalled = true;
    expect((await settings.forGuild('100001')).persona).toBe('Pirate');
    expect(await new GuildSettingsStore(store, { timeoutMs: 50 }).forGuild('100001')).toEqual(DEFAULT_GUILD_SETTINGS);
    stalled = false;
    await memory.setMeta(guildSettingsMeta('100001'), JSON.stringify({ persona: 'Parrot' }));
    expect((await settings.forGuild('100001')).persona).toBe('Parrot');
  });
});
