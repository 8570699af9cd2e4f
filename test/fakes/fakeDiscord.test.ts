import { once } from 'node:events';
import zlib from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  ActionRowBuilder,
  ButtonBuilder,
  ButtonStyle,
  ChannelType,
  Client,
  DiscordAPIError,
  EmbedBuilder,
  Events,
  GatewayIntentBits,
  MessageFlags,
  Partials,
  PermissionFlagsBits,
} from 'discord.js';
import type { ButtonInteraction, ChatInputCommandInteraction, Interaction, Message } from 'discord.js';
import { FakeDiscord, FakePermissions } from '../../fakes/fakeDiscord.ts';
import type { FakeDiscordOptions, FakeUser } from '../../fakes/fakeDiscord.ts';

const GUILD = '1000000000000000001';
const CHANNEL = '1000000000000000002';
const OWNER = '1000000000000000003';
const alice: FakeUser = { id: '1000000000000000010', username: 'alice', globalName: 'Alice' };

const baseOptions: FakeDiscordOptions = {
  applicationId: '1000000000000000099',
  guilds: [{ id: GUILD, name: 'Test Guild', ownerId: OWNER, channels: [{ id: CHANNEL, name: 'general' }] }],
};

const ALL_INTENTS = [
  GatewayIntentBits.Guilds,
  GatewayIntentBits.GuildMessages,
  GatewayIntentBits.MessageContent,
  GatewayIntentBits.DirectMessages,
];

let fake: FakeDiscord | undefined;
let client: Client | undefined;

afterEach(async () => {
  await client?.destroy();
  await fake?.close();
  client = undefined;
  fake = undefined;
});

/** Rejects after `ms` so no wait in these tests is unbounded. */
function within<T>(p: Promise<T>, ms = 4000, what = 'event'): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms).unref()),
  ]);
}

async function start(
  options: FakeDiscordOptions = baseOptions,
  clientOptions: { intents?: number[]; partials?: Partials[] } = {},
): Promise<{ fake: FakeDiscord; client: Client }> {
  fake = await FakeDiscord.start(options);
  client = new Client({
    intents: clientOptions.intents ?? ALL_INTENTS,
    partials: clientOptions.partials ?? [],
    rest: { api: fake.apiUrl },
  });
  const ready = once(client, Events.ClientReady);
  await client.login('fake-bot-token');
  await within(ready, 4000, 'clientReady');
  return { fake, client };
}

function nextInteraction(c: Client): Promise<Interaction> {
  return within(once(c, Events.InteractionCreate).then(([i]) => i as Interaction), 4000, 'interactionCreate');
}

describe('FakeDiscord with a real discord.js Client', () => {
  it('logs in and reaches ClientReady with guilds and channels cached', async () => {
    const { fake, client } = await start();
    expect(client.user?.id).toBe(fake.botUser.id);
    expect(client.application?.id).toBe('1000000000000000099');
    const guild = client.guilds.cache.get(GUILD);
    expect(guild?.name).toBe('Test Guild');
    expect(guild?.channels.cache.get(CHANNEL)?.type).toBe(ChannelType.GuildText);
    expect(fake.calls.some((c) => c.method === 'GET' && c.path === '/gateway/bot' && c.status === 200)).toBe(true);
    expect(fake.gateway.identifies).toBe(1);
    expect(fake.connected).toBe(true);
  });

  it('delivers a slash command as ChatInputCommandInteraction and records the reply', async () => {
    const { fake, client } = await start();
    const got = nextInteraction(client);
    const sent = await fake.sendCommand({
      name: 'ask',
      options: [{ name: 'prompt', type: 3, value: 'hello there' }],
      user: alice,
      channelId: CHANNEL,
      memberPermissions: FakePermissions.ManageGuild,
    });
    const interaction = (await got) as ChatInputCommandInteraction;
    expect(interaction.isChatInputCommand()).toBe(true);
    expect(interaction.commandName).toBe('ask');
    expect(interaction.options.getString('prompt')).toBe('hello there');
    expect(interaction.inCachedGuild()).toBe(true);
    expect(interaction.channelId).toBe(CHANNEL);
    expect(interaction.user.username).toBe('alice');
    expect(interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild)).toBe(true);
    expect(interaction.memberPermissions?.has(PermissionFlagsBits.Administrator)).toBe(false);

    await interaction.reply({ content: 'hi @everyone', allowedMentions: { parse: [] } });
    await sent.waitForResponse(1000);
    expect(sent.responseType()).toBe(4);
    const original = sent.original();
    expect(original?.content).toBe('hi @everyone');
    expect(original?.channelId).toBe(CHANNEL);
    expect(original?.allowedMentions).toEqual({ parse: [] });
    expect(original?.pings).toEqual({ everyone: false, users: [], roles: [] });
    expect(sent.ephemeral()).toBe(false);
    expect(fake.channelMessages(CHANNEL).map((m) => m.id)).toEqual([original?.id]);
  });

  it('records deferReply + editReply (original) and followUp (follow-ups), ephemeral flag included', async () => {
    const { fake, client } = await start();
    const got = nextInteraction(client);
    const sent = await fake.sendCommand({ name: 'ask', user: alice, channelId: CHANNEL });
    const interaction = (await got) as ChatInputCommandInteraction;
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    expect(sent.responseType()).toBe(5);
    expect(sent.original()?.flags).toBe(64 | 128); // ephemeral + loading
    await interaction.editReply({ content: 'answer', allowedMentions: { parse: [] } });
    const follow = await interaction.followUp({ content: 'more', allowedMentions: { parse: [] } });
    expect(follow.content).toBe('more');
    expect(sent.original()?.content).toBe('answer');
    expect(sent.original()?.edits).toBe(1);
    expect(sent.ephemeral()).toBe(true);
    expect(sent.followUps().map((m) => m.content)).toEqual(['more']);
    expect(fake.calls.map((c) => `${c.method} ${c.path.replace(/\/\d+\/[^/]+/, '/:id/:token')}`)).toEqual(
      expect.arrayContaining([
        'POST /interactions/:id/:token/callback',
        'PATCH /webhooks/:id/:token/messages/@original',
        'POST /webhooks/:id/:token',
      ]),
    );
    const fetched = await interaction.fetchReply();
    expect(fetched.content).toBe('answer');
  });

  it('lets the first follow-up after a defer fill the loading message, like Discord', async () => {
    const { fake, client } = await start();
    const got = nextInteraction(client);
    const sent = await fake.sendCommand({ name: 'ask', user: alice, channelId: CHANNEL });
    const interaction = (await got) as ChatInputCommandInteraction;
    await interaction.deferReply();
    await interaction.followUp({ content: 'first' });
    await interaction.followUp({ content: 'second' });
    expect(sent.original()?.content).toBe('first');
    expect(sent.followUps().map((m) => m.content)).toEqual(['second']);
  });

  it('answers with_response=true with an InteractionCallbackResponse', async () => {
    const { fake, client } = await start();
    const got = nextInteraction(client);
    const sent = await fake.sendCommand({ name: 'ask', user: alice, channelId: CHANNEL });
    const interaction = (await got) as ChatInputCommandInteraction;
    const response = await interaction.reply({ content: 'pong', withResponse: true });
    expect(response.interaction.id).toBe(sent.id);
    expect(response.resource?.message?.content).toBe('pong');
    expect(response.interaction.responseMessageId).toBe(sent.original()?.id);
  });

  it('rejects content over 2000 characters with 50035 and leaves the interaction unacknowledged', async () => {
    const { fake, client } = await start();
    const got = nextInteraction(client);
    const sent = await fake.sendCommand({ name: 'ask', user: alice, channelId: CHANNEL });
    const interaction = (await got) as ChatInputCommandInteraction;
    const error = await interaction.reply({ content: 'x'.repeat(2001) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DiscordAPIError);
    expect((error as DiscordAPIError).code).toBe(50035);
    expect((error as DiscordAPIError).status).toBe(400);
    expect(JSON.stringify((error as DiscordAPIError).rawError)).toContain('BASE_TYPE_MAX_LENGTH');
    expect(sent.responseType()).toBeUndefined();
    expect(fake.calls.at(-1)?.status).toBe(400);

    // the failed reply did not acknowledge anything, so the bot may still answer; 2000 is fine
    await interaction.reply({ content: 'y'.repeat(2000) });
    expect(sent.original()?.content.length).toBe(2000);
  });

  it('rejects 11 embeds, a 4097-char description, more than 6000 embed characters and empty messages', async () => {
    const { fake, client } = await start();
    const channel = client.channels.cache.get(CHANNEL);
    if (!channel?.isSendable()) throw new Error('channel not sendable');
    const embeds = Array.from({ length: 11 }, (_, i) => new EmbedBuilder().setTitle(`e${i}`));
    await expect(channel.send({ embeds })).rejects.toMatchObject({ code: 50035, status: 400 });
    await expect(channel.send({ embeds: [{ description: 'd'.repeat(4097) }] })).rejects.toMatchObject({ code: 50035 });
    const big = Array.from({ length: 2 }, () => ({ description: 'd'.repeat(3001) }));
    const error = await channel.send({ embeds: big }).catch((e: unknown) => e);
    expect((error as DiscordAPIError).code).toBe(50035);
    expect(JSON.stringify((error as DiscordAPIError).rawError)).toContain('MAX_EMBED_SIZE_EXCEEDED');
    await expect(channel.send({ content: '   ' })).rejects.toMatchObject({ code: 50006 });
    const ok = await channel.send({ embeds: Array.from({ length: 10 }, () => ({ title: 't' })), allowedMentions: { parse: [] } });
    expect(fake.messages.get(ok.id)?.embeds).toHaveLength(10);
    expect(fake.calls.filter((c) => c.status === 400)).toHaveLength(4);
  });

  it('answers edit floods with 429 that discord.js waits out; the final content arrives', async () => {
    const { fake, client } = await start({ ...baseOptions, editLimit: { perMessage: 3, windowMs: 600 } });
    const channel = client.channels.cache.get(CHANNEL);
    if (!channel?.isSendable()) throw new Error('channel not sendable');
    const rateLimited: unknown[] = [];
    client.rest.on('rateLimited', (info) => rateLimited.push(info));
    const msg = await channel.send({ content: 'v0', allowedMentions: { parse: [] } });
    const started = Date.now();
    for (let i = 1; i <= 8; i++) await msg.edit({ content: `v${i}`, allowedMentions: { parse: [] } });
    expect(Date.now() - started).toBeLessThan(4000);
    const stored = fake.messages.get(msg.id);
    expect(stored?.content).toBe('v8');
    expect(stored?.edits).toBe(8);
    const limited = fake.rateLimitedCalls();
    expect(limited.length).toBeGreaterThanOrEqual(1);
    expect(limited[0]?.method).toBe('PATCH');
    expect(limited[0]?.response).toMatchObject({ message: 'You are being rate limited.', global: false });
    expect((limited[0]?.response as { retry_after: number }).retry_after).toBeLessThanOrEqual(1);
    expect(rateLimited.length).toBeGreaterThanOrEqual(1);
  });

  it('rate limits interaction reply edits per message too', async () => {
    const { fake, client } = await start({ ...baseOptions, editLimit: { perMessage: 2, windowMs: 300 } });
    const got = nextInteraction(client);
    const sent = await fake.sendCommand({ name: 'ask', user: alice, channelId: CHANNEL });
    const interaction = (await got) as ChatInputCommandInteraction;
    await interaction.deferReply();
    for (let i = 1; i <= 5; i++) await interaction.editReply({ content: `part ${i}` });
    expect(sent.original()?.content).toBe('part 5');
    expect(fake.rateLimitedCalls().length).toBeGreaterThanOrEqual(1);
  });

  it('creates a thread (THREAD_CREATE) and delivers a user message in it with isThread() true', async () => {
    const { fake, client } = await start();
    const channel = client.channels.cache.get(CHANNEL);
    if (channel?.type !== ChannelType.GuildText) throw new Error('no text channel');
    const starter = await channel.send({ content: 'topic', allowedMentions: { parse: [] } });
    const thread = await starter.startThread({ name: 'chat about topic' });
    expect(thread.id).toBe(starter.id); // Discord: a thread from a message has the message's id
    expect(thread.isThread()).toBe(true);
    expect(fake.threads.get(thread.id)).toMatchObject({ parentId: CHANNEL, name: 'chat about topic', ownerId: fake.botUser.id, messageId: starter.id });

    const standalone = await channel.threads.create({ name: 'standalone', type: ChannelType.PublicThread });
    expect(fake.threads.get(standalone.id)?.type).toBe(11);

    const received = within(
      new Promise<Message>((resolve) => {
        client.on(Events.MessageCreate, (m) => {
          if (!m.author.bot) resolve(m);
        });
      }),
      4000,
      'messageCreate',
    );
    const sentMsg = fake.sendUserMessage({ channelId: thread.id, content: 'follow-up question', author: alice });
    const msg = await received;
    expect(msg.id).toBe(sentMsg.id);
    expect(msg.channel.isThread()).toBe(true);
    expect(msg.channelId).toBe(thread.id);
    expect(msg.content).toBe('follow-up question');
    expect(msg.guildId).toBe(GUILD);

    await thread.send({ content: 'reply in thread', allowedMentions: { parse: [] } });
    expect(fake.channelMessages(thread.id).map((m) => m.content)).toEqual(['reply in thread']);
    expect(fake.channelMessages(thread.id, { includeUsers: true })).toHaveLength(2);
  });

  it('serves uploaded files from its CDN route at the URL a message or an attachment option gives', async () => {
    const { fake, client } = await start();
    const received = within(
      new Promise<Message>((resolve) => client.on(Events.MessageCreate, (m) => !m.author.bot && resolve(m))),
      4000,
      'messageCreate',
    );
    fake.sendUserMessage({ channelId: CHANNEL, content: 'see file', author: alice, attachments: [{ filename: 'a b.txt', contentType: 'text/plain', data: 'hello file' }] });
    const file = (await received).attachments.first()!;
    expect(file).toMatchObject({ name: 'a b.txt', size: 10, contentType: 'text/plain' });
    const res = await fetch(file.url);
    expect([res.status, res.headers.get('content-length'), await res.text()]).toEqual([200, '10', 'hello file']);
    expect(fake.cdnRequests).toEqual([`/attachments/${CHANNEL}/${file.id}/a%20b.txt`]);

    const liar = fake.upload({ filename: 'big.png', contentType: 'image/png', data: Buffer.alloc(100_000), declaredSize: 5, omitLength: true });
    const got = nextInteraction(client);
    await fake.sendCommand({ name: 'ask', options: [{ name: 'attachment', type: 11, value: liar.id }], user: alice, channelId: CHANNEL });
    const option = ((await got) as ChatInputCommandInteraction).options.getAttachment('attachment')!;
    expect(option.size).toBe(5);
    const big = await fetch(option.url);
    expect(big.headers.get('content-length')).toBeNull();
    expect((await big.arrayBuffer()).byteLength).toBe(100_000);
    expect((await fetch(`${fake.apiUrl.replace(/\/api$/, '')}/attachments/${CHANNEL}/1/none.png`)).status).toBe(404);
  });

  it('blanks content of other users without the MessageContent intent unless the bot is mentioned', async () => {
    const { fake, client } = await start(baseOptions, { intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages] });
    const seen: string[] = [];
    client.on(Events.MessageCreate, (m) => {
      if (!m.author.bot) seen.push(m.content);
    });
    fake.sendUserMessage({ channelId: CHANNEL, content: 'secret', author: alice });
    fake.sendUserMessage({ channelId: CHANNEL, content: `<@${fake.botUser.id}> hi`, author: alice });
    await fake.waitFor(() => seen.length === 2, 2000);
    expect(seen).toEqual(['', `<@${fake.botUser.id}> hi`]);
  });

  it('delivers button clicks as ButtonInteraction and records an update', async () => {
    const { fake, client } = await start();
    const channel = client.channels.cache.get(CHANNEL);
    if (!channel?.isSendable()) throw new Error('channel not sendable');
    const row = new ActionRowBuilder<ButtonBuilder>().addComponents(
      new ButtonBuilder().setCustomId('retry').setLabel('Retry').setStyle(ButtonStyle.Primary),
    );
    const msg = await channel.send({ content: 'failed', components: [row], allowedMentions: { parse: [] } });
    const got = nextInteraction(client);
    const sent = await fake.sendButton({ customId: 'retry', user: alice, channelId: CHANNEL, messageId: msg.id });
    const interaction = (await got) as ButtonInteraction;
    expect(interaction.isButton()).toBe(true);
    expect(interaction.customId).toBe('retry');
    expect(interaction.message.id).toBe(msg.id);
    await interaction.update({ content: 'retrying…', components: [] });
    expect(sent.responseType()).toBe(7);
    expect(fake.messages.get(msg.id)).toMatchObject({ content: 'retrying…', components: [], edits: 1 });
    expect(sent.original()?.id).toBe(msg.id);
  });

  it('handles DMs: commands without a member and user messages with Partials.Channel', async () => {
    const { fake, client } = await start(baseOptions, { intents: ALL_INTENTS, partials: [Partials.Channel] });
    const dm = '1000000000000000500';
    const got = nextInteraction(client);
    const sent = await fake.sendCommand({ name: 'ask', user: alice, guildId: null, channelId: dm });
    const interaction = (await got) as ChatInputCommandInteraction;
    expect(interaction.inGuild()).toBe(false);
    expect(interaction.member).toBeNull();
    expect(interaction.memberPermissions).toBeNull();
    expect(interaction.channelId).toBe(dm);
    await interaction.reply({ content: 'in DM', allowedMentions: { parse: [] } });
    expect(sent.original()?.channelId).toBe(dm);

    const received = within(once(client, Events.MessageCreate).then(([m]) => m as Message), 4000, 'DM messageCreate');
    fake.sendUserMessage({ channelId: dm, guildId: null, content: 'hello bot', author: alice });
    const msg = await received;
    expect(msg.channel.isDMBased()).toBe(true);
    expect(msg.content).toBe('hello bot');
  });

  it('refuses a second callback with 40060 and a late first callback with 10062', async () => {
    const { fake } = await start({ ...baseOptions, interactionAckTimeoutMs: 200 });
    const first = await fake.sendCommand({ name: 'ask', user: alice, channelId: CHANNEL });
    const url = `${fake.apiUrl}/v10/interactions/${first.id}/${first.token}/callback`;
    const post = (body: unknown): Promise<Response> =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post({ type: 5 })).status).toBe(204);
    const again = await post({ type: 4, data: { content: 'x' } });
    expect(again.status).toBe(400);
    expect(await again.json()).toEqual({ message: 'Interaction has already been acknowledged.', code: 40060 });

    const late = await fake.sendCommand({ name: 'ask', user: alice, channelId: CHANNEL });
    await new Promise((r) => setTimeout(r, 250));
    const res = await fetch(`${fake.apiUrl}/v10/interactions/${late.id}/${late.token}/callback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 4, data: { content: 'late' } }),
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ code: 10062 });
  });

  it('expires interaction webhook tokens after 15 minutes of the injected clock', async () => {
    let now = 1_000_000;
    const { fake, client } = await start({ ...baseOptions, now: () => now });
    const got = nextInteraction(client);
    await fake.sendCommand({ name: 'ask', user: alice, channelId: CHANNEL });
    const interaction = (await got) as ChatInputCommandInteraction;
    await interaction.deferReply();
    now += 15 * 60 * 1000 + 1;
    await expect(interaction.editReply('too late')).rejects.toMatchObject({ code: 50027, status: 401 });
  });

  it('stores and echoes application commands; a command then carries the registered id', async () => {
    const { fake, client } = await start();
    const set = await client.application!.commands.set([
      { name: 'ask', description: 'Ask the model', options: [{ name: 'prompt', description: 'What to ask', type: 3, required: true }] },
      { name: 'stats', description: 'Pool stats', defaultMemberPermissions: PermissionFlagsBits.ManageGuild },
    ]);
    expect(set.size).toBe(2);
    expect(fake.commands.global.map((c) => c.name)).toEqual(['ask', 'stats']);
    expect(fake.commands.global[1].default_member_permissions).toBe('32');
    await client.application!.commands.set([{ name: 'local', description: 'Guild only' }], GUILD);
    expect(fake.commands.guild.get(GUILD)?.[0]?.guild_id).toBe(GUILD);
    await expect(client.application!.commands.set([{ name: 'Bad Name', description: 'x' }])).rejects.toMatchObject({ code: 50035 });

    const got = nextInteraction(client);
    await fake.sendCommand({ name: 'ask', user: alice, channelId: CHANNEL });
    const interaction = (await got) as ChatInputCommandInteraction;
    expect(interaction.commandId).toBe(fake.commands.global[0].id);
  });

  it('answers unknown routes with Discord-shaped 404s and records them', async () => {
    const { fake } = await start();
    const res = await fetch(`${fake.apiUrl}/v10/nope/123`, { headers: { authorization: 'Bot x' } });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ message: '404: Not Found', code: 0 });
    expect(fake.calls.at(-1)).toMatchObject({ method: 'GET', path: '/nope/123', status: 404 });
    const unknown = await fetch(`${fake.apiUrl}/v10/channels/42/messages`, {
      method: 'POST',
      headers: { authorization: 'Bot x', 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'x' }),
    });
    expect(await unknown.json()).toEqual({ message: 'Unknown Channel', code: 10003 });
  });

  it('resumes after closeGateway and replays events dispatched while disconnected', async () => {
    const { fake, client } = await start();
    const reconnecting = within(once(client, Events.ShardReconnecting), 2000, 'shardReconnecting');
    fake.closeGateway(4000);
    await reconnecting;
    expect(fake.connected).toBe(false);
    const got = nextInteraction(client);
    await fake.sendCommand({ name: 'ask', user: alice, channelId: CHANNEL }); // queued for the resume
    const interaction = await got;
    expect(interaction.isChatInputCommand()).toBe(true);
    expect(fake.gateway.resumes).toBe(1);
    expect(fake.gateway.identifies).toBe(1);
    await fake.waitForReady(2000);

    fake.closeGateway(); // a cut connection (1006) resumes too
    await fake.waitFor(() => fake.gateway.resumes === 2 && fake.connected, 3000);
    expect(fake.gateway.identifies).toBe(1);
  });

  it('supports injected faults', async () => {
    const { fake, client } = await start();
    fake.injectFault({ method: 'POST', path: `/channels/${CHANNEL}/messages`, status: 403, body: { message: 'Missing Permissions', code: 50013 } });
    const channel = client.channels.cache.get(CHANNEL);
    if (!channel?.isSendable()) throw new Error('channel not sendable');
    await expect(channel.send('x')).rejects.toMatchObject({ code: 50013 });
    await expect(channel.send('x')).resolves.toBeDefined();
  });

  it('sends multipart files and records their payload_json and attachments', async () => {
    const { fake, client } = await start();
    const channel = client.channels.cache.get(CHANNEL);
    if (!channel?.isSendable()) throw new Error('channel not sendable');
    const msg = await channel.send({ content: 'see file', files: [{ attachment: Buffer.from('hello'), name: 'a.txt' }], allowedMentions: { parse: [] } });
    const call = fake.calls.find((c) => c.method === 'POST' && c.path === `/channels/${CHANNEL}/messages`);
    expect(call?.body).toMatchObject({ content: 'see file', allowed_mentions: { parse: [] } });
    expect(call?.files?.[0]).toMatchObject({ filename: 'a.txt', size: 5 });
    expect(msg.attachments.first()?.name).toBe('a.txt');
  });

  it('client.destroy() ends the gateway session, and fake.close() stops serving', async () => {
    const { fake, client: c } = await start();
    expect(fake.connected).toBe(true);
    const apiUrl = fake.apiUrl;
    expect((await fetch(`${apiUrl}/v10/gateway/bot`, { headers: { authorization: 'Bot x' } })).status).toBe(200);
    await c.destroy();
    client = undefined;
    await fake.waitFor(() => !fake.connected, 2000);
    await fake.close();
    // Nothing listens on the port any more, and a second close is harmless.
    await expect(fetch(`${apiUrl}/v10/gateway/bot`, { headers: { authorization: 'Bot x' } })).rejects.toThrow(TypeError);
    await fake.close();
  });

  it('speaks zlib-stream when a client asks for it', async () => {
    fake = await FakeDiscord.start(baseOptions);
    const ws = new WebSocket(`${fake.gatewayUrl}?v=10&encoding=json&compress=zlib-stream`);
    const [data] = (await within(once(ws, 'message'), 2000, 'hello')) as [Buffer];
    const hello = JSON.parse(zlib.inflateSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString('utf8'));
    expect(hello.op).toBe(10);
    ws.terminate();
  });
});
