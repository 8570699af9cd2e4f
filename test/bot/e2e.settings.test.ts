/**
 * End to end: `/settings` (Manage Server only) and what each setting does to requests:
 * persona in the system instruction, default model, channel allow-list, mentions, private
 * answers, allowed roles, search by default; settings survive a restart on the same SQLite
 * file. DMs follow `DMS`.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBot } from '../../src/bot/app.ts';
import { guildSettingsMeta } from '../../src/bot/settings.ts';
import {
  ALERT_CHANNEL_ID,
  APP_ID,
  CHANNEL_ID,
  GUILD_ID,
  MANAGE_GUILD,
  OWNER_ID,
  alice,
  bob,
  bool,
  expectWorldInvariants,
  replyAnswer,
  startWorld,
  str,
  waitForAnswer,
  type World,
} from './harness.ts';

const HELP_CHANNEL = '1100000000000000020';
const TRUSTED_ROLE = '1100000000000000030';
const admin = { user: alice, memberPermissions: MANAGE_GUILD };

describe('/settings', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({
      env: { STORE: 'sqlite', DATA_DIR: mkdtempSync(join(tmpdir(), 'bot-settings-')), SYSTEM_PROMPT: 'Be brief.' },
      discord: {
        guilds: [
          {
            id: GUILD_ID,
            ownerId: OWNER_ID,
            channels: [{ id: CHANNEL_ID, name: 'general' }, { id: HELP_CHANNEL, name: 'help' }, { id: ALERT_CHANNEL_ID, name: 'bot-alerts' }],
            roles: [{ id: TRUSTED_ROLE, name: 'trusted' }],
            members: [{ user: bob, roles: [TRUSTED_ROLE] }],
          },
        ],
      },
    });
  });
  afterAll(async () => {
    if (!w) return;
    expectWorldInvariants(w);
    // The bot of the last restart is not the one the world started with.
    await w.bot.stop();
    await w.close();
  });

  const settings = async (sub: string, options: Array<{ name: string; type: number; value: unknown }> = [], who: { user: typeof alice; memberPermissions: string } = admin) => {
    const it1 = await w.discord.sendCommand({ name: 'settings', options: [{ name: sub, type: 1, options }], channelId: CHANNEL_ID, ...who });
    await it1.waitForResponse();
    return it1;
  };
  const ask = async (prompt: string, opts: { channelId?: string; user?: typeof alice; extra?: Array<{ name: string; type: number; value: unknown }> } = {}) =>
    w.discord.sendCommand({ name: 'ask', options: [str('prompt', prompt), ...(opts.extra ?? [])], user: opts.user ?? alice, channelId: opts.channelId ?? CHANNEL_ID });
  const lastRequest = () => w.gemini.requests.filter((r) => r.route === 'streamGenerateContent').at(-1)!;

  it('is registered for Manage Server with the models as choices, and refused to members', async () => {
    const registered = (w.discord.commands.guild.get(GUILD_ID) ?? []).find((c: { name: string }) => c.name === 'settings');
    expect(registered.default_member_permissions).toBe(MANAGE_GUILD);
    const set = registered.options.find((o: { name: string }) => o.name === 'set');
    expect(set.options.find((o: { name: string }) => o.name === 'model').choices.map((c: { value: string }) => c.value)).toEqual(['gemini-2.5-flash', 'gemini-2.5-pro']);
    const refused = await settings('show', [], { user: bob, memberPermissions: '0' });
    expect(refused.ephemeral()).toBe(true);
    expect(refused.original()!.content).toContain('This command is for server admins');
  });

  it('persona, model and search reach Gemini; /settings show lists them', async () => {
    const saved = await settings('set', [str('persona', 'You are a pirate.'), str('model', 'gemini-2.5-pro'), bool('search', true)]);
    expect(saved.ephemeral()).toBe(true);
    expect(saved.original()!.content).toContain('Saved');
    const shown = await settings('show');
    const description = shown.original()!.embeds[0].description as string;
    expect(description).toContain('**Persona:** “You are a pirate.”');
    expect(description).toContain('**Model:** `gemini-2.5-pro`');
    expect(description).toContain('**Google Search by default:** on');

    await waitForAnswer(w, await ask('hello'));
    const req = lastRequest();
    expect(req.model).toBe('gemini-2.5-pro');
    expect(req.body.systemInstruction.parts[0].text).toBe('Be brief.\n\nYou are a pirate.');
    expect(req.body.tools).toEqual([{ googleSearch: {} }]);
    // A request that says otherwise wins.
    await waitForAnswer(w, await ask('no search', { extra: [bool('search', false), str('model', 'gemini-2.5-flash')] }));
    expect(lastRequest().body.tools).toBeUndefined();
    expect(lastRequest().model).toBe('gemini-2.5-flash');
  });

  it('honours the channel allow-list (a thread follows its channel) and the mentions switch', async () => {
    const bad = await settings('set', [str('channels', '<#1100000000000000099>')]);
    expect(bad.original()!.content).toBe('⚙️ Nothing was changed: not channels of this server: 1100000000000000099.');
    await settings('set', [str('channels', `<#${HELP_CHANNEL}>`)]);

    const refused = await ask('here?');
    await refused.waitForResponse();
    expect(refused.ephemeral()).toBe(true);
    expect(refused.original()!.content).toBe(`🔒 I only answer in <#${HELP_CHANNEL}> on this server.`);
    const before = w.gemini.requests.length;
    const ignored = w.discord.sendUserMessage({ channelId: CHANNEL_ID, content: `<@${APP_ID}> hello?`, author: alice });
    const thread = w.discord.createThread({ parentId: HELP_CHANNEL, name: 'question', owner: alice });
    const answered = w.discord.sendUserMessage({ channelId: thread.id, content: `<@${APP_ID}> in a help thread`, author: alice });
    await replyAnswer(w, answered);
    expect(w.gemini.requests.length).toBe(before + 1);
    expect(w.discord.channelMessages(CHANNEL_ID).filter((m) => m.referenceMessageId === ignored.id)).toHaveLength(0);

    await settings('set', [bool('mentions', false)]);
    const silent = w.discord.sendUserMessage({ channelId: HELP_CHANNEL, content: `<@${APP_ID}> anyone?`, author: alice });
    // A command it does answer, sent last: once its answer is there, the mention was handled.
    await waitForAnswer(w, await ask('still here', { channelId: HELP_CHANNEL }));
    expect(w.discord.channelMessages(HELP_CHANNEL).filter((m) => m.referenceMessageId === silent.id)).toHaveLength(0);
    await settings('reset', [str('setting', 'mentions')]);
    await settings('set', [str('channels', 'all')]);
  });

  it('private answers and roles', async () => {
    await settings('set', [bool('private', false), str('roles', `<@&${TRUSTED_ROLE}>`)]);
    const privateAsk = await ask('secret', { user: bob, extra: [bool('private', true)] });
    await privateAsk.waitForResponse();
    expect(privateAsk.original()!.content).toBe('🔒 Private answers are turned off on this server. Please ask without `private`.');
    const noRole = await ask('may I?');
    await noRole.waitForResponse();
    expect(noRole.original()!.content).toContain('only members with certain roles');
    const [answer] = await waitForAnswer(w, await ask('I may', { user: bob }));
    expect(answer!.content).toContain('echo: I may');
    await settings('reset', [str('setting', 'roles')]);
  });

  it('survives a restart on the same SQLite file; what the store holds is checked when read', async () => {
    await w.bot.stop();
    w.bot = await startBot(w.env, { logger: pino({ level: 'silent' }), registerCommands: false });
    const shown = await settings('show');
    expect(shown.original()!.embeds[0].description).toContain('You are a pirate.');
    expect(shown.original()!.embeds[0].description).toContain('**Members may ask for private answers:** off');
    await waitForAnswer(w, await ask('after restart'));
    expect(lastRequest().body.systemInstruction.parts[0].text).toBe('Be brief.\n\nYou are a pirate.');

    // A value that is not settings (written by hand, or by a broken version) is not trusted: defaults hold.
    await w.bot.stop();
    w.bot = await startBot(w.env, { logger: pino({ level: 'silent' }), registerCommands: false });
    await w.bot.store.setMeta(guildSettingsMeta(GUILD_ID), '{"channels":"everywhere","persona":42}');
    await waitForAnswer(w, await ask('with broken settings'));
    expect(lastRequest().body.systemInstruction.parts[0].text).toBe('Be brief.');
  });
});

describe('DMS=off', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({ env: { DMS: 'off' } });
  });
  afterAll(async () => {
    if (!w) return;
    expectWorldInvariants(w);
    await w.close();
  });

  it('DM messages and commands in a DM get one line; servers are answered', async () => {
    const dm = w.discord.nextId();
    w.discord.sendUserMessage({ channelId: dm, guildId: null, content: 'hello?', author: alice });
    await w.discord.waitFor(() => w.discord.channelMessages(dm).length === 1, 5000);
    expect(w.discord.channelMessages(dm)[0]!.content).toBe('🔒 I do not answer in DMs here. Please ask in a server we share.');
    const inDm = await w.discord.sendCommand({ name: 'ask', options: [str('prompt', 'hi')], user: alice, channelId: dm, guildId: null });
    await inDm.waitForResponse();
    expect(inDm.original()!.content).toBe('🔒 I do not answer in DMs here. Please ask in a server we share.');
    await waitForAnswer(w, await w.discord.sendCommand({ name: 'ask', options: [str('prompt', 'hi')], user: alice, channelId: CHANNEL_ID }));
    expect(w.gemini.requests.filter((r) => r.route === 'streamGenerateContent')).toHaveLength(1);
  });
});
