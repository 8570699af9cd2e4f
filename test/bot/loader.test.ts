import { describe, expect, it } from 'vitest';
import { ApplicationCommandType, ContextMenuCommandBuilder, SlashCommandBuilder, PermissionFlagsBits } from 'discord.js';
import type { RESTPostAPIApplicationCommandsJSONBody, RESTPostAPIChatInputApplicationCommandsJSONBody } from 'discord.js';
import { CommandLoadError, commandPayloads, loadCommands, validateCommand } from '../../src/bot/loader.ts';
import { commandsHash, syncCommands } from '../../src/bot/sync.ts';
import { MemoryStore } from '../../src/store/memory.ts';

const ADMIN = ['api-key-stats', 'pool-stats', 'reset-pool', 'reset-api-stats', 'settings', 'usage'];

/** The part of the configuration the definitions are built from. */
const settings = (models: string[], maxPromptChars = 4000) => ({ gemini: { models }, bot: { maxPromptChars } });
/** A registered slash command's definition (context-menu ones have no options). */
const slash = (p: RESTPostAPIApplicationCommandsJSONBody | undefined): RESTPostAPIChatInputApplicationCommandsJSONBody => p as RESTPostAPIChatInputApplicationCommandsJSONBody;
/** `max_length` of the `prompt` option of a command. */
const promptMax = (payloads: ReturnType<typeof commandPayloads>, name: string): number | undefined =>
  (slash(payloads.find((p) => p.name === name)).options!.find((o) => o.name === 'prompt') as { max_length?: number }).max_length;

describe('command loader', () => {
  it('loads every command in commands/, one per file, admin ones flagged and restricted', async () => {
    const commands = await loadCommands();
    expect([...commands.keys()].sort()).toEqual(
      ['Ask Gemini about this', 'api-key-stats', 'art', 'ask', 'chat', 'chat-end', 'pool-stats', 'reset-api-stats', 'reset-pool', 'settings', 'status', 'usage'].sort(),
    );
    for (const [name, c] of commands) {
      const json = c.data.toJSON();
      expect(Boolean(c.adminOnly)).toBe(ADMIN.includes(name));
      expect(json.default_member_permissions ?? null).toBe(ADMIN.includes(name) ? PermissionFlagsBits.ManageGuild.toString() : null);
    }
  });

  it('fills model choices from the configuration and validates option ranges', async () => {
    const commands = await loadCommands();
    const payloads = commandPayloads(commands.values(), settings(['gemini-2.5-flash', 'gemini-2.5-pro']));
    const ask = slash(payloads.find((p) => p.name === 'ask'));
    const model = ask.options!.find((o) => o.name === 'model') as { choices?: Array<{ value: string }> };
    expect(model.choices!.map((c) => c.value)).toEqual(['gemini-2.5-flash', 'gemini-2.5-pro']);
    const temperature = ask.options!.find((o) => o.name === 'temperature') as { min_value?: number; max_value?: number };
    expect([temperature.min_value, temperature.max_value]).toEqual([0, 2]);
  });

  it('registers the prompt options with MAX_PROMPT_CHARS as their longest length (at most Discord\'s 6,000)', async () => {
    const commands = await loadCommands();
    const payloads = commandPayloads(commands.values(), settings(['m1'], 4000));
    expect(promptMax(payloads, 'ask')).toBe(4000);
    expect(promptMax(payloads, 'chat')).toBe(4000);
    expect(promptMax(commandPayloads(commands.values(), settings(['m1'], 500)), 'ask')).toBe(500);
    expect(promptMax(commandPayloads(commands.values(), settings(['m1'], 10_000)), 'ask')).toBe(6000);
    // Other string options keep their own limits.
    const art = slash(payloads.find((p) => p.name === 'art')).options!.find((o) => o.name === 'topic') as { max_length?: number };
    expect(art.max_length).toBe(200);
  });

  it('takes a message context-menu command from the file named after it, with `menu` instead of `execute`', () => {
    const data = new ContextMenuCommandBuilder().setName('Ask Gemini about this').setType(ApplicationCommandType.Message);
    const menu = async () => undefined;
    expect(validateCommand('ask-gemini-about-this.ts', { data, menu }).data.name).toBe('Ask Gemini about this');
    expect(() => validateCommand('ask.ts', { data, menu })).toThrow(/named "Ask Gemini about this" but its file says "ask"/);
    expect(() => validateCommand('ask-gemini-about-this.ts', { data, execute: menu })).toThrow(/`menu`/);
  });

  it('rejects malformed command modules with the file name', () => {
    expect(() => validateCommand('x.ts', {})).toThrow(CommandLoadError);
    const data = new SlashCommandBuilder().setName('y').setDescription('d');
    expect(() => validateCommand('x.ts', { data, execute: async () => undefined })).toThrow(/named "y" but its file says "x"/);
    const admin = new SlashCommandBuilder().setName('x').setDescription('d').setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild);
    expect(() => validateCommand('x.ts', { data: admin, execute: async () => undefined })).toThrow(/adminOnly/);
    expect(() => validateCommand('x.ts', { data: new SlashCommandBuilder().setName('x').setDescription('d'), execute: async () => undefined, adminOnly: true })).toThrow(/setDefaultMemberPermissions/);
  });
});

describe('command registration', () => {
  it('the hash changes with the target guild, the definitions, the models and MAX_PROMPT_CHARS', async () => {
    const commands = await loadCommands();
    const a = commandPayloads(commands.values(), settings(['m1']));
    const b = commandPayloads(commands.values(), settings(['m1', 'm2']));
    const target = { applicationId: '1', guildId: '2' };
    expect(commandsHash(target, a)).toBe(commandsHash(target, [...a].reverse()));
    expect(commandsHash(target, a)).not.toBe(commandsHash({ ...target, guildId: undefined }, a));
    expect(commandsHash(target, a)).not.toBe(commandsHash(target, b));
    // A new MAX_PROMPT_CHARS is a new definition: registered again on the next start.
    const shorter = commandPayloads(commands.values(), settings(['m1'], 500));
    expect(commandsHash(target, a)).not.toBe(commandsHash(target, shorter));
  });

  it('registers only when the hash changed', async () => {
    const calls: Array<{ route: string; body: unknown }> = [];
    const rest = { put: async (route: string, o: { body: unknown[] }) => (calls.push({ route, body: o.body }), o.body) };
    const store = new MemoryStore();
    const payloads = commandPayloads((await loadCommands()).values(), settings(['m1']));
    const target = { applicationId: '11111', guildId: '22222' };
    expect((await syncCommands(rest as never, store, target, payloads)).registered).toBe(true);
    expect((await syncCommands(rest as never, store, target, payloads)).registered).toBe(false);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.route).toBe('/applications/11111/guilds/22222/commands');
    expect((await syncCommands(rest as never, store, { ...target, guildId: undefined }, payloads)).registered).toBe(true);
    expect(calls[1]!.route).toBe('/applications/11111/commands');
  });
});
