/**
 * A fake Discord (REST over node:http + gateway over `ws`) on 127.0.0.1, for tests that drive
 * a REAL discord.js v14 `Client`:
 *
 * ```ts
 * const fake = await FakeDiscord.start({ guilds: [{ id: '100', channels: [{ id: '200' }] }] });
 * const client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: fake.apiUrl } });
 * const ready = once(client, Events.ClientReady);
 * await client.login('fake-bot-token');
 * await ready;
 * const it = await fake.sendCommand({ name: 'ask', options: [{ name: 'prompt', type: 3, value: 'hi' }],
 *   user: { id: '300', username: 'alice' }, channelId: '200' });
 * await it.waitForResponse();
 * await client.destroy();
 * await fake.close();
 * ```
 *
 * What it speaks (API v10, JSON encoding, optional zlib-stream):
 * - gateway: HELLO, heartbeat ACK, IDENTIFY → READY (+ GUILD_CREATE per guild), RESUME (replays
 *   what the session missed), REQUEST_GUILD_MEMBERS → GUILD_MEMBERS_CHUNK. Dispatches
 *   INTERACTION_CREATE, MESSAGE_CREATE/UPDATE/DELETE (also for the bot's own non-ephemeral
 *   messages, like Discord), THREAD_CREATE/UPDATE. Intents are enforced like Discord: no
 *   GUILD_CREATE/THREAD_* without `Guilds`, no guild messages without `GuildMessages`, no DM
 *   messages without `DirectMessages`, and empty `content` (and embeds, attachments,
 *   components) in other users' guild messages without `MessageContent`, unless the bot is
 *   mentioned.
 * - REST: the routes a bot uses (interaction callbacks, interaction webhooks, channel
 *   messages, threads, typing, reactions, commands, users, guilds, DMs). Every call is recorded
 *   in {@link FakeDiscord.calls}; unknown routes answer 404 like Discord and are recorded too.
 * - limits like Discord, with its error bodies: content > 2000, embeds (title 256,
 *   description 4096, 25 fields, field name 256 / value 1024, footer 2048, author 256, 6000 in
 *   total, 10 a message), 5 action rows, empty messages (code 50006), a second interaction
 *   callback (40060), a first callback after 3 s (10062), webhook tokens after 15 min (50027),
 *   and per-message edit floods (429 with the headers discord.js reads; it waits and retries).
 *
 * Its public types are in discord/types.ts; Discord's error bodies and payload checks in
 * discord/restChecks.ts. The server itself (state, REST routes, gateway) is this one class.
 */
import http from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { WebSocketServer } from 'ws';
import type { RawData, WebSocket } from 'ws';
import {
  addError,
  apiError,
  type ErrorTree,
  formError,
  hasErrors,
  IS_COMPONENTS_V2,
  isEmptyMessage,
  isObj,
  json,
  maxLen,
  noContent,
  type Reply,
  strLen,
  unknownChannel,
  unknownInteraction,
  unknownMessage,
  unknownWebhook,
  validateCommands,
  validateMessageBody,
} from './discord/restChecks.ts';
import {
  FakePermissions,
  type FakeAttachment,
  type FakeCommandOption,
  type FakeDiscordOptions,
  type FakeFault,
  type FakeFile,
  type FakeGuildConfig,
  type FakeInteraction,
  type FakeInteractionContext,
  type FakeMessage,
  type FakePings,
  type FakeThread,
  type FakeUser,
  type RecordedCall,
  type SendAutocompleteOptions,
  type SendButtonOptions,
  type SendCommandOptions,
  type SendComponentOptions,
  type SendModalSubmitOptions,
  type SendUserMessageOptions,
  type SendMessageCommandOptions,
  type FakeUpload,
} from './discord/types.ts';

export { FakePermissions };
export type {
  FakeAttachment,
  FakeChannelConfig,
  FakeCommandOption,
  FakeDiscordOptions,
  FakeFault,
  FakeFile,
  FakeGuildConfig,
  FakeInteraction,
  FakeInteractionContext,
  FakeMemberConfig,
  FakeMessage,
  FakePings,
  FakeRoleConfig,
  FakeThread,
  FakeUser,
  RecordedCall,
  SendAutocompleteOptions,
  SendButtonOptions,
  SendCommandOptions,
  SendComponentOptions,
  SendModalSubmitOptions,
  SendUserMessageOptions,
  SendMessageCommandOptions,
  FakeUpload,
} from './discord/types.ts';

/* ------------------------------------------------------------------------------------------ */
/* Internals                                                                                   */
/* ------------------------------------------------------------------------------------------ */

const EPHEMERAL = 64;
const LOADING = 128;
const SUPPRESS_EMBEDS = 4;
const SUPPRESS_NOTIFICATIONS = 4096;
const HAS_THREAD = 32;
const INTENT_GUILDS = 1;
const INTENT_GUILD_MESSAGES = 1 << 9;
const INTENT_DIRECT_MESSAGES = 1 << 12;
const INTENT_MESSAGE_CONTENT = 1 << 15;
const TEXT_CHANNEL_TYPES = new Set([0, 1, 2, 3, 5, 10, 11, 12, 13]);
const THREAD_TYPES = new Set([10, 11, 12]);
const DISCORD_EPOCH = 1420070400000n;
const ADMINISTRATOR = 8n;

let lastSnowflake = 0n;
/** Increasing, realistic snowflakes (timestamp-based), unique within the process. */
function nextSnowflake(): string {
  let id = (BigInt(Date.now()) - DISCORD_EPOCH) << 22n;
  if (id <= lastSnowflake) id = lastSnowflake + 1n;
  lastSnowflake = id;
  return id.toString();
}

const safeDecode = (segment: string): string => {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
};
const iso = (ms: number): string => new Date(ms).toISOString();
interface Ctx {
  method: string;
  route: string;
  query: URLSearchParams;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  files: FakeFile[];
  call: RecordedCall;
}

type Params = Record<string, string>;
type Handler = (ctx: Ctx, p: Params) => Reply | Promise<Reply>;

interface RouteDef {
  method: string;
  parts: string[];
  auth: boolean;
  handler: Handler;
}

interface MemberState {
  userId: string;
  roles: string[];
  nick: string | null;
  joinedAt: number;
}

interface GuildState {
  id: string;
  name: string;
  ownerId: string;
  roles: Map<string, { id: string; name: string; permissions: string; position: number }>;
  members: Map<string, MemberState>;
  joinedAt: number;
}

interface ChannelState {
  id: string;
  type: number;
  name: string | null;
  guildId: string | null;
  parentId: string | null;
  topic: string | null;
  position: number;
  recipientId?: string;
  lastMessageId: string | null;
  thread?: FakeThread;
}

interface InteractionState {
  id: string;
  token: string;
  type: number;
  channelId: string;
  guildId: string | null;
  userId: string;
  name?: string;
  createdAt: number;
  createdAtClock: number;
  responseType?: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  response?: any;
  originalMessageId?: string;
  followUpIds: string[];
  sourceMessageId?: string;
}

interface GatewayConn {
  ws: WebSocket;
  identified: boolean;
  deflate?: zlib.Deflate;
  deflated: Buffer[];
}

interface GatewayEntry {
  op: 0;
  t: string;
  s: number;
  d: unknown;
}

interface Session {
  id: string;
  seq: number;
  intents: number;
  shard: [number, number];
  log: GatewayEntry[];
}

/* ------------------------------------------------------------------------------------------ */
/* FakeDiscord                                                                                 */
/* ------------------------------------------------------------------------------------------ */

/**
 * The fake Discord. Create with {@link FakeDiscord.start}; always {@link FakeDiscord.close}.
 * One bot session at a time (no sharding). State is plain data you can read in assertions.
 */
export class FakeDiscord {
  /** Every REST call, in arrival order (429s and errors included). */
  readonly calls: RecordedCall[] = [];
  /** Every message the bot created (channel messages, interaction responses, follow-ups, thread messages), current state. */
  readonly messages = new Map<string, FakeMessage>();
  /** Messages sent by users through {@link FakeDiscord.sendUserMessage}. */
  readonly userMessages = new Map<string, FakeMessage>();
  /** Threads created by the bot or by {@link FakeDiscord.createThread}. */
  readonly threads = new Map<string, FakeThread>();
  /** Application commands stored by PUT/POST (global and per guild id). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly commands: { global: any[]; guild: Map<string, any[]> } = { global: [], guild: new Map() };
  /** Users the fake knows (bot, configured members, every user a test used). */
  readonly users = new Map<string, FakeUser>();
  /** Gateway counters. `intents` is the bitfield of the last IDENTIFY. */
  readonly gateway = { connections: 0, identifies: 0, resumes: 0, heartbeats: 0, intents: 0, lastToken: '' };
  /** Errors thrown inside the fake's handlers (answered 500); empty in a healthy run. */
  readonly internalErrors: unknown[] = [];
  /** Every request to the CDN route (`/attachments/...`), as its path: what the bot downloaded. */
  readonly cdnRequests: string[] = [];

  readonly applicationId: string;
  readonly botUser: FakeUser;

  #apiUrl = '';
  #origin = '';
  /** Bytes of uploaded files, by attachment id, for the CDN route. */
  readonly #uploads = new Map<string, { attachment: FakeAttachment; data: Buffer; omitLength: boolean }>();
  #gatewayUrl = '';
  readonly #server: Server;
  readonly #wss: WebSocketServer;
  readonly #options: FakeDiscordOptions;
  readonly #editLimit: { perMessage: number; windowMs: number };
  readonly #now: () => number;
  readonly #routes: RouteDef[] = [];
  readonly #guilds = new Map<string, GuildState>();
  readonly #channels = new Map<string, ChannelState>();
  readonly #allMessages = new Map<string, FakeMessage>();
  readonly #interactions = new Map<string, InteractionState>();
  readonly #interactionsByToken = new Map<string, InteractionState>();
  readonly #dmChannelByUser = new Map<string, string>();
  readonly #editBuckets = new Map<string, { tokens: number; at: number }>();
  readonly #conns = new Set<GatewayConn>();
  readonly #faults: FakeFault[] = [];
  #conn: GatewayConn | undefined;
  #session: Session | undefined;
  #closed = false;

  private constructor(options: FakeDiscordOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#editLimit = options.editLimit ?? { perMessage: 5, windowMs: 5000 };
    if (!(this.#editLimit.perMessage > 0) || !(this.#editLimit.windowMs > 0)) {
      throw new TypeError(`FakeDiscord: editLimit must have positive perMessage and windowMs, got ${JSON.stringify(this.#editLimit)}`);
    }
    this.applicationId = options.applicationId ?? nextSnowflake();
    this.botUser = { username: 'FakeBot', ...options.botUser, id: options.botUser?.id ?? this.applicationId, bot: true };
    this.users.set(this.botUser.id, this.botUser);
    for (const g of options.guilds ?? []) this.#addGuild(g);
    this.#registerRoutes();
    this.#server = http.createServer((req, res) => void this.#onRequest(req, res));
    this.#wss = new WebSocketServer({ noServer: true });
    this.#server.on('upgrade', (req, socket, head) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/\/+$/, '');
      if (path !== '/gateway' || this.#closed) {
        socket.destroy();
        return;
      }
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#onConnection(ws, req));
    });
  }

  /** Starts the fake on 127.0.0.1 with a free port. */
  static async start(options: FakeDiscordOptions = {}): Promise<FakeDiscord> {
    const fake = new FakeDiscord(options);
    await new Promise<void>((resolve, reject) => {
      fake.#server.once('error', reject);
      fake.#server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = fake.#server.address() as AddressInfo;
    fake.#origin = `http://127.0.0.1:${port}`;
    fake.#apiUrl = `http://127.0.0.1:${port}/api`;
    fake.#gatewayUrl = `ws://127.0.0.1:${port}/gateway`;
    return fake;
  }

  /** `http://127.0.0.1:PORT/api`, for `new Client({ rest: { api } })`. */
  get apiUrl(): string {
    return this.#apiUrl;
  }

  /** `ws://127.0.0.1:PORT/gateway`, as GET /gateway/bot answers. */
  get gatewayUrl(): string {
    return this.#gatewayUrl;
  }

  /** True while a bot session is identified and its socket is open. */
  get connected(): boolean {
    return this.#conn?.identified === true && this.#session !== undefined;
  }

  /**
   * Stores a file as Discord stores an upload and returns its attachment: give its id as the
   * value of a command's attachment option (type 11) and the interaction resolves it.
   */
  upload(file: FakeUpload): FakeAttachment {
    const data = typeof file.data === 'string' ? Buffer.from(file.data) : Buffer.from(file.data);
    const contentType = file.contentType ?? 'application/octet-stream';
    const a: FakeAttachment = { id: nextSnowflake(), filename: file.filename, size: file.declaredSize ?? data.length, contentType };
    this.#uploads.set(a.id, { attachment: a, data, omitLength: file.omitLength ?? false });
    return a;
  }

  /** Where an attachment of a message in `channelId` is served (the fake's CDN route, signed like Discord's). */
  attachmentUrl(channelId: string, a: Pick<FakeAttachment, 'id' | 'filename'>): string {
    return `${this.#origin}/attachments/${channelId}/${a.id}/${encodeURIComponent(a.filename)}?ex=${a.id.slice(-8)}&hm=fake`;
  }

  /** A fresh increasing snowflake, for ids in tests. */
  nextId(): string {
    return nextSnowflake();
  }

  /** Resolves when a client has IDENTIFY'd (or resumed) and got READY, and is still connected. @default timeoutMs 5000 */
  async waitForReady(timeoutMs = 5000): Promise<void> {
    await this.waitFor(() => this.connected, timeoutMs);
  }

  /**
   * Polls `fn` every ~10 ms until it returns something truthy, and resolves with it.
   * Rejects after `timeoutMs` (default 5000) with the function's source and its last error.
   */
  waitFor<T>(fn: () => T | undefined | null | false, timeoutMs = 5000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const started = Date.now();
      let lastError: unknown;
      const tick = (): void => {
        try {
          const v = fn();
          if (v) {
            resolve(v);
            return;
          }
        } catch (e) {
          lastError = e;
        }
        if (Date.now() - started >= timeoutMs) {
          const src = fn.toString().replace(/\s+/g, ' ').slice(0, 200);
          const why = lastError === undefined ? '' : `; last error: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
          reject(new Error(`FakeDiscord.waitFor timed out after ${timeoutMs} ms waiting for: ${src}${why}`));
          return;
        }
        setTimeout(tick, 10);
      };
      tick();
    });
  }

  /** Bot messages of a channel (or thread) in creation order; deleted ones left out unless asked. */
  channelMessages(channelId: string, opts: { includeUsers?: boolean; includeDeleted?: boolean } = {}): FakeMessage[] {
    const out: FakeMessage[] = [];
    for (const m of this.#allMessages.values()) {
      if (m.channelId !== channelId) continue;
      if (!opts.includeUsers && m.authorId !== this.botUser.id) continue;
      if (!opts.includeDeleted && m.deleted) continue;
      out.push(m);
    }
    return out;
  }

  /** The REST calls that got a 429. */
  rateLimitedCalls(): RecordedCall[] {
    return this.calls.filter((c) => c.status === 429);
  }

  /** A dispatched interaction by id. */
  interaction(id: string): FakeInteraction | undefined {
    const it = this.#interactions.get(id);
    return it && this.#handle(it);
  }

  /**
   * Answers the next `times` (default 1) matching REST calls with a canned response, before
   * routing (e.g. `{ path: /\/messages\/@original$/, status: 500 }`). Recorded like others.
   */
  injectFault(fault: FakeFault): void {
    this.#faults.push({ ...fault, times: fault.times ?? 1 });
  }

  /** Dispatches INTERACTION_CREATE for a chat-input (slash) command; waits for a bot session first. */
  async sendCommand(opts: SendCommandOptions): Promise<FakeInteraction> {
    await this.#waitForSession();
    return this.#sendCommandLike(2, opts);
  }

  /** Dispatches a message context-menu command (data type 3) used on a message of the fake. */
  async sendMessageCommand(opts: SendMessageCommandOptions): Promise<FakeInteraction> {
    await this.#waitForSession();
    const target = this.#allMessages.get(opts.targetMessageId);
    if (!target || target.channelId !== opts.channelId) {
      throw new Error(`FakeDiscord.sendMessageCommand: message ${opts.targetMessageId} is not a message of the fake in channel ${opts.channelId}`);
    }
    const { payload, state } = this.#interactionBase(2, opts);
    state.name = opts.name;
    const registered = this.#findCommand(opts.name, state.guildId, 3);
    payload['data'] = {
      id: (registered?.['id'] as string | undefined) ?? nextSnowflake(),
      name: opts.name,
      type: 3,
      target_id: target.id,
      resolved: { messages: { [target.id]: this.#apiMessage(target) } },
      ...(registered?.['guild_id'] ? { guild_id: registered['guild_id'] } : {}),
    };
    this.#dispatch('INTERACTION_CREATE', payload);
    return this.#handle(state);
  }

  /** Dispatches an autocomplete interaction (type 4); read the answer with `choices()`. */
  async sendAutocomplete(opts: SendAutocompleteOptions): Promise<FakeInteraction> {
    await this.#waitForSession();
    const mark = (list: FakeCommandOption[] | undefined): FakeCommandOption[] | undefined =>
      list?.map((o) => ({
        ...o,
        ...(opts.focused !== undefined && o.name === opts.focused && o.type !== 1 && o.type !== 2 ? { focused: true } : {}),
        ...(o.options ? { options: mark(o.options) } : {}),
      }));
    return this.#sendCommandLike(4, { ...opts, options: mark(opts.options) });
  }

  /** Dispatches a button click (component interaction, type 3) on a message of the fake. */
  async sendButton(opts: SendButtonOptions): Promise<FakeInteraction> {
    return this.sendComponent({ ...opts, componentType: 2 });
  }

  /** Dispatches a component interaction (button or select menu) on a message of the fake. */
  async sendComponent(opts: SendComponentOptions): Promise<FakeInteraction> {
    await this.#waitForSession();
    const msg = this.#allMessages.get(opts.messageId);
    if (!msg || msg.channelId !== opts.channelId) {
      throw new Error(`FakeDiscord.sendComponent: message ${opts.messageId} is not a message of the fake in channel ${opts.channelId}`);
    }
    const componentType = opts.componentType ?? 2;
    const data: Record<string, unknown> = { custom_id: opts.customId, component_type: componentType };
    if (componentType !== 2) data['values'] = opts.values ?? [];
    const { payload, state } = this.#interactionBase(3, opts);
    state.sourceMessageId = msg.id;
    payload['data'] = data;
    payload['message'] = this.#apiMessage(msg);
    this.#dispatch('INTERACTION_CREATE', payload);
    return this.#handle(state);
  }

  /** Dispatches a modal submit (type 5) with text input values. */
  async sendModalSubmit(opts: SendModalSubmitOptions): Promise<FakeInteraction> {
    await this.#waitForSession();
    const { payload, state } = this.#interactionBase(5, opts);
    payload['data'] = {
      custom_id: opts.customId,
      components: Object.entries(opts.fields).map(([customId, value]) => ({
        type: 1,
        components: [{ type: 4, custom_id: customId, value }],
      })),
    };
    if (opts.messageId) {
      const msg = this.#allMessages.get(opts.messageId);
      if (!msg) throw new Error(`FakeDiscord.sendModalSubmit: unknown message ${opts.messageId}`);
      state.sourceMessageId = msg.id;
      payload['message'] = this.#apiMessage(msg);
    }
    this.#dispatch('INTERACTION_CREATE', payload);
    return this.#handle(state);
  }

  /**
   * Dispatches MESSAGE_CREATE from a user (in a guild channel, a thread or a DM) and returns
   * the stored message. Throws if no bot session exists yet (await {@link waitForReady}).
   */
  sendUserMessage(opts: SendUserMessageOptions): FakeMessage {
    if (!this.#session) throw new Error('FakeDiscord.sendUserMessage: no bot session yet; await fake.waitForReady() first');
    this.#rememberUser(opts.author);
    const channel = this.#resolveContextChannel(opts.channelId, opts.guildId, opts.author, 'sendUserMessage');
    if (channel.guildId) this.#ensureMember(channel.guildId, opts.author.id);
    const body: Record<string, unknown> = { content: opts.content };
    if (opts.replyTo) body['message_reference'] = { message_id: opts.replyTo };
    return this.#createMessage({
      channelId: channel.id,
      authorId: opts.author.id,
      body,
      files: [],
      type: opts.replyTo ? 19 : 0,
      attachments: (opts.attachments ?? []).map((f) => this.upload(f)),
    });
  }

  /** Creates a thread as a user would (dispatches THREAD_CREATE) in a configured guild channel. */
  createThread(opts: { parentId: string; name: string; owner: FakeUser; messageId?: string; type?: number }): FakeThread {
    this.#rememberUser(opts.owner);
    const parent = this.#channels.get(opts.parentId);
    if (!parent?.guildId) throw new Error(`FakeDiscord.createThread: ${opts.parentId} is not a configured guild channel`);
    return this.#newThread(parent, {
      id: opts.messageId ?? nextSnowflake(),
      name: opts.name,
      ownerId: opts.owner.id,
      type: opts.type ?? 11,
      autoArchiveDuration: 1440,
      ...(opts.messageId ? { messageId: opts.messageId } : {}),
    });
  }

  /**
   * Drops the bot's websocket. Without `code` the TCP connection is cut (the client sees 1006);
   * with a code (e.g. 4000) it is a clean close. discord.js then resumes after ~0.5 s; events
   * dispatched meanwhile are replayed on RESUME.
   */
  closeGateway(code?: number): void {
    const conn = this.#conn;
    if (!conn) return;
    this.#conn = undefined;
    conn.identified = false;
    if (code === undefined) conn.ws.terminate();
    else conn.ws.close(code, 'closed by FakeDiscord');
  }

  /** Shuts the gateway and the HTTP server at once (destroy your Client first, or it will try to reconnect). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#conn = undefined;
    for (const c of this.#conns) {
      c.ws.terminate();
      c.deflate?.close();
    }
    this.#conns.clear();
    this.#wss.close();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }

  /* ---------------------------------------- state --------------------------------------- */

  #rememberUser(u: FakeUser): void {
    const known = this.users.get(u.id);
    this.users.set(u.id, { ...known, ...u });
  }

  #addGuild(g: FakeGuildConfig): void {
    const ownerId = g.ownerId ?? nextSnowflake();
    const state: GuildState = {
      id: g.id,
      name: g.name ?? `Guild ${g.id}`,
      ownerId,
      roles: new Map(),
      members: new Map(),
      joinedAt: Date.now(),
    };
    state.roles.set(g.id, { id: g.id, name: '@everyone', permissions: g.everyonePermissions ?? FakePermissions.DefaultMember, position: 0 });
    (g.roles ?? []).forEach((r, i) => {
      state.roles.set(r.id, { id: r.id, name: r.name ?? `role-${r.id}`, permissions: r.permissions ?? '0', position: r.position ?? i + 1 });
    });
    state.members.set(this.botUser.id, { userId: this.botUser.id, roles: [], nick: null, joinedAt: Date.now() });
    for (const m of g.members ?? []) {
      this.#rememberUser(m.user);
      state.members.set(m.user.id, { userId: m.user.id, roles: m.roles ?? [], nick: m.nick ?? null, joinedAt: Date.now() });
    }
    this.#guilds.set(g.id, state);
    (g.channels ?? []).forEach((c, i) => {
      this.#channels.set(c.id, {
        id: c.id,
        type: c.type ?? 0,
        name: c.name ?? `channel-${c.id}`,
        guildId: g.id,
        parentId: c.parentId ?? null,
        topic: c.topic ?? null,
        position: i,
        lastMessageId: null,
      });
    });
  }

  #ensureMember(guildId: string, userId: string): MemberState {
    const guild = this.#guilds.get(guildId);
    if (!guild) throw new Error(`FakeDiscord: unknown guild ${guildId}`);
    let m = guild.members.get(userId);
    if (!m) {
      m = { userId, roles: [], nick: null, joinedAt: Date.now() };
      guild.members.set(userId, m);
    }
    return m;
  }

  #memberPermissions(guild: GuildState, userId: string): string {
    if (guild.ownerId === userId) return FakePermissions.All;
    const member = guild.members.get(userId);
    let perms = BigInt(guild.roles.get(guild.id)?.permissions ?? '0');
    for (const r of member?.roles ?? []) perms |= BigInt(guild.roles.get(r)?.permissions ?? '0');
    return (perms & ADMINISTRATOR) !== 0n ? FakePermissions.All : perms.toString();
  }

  #dmChannelFor(user: FakeUser, preferredId?: string): ChannelState {
    const existingId = preferredId ?? this.#dmChannelByUser.get(user.id);
    const existing = existingId ? this.#channels.get(existingId) : undefined;
    if (existing) return existing;
    const ch: ChannelState = {
      id: existingId ?? nextSnowflake(),
      type: 1,
      name: null,
      guildId: null,
      parentId: null,
      topic: null,
      position: 0,
      recipientId: user.id,
      lastMessageId: null,
    };
    this.#channels.set(ch.id, ch);
    if (!this.#dmChannelByUser.has(user.id)) this.#dmChannelByUser.set(user.id, ch.id);
    return ch;
  }

  /** Channel of an interaction or user message; guild channels must be configured, DMs are made on demand. */
  #resolveContextChannel(channelId: string, guildId: string | null | undefined, user: FakeUser, what: string): ChannelState {
    const known = this.#channels.get(channelId);
    const gid = guildId === undefined ? (known?.guildId ?? null) : guildId;
    if (gid === null) {
      if (known && known.type !== 1) {
        throw new Error(`FakeDiscord.${what}: channel ${channelId} is a guild channel; pass its guildId or another channel for a DM`);
      }
      return this.#dmChannelFor(user, channelId);
    }
    if (!this.#guilds.has(gid)) throw new Error(`FakeDiscord.${what}: unknown guild ${gid}; configure it in options.guilds`);
    if (!known || known.guildId !== gid) {
      throw new Error(`FakeDiscord.${what}: channel ${channelId} is not a channel of guild ${gid}; add it to options.guilds[].channels`);
    }
    return known;
  }

  /* -------------------------------------- serializers ------------------------------------- */

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  #apiUser(id: string): any {
    const u = this.users.get(id) ?? { id, username: `user${id}` };
    return {
      id: u.id,
      username: u.username,
      global_name: u.globalName ?? null,
      discriminator: '0',
      avatar: null,
      ...(u.bot ? { bot: true } : {}),
      public_flags: 0,
      flags: 0,
      banner: null,
      accent_color: null,
      avatar_decoration_data: null,
    };
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  #apiMember(guildId: string, userId: string, withUser: boolean, permissions?: string): any {
    const guild = this.#guilds.get(guildId);
    const m = guild?.members.get(userId) ?? { userId, roles: [], nick: null, joinedAt: Date.now() };
    return {
      ...(withUser ? { user: this.#apiUser(userId) } : {}),
      roles: m.roles,
      nick: m.nick,
      avatar: null,
      banner: null,
      joined_at: iso(m.joinedAt),
      premium_since: null,
      deaf: false,
      mute: false,
      flags: 0,
      pending: false,
      communication_disabled_until: null,
      ...(permissions !== undefined ? { permissions } : {}),
    };
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  #apiRole(r: { id: string; name: string; permissions: string; position: number }): any {
    return {
      id: r.id,
      name: r.name,
      color: 0,
      colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
      hoist: false,
      icon: null,
      unicode_emoji: null,
      position: r.position,
      permissions: r.permissions,
      managed: false,
      mentionable: false,
      flags: 0,
    };
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  #apiChannel(ch: ChannelState): any {
    if (ch.type === 1) {
      return {
        id: ch.id,
        type: 1,
        last_message_id: ch.lastMessageId,
        flags: 0,
        recipients: ch.recipientId ? [this.#apiUser(ch.recipientId)] : [],
      };
    }
    const t = ch.thread;
    if (t) {
      return {
        id: t.id,
        type: t.type,
        guild_id: t.guildId,
        parent_id: t.parentId,
        owner_id: t.ownerId,
        name: t.name,
        last_message_id: ch.lastMessageId,
        message_count: t.messageCount,
        total_message_sent: t.messageCount,
        member_count: t.ownerId === this.botUser.id ? 1 : 2,
        rate_limit_per_user: 0,
        flags: 0,
        applied_tags: [],
        thread_metadata: {
          archived: t.archived,
          auto_archive_duration: t.autoArchiveDuration,
          archive_timestamp: iso(t.createdAt),
          locked: t.locked,
          create_timestamp: iso(t.createdAt),
          ...(t.type === 12 ? { invitable: true } : {}),
        },
      };
    }
    return {
      id: ch.id,
      type: ch.type,
      guild_id: ch.guildId,
      name: ch.name,
      position: ch.position,
      permission_overwrites: [],
      parent_id: ch.parentId,
      nsfw: false,
      flags: 0,
      ...(ch.type === 4 ? {} : { topic: ch.topic, last_message_id: ch.lastMessageId, rate_limit_per_user: 0 }),
      ...(ch.type === 2 ? { bitrate: 64000, user_limit: 0, rtc_region: null } : {}),
      ...(ch.type === 15 ? { available_tags: [], default_reaction_emoji: null, default_sort_order: null, default_forum_layout: 0 } : {}),
    };
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  #apiGuild(g: GuildState): any {
    return {
      id: g.id,
      name: g.name,
      icon: null,
      splash: null,
      discovery_splash: null,
      banner: null,
      description: null,
      owner_id: g.ownerId,
      region: 'us-west',
      afk_channel_id: null,
      afk_timeout: 300,
      verification_level: 0,
      default_message_notifications: 0,
      explicit_content_filter: 0,
      roles: [...g.roles.values()].map((r) => this.#apiRole(r)),
      emojis: [],
      stickers: [],
      features: [],
      mfa_level: 0,
      application_id: null,
      system_channel_id: null,
      system_channel_flags: 0,
      rules_channel_id: null,
      public_updates_channel_id: null,
      safety_alerts_channel_id: null,
      vanity_url_code: null,
      premium_tier: 0,
      premium_subscription_count: 0,
      premium_progress_bar_enabled: false,
      preferred_locale: 'en-US',
      nsfw_level: 0,
      max_members: 500000,
      max_video_channel_users: 25,
      incidents_data: null,
    };
  }

  #guildCreatePayload(g: GuildState): unknown {
    const channels: unknown[] = [];
    const threads: unknown[] = [];
    for (const ch of this.#channels.values()) {
      if (ch.guildId !== g.id) continue;
      if (ch.thread) {
        if (!ch.thread.archived) threads.push(this.#apiChannel(ch));
      } else channels.push(this.#apiChannel(ch));
    }
    return {
      ...this.#apiGuild(g),
      joined_at: iso(g.joinedAt),
      large: false,
      unavailable: false,
      lazy: true,
      member_count: g.members.size,
      members: [...g.members.keys()].map((uid) => this.#apiMember(g.id, uid, true)),
      channels,
      threads,
      presences: [],
      voice_states: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
    };
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  #apiMessage(m: FakeMessage): any {
    const author = this.#apiUser(m.authorId);
    const it = m.interactionId ? this.#interactions.get(m.interactionId) : undefined;
    const ch = this.#channels.get(m.channelId);
    const out: Record<string, unknown> = {
      id: m.id,
      type: m.type,
      channel_id: m.channelId,
      ...(m.guildId ? { guild_id: m.guildId } : {}),
      author,
      content: m.content,
      timestamp: iso(m.createdAt),
      edited_timestamp: m.editedAt.length > 0 ? iso(m.editedAt[m.editedAt.length - 1]!) : null,
      tts: false,
      mention_everyone: m.pings.everyone,
      mentions: m.pings.users.map((id) => this.#apiUser(id)),
      mention_roles: m.pings.roles,
      attachments: m.attachments.map((a) => this.#apiAttachment(m.channelId, a)),
      embeds: m.embeds,
      components: m.components,
      pinned: false,
      flags: m.flags,
      reactions: m.reactions.map((e) => ({ count: 1, count_details: { burst: 0, normal: 1 }, me: true, me_burst: false, burst_colors: [], emoji: { id: null, name: e } })),
    };
    if (ch?.thread) out['position'] = ch.thread.messageCount;
    if (m.referenceMessageId) {
      out['message_reference'] = { type: 0, message_id: m.referenceMessageId, channel_id: m.channelId, ...(m.guildId ? { guild_id: m.guildId } : {}) };
    }
    if (m.interactionToken) {
      out['webhook_id'] = this.applicationId;
      out['application_id'] = this.applicationId;
    }
    if (it) {
      out['interaction_metadata'] = {
        id: it.id,
        type: it.type,
        user: this.#apiUser(it.userId),
        authorizing_integration_owners: it.guildId ? { '0': it.guildId } : {},
        ...(it.name !== undefined ? { name: it.name, command_type: 1 } : {}),
      };
      if (it.type === 2 && it.name !== undefined) {
        out['interaction'] = { id: it.id, type: it.type, name: it.name, user: this.#apiUser(it.userId) };
      }
    }
    if (m.threadId) {
      const th = this.#channels.get(m.threadId);
      if (th) out['thread'] = this.#apiChannel(th);
    }
    if (m.guildId && m.authorId !== this.botUser.id) out['member'] = this.#apiMember(m.guildId, m.authorId, false);
    if (ch) out['channel_type'] = ch.thread ? ch.thread.type : ch.type;
    return out;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  #apiAttachment(channelId: string, a: FakeAttachment): any {
    const url = this.attachmentUrl(channelId, a);
    return { id: a.id, filename: a.filename, size: a.size, content_type: a.contentType, url, proxy_url: url };
  }

  /* --------------------------------------- messages --------------------------------------- */

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  #computePings(content: string, allowedMentions: any, guildId: string | null): FakePings {
    const mentionedUsers = [...content.matchAll(/<@!?(\d+)>/g)].map((x) => x[1]!);
    const mentionedRoles = [...content.matchAll(/<@&(\d+)>/g)].map((x) => x[1]!);
    const everyone = /@(everyone|here)\b/.test(content);
    const parse: unknown[] = isObj(allowedMentions)
      ? (Array.isArray(allowedMentions['parse']) ? allowedMentions['parse'] : [])
      : ['users', 'roles', 'everyone'];
    const listed = (key: string): string[] =>
      isObj(allowedMentions) && Array.isArray(allowedMentions[key]) ? (allowedMentions[key] as unknown[]).map(String) : [];
    const uniq = (xs: string[]): string[] => [...new Set(xs)];
    return {
      everyone: guildId !== null && everyone && parse.includes('everyone'),
      users: uniq(parse.includes('users') ? mentionedUsers : mentionedUsers.filter((u) => listed('users').includes(u))),
      roles: uniq(parse.includes('roles') ? mentionedRoles : mentionedRoles.filter((r) => listed('roles').includes(r))),
    };
  }

  #newAttachments(files: FakeFile[]): FakeAttachment[] {
    return files.map((f) => ({ id: nextSnowflake(), filename: f.filename, size: f.size, contentType: f.contentType }));
  }

  #createMessage(init: {
    channelId: string;
    authorId: string;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    body: any;
    files: FakeFile[];
    type: number;
    flags?: number;
    interaction?: InteractionState;
    id?: string;
    attachments?: FakeAttachment[];
  }): FakeMessage {
    const ch = this.#channels.get(init.channelId);
    const guildId = ch?.guildId ?? null;
    const body = isObj(init.body) ? init.body : {};
    const content = typeof body['content'] === 'string' ? body['content'] : '';
    const ref = isObj(body['message_reference']) ? body['message_reference']['message_id'] : undefined;
    const m: FakeMessage = {
      id: init.id ?? nextSnowflake(),
      channelId: init.channelId,
      guildId,
      content,
      embeds: Array.isArray(body['embeds']) ? body['embeds'] : [],
      components: Array.isArray(body['components']) ? body['components'] : [],
      flags: init.flags ?? (typeof body['flags'] === 'number' ? body['flags'] & (SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | IS_COMPONENTS_V2) : 0),
      authorId: init.authorId,
      ...('allowed_mentions' in body ? { allowedMentions: body['allowed_mentions'] } : {}),
      ...(init.interaction ? { interactionToken: init.interaction.token, interactionId: init.interaction.id } : {}),
      edits: 0,
      createdAt: Date.now(),
      editedAt: [],
      type: init.type,
      attachments: [...(init.attachments ?? []), ...this.#newAttachments(init.files)],
      pings: this.#computePings(content, body['allowed_mentions'], guildId),
      ...(typeof ref === 'string' ? { referenceMessageId: ref } : {}),
      reactions: [],
    };
    this.#allMessages.set(m.id, m);
    if (m.authorId === this.botUser.id) this.messages.set(m.id, m);
    else this.userMessages.set(m.id, m);
    if (ch && (m.flags & EPHEMERAL) === 0) {
      ch.lastMessageId = m.id;
      if (ch.thread) ch.thread.messageCount++;
    }
    const isBot = m.authorId === this.botUser.id;
    if ((m.flags & EPHEMERAL) === 0 && (!isBot || this.#options.echoBotMessages !== false)) {
      this.#dispatch('MESSAGE_CREATE', this.#apiMessage(m));
    }
    return m;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  #applyEdit(m: FakeMessage, body: any, files: FakeFile[]): void {
    const b = isObj(body) ? body : {};
    if ('content' in b) m.content = typeof b['content'] === 'string' ? b['content'] : '';
    if ('embeds' in b) m.embeds = Array.isArray(b['embeds']) ? b['embeds'] : [];
    if ('components' in b) m.components = Array.isArray(b['components']) ? b['components'] : [];
    if ('allowed_mentions' in b) m.allowedMentions = b['allowed_mentions'];
    if (typeof b['flags'] === 'number') {
      m.flags = (m.flags & ~SUPPRESS_EMBEDS) | (b['flags'] & SUPPRESS_EMBEDS) | (b['flags'] & IS_COMPONENTS_V2);
    }
    if (Array.isArray(b['attachments'])) {
      const keep = new Set((b['attachments'] as unknown[]).filter(isObj).map((a) => String(a['id'])));
      m.attachments = m.attachments.filter((a) => keep.has(a.id));
    }
    m.attachments.push(...this.#newAttachments(files));
    m.flags &= ~LOADING;
    m.edits++;
    m.editedAt.push(Date.now());
    m.pings = this.#computePings(m.content, m.allowedMentions, m.guildId);
    if ((m.flags & EPHEMERAL) === 0 && this.#options.echoBotMessages !== false) {
      this.#dispatch('MESSAGE_UPDATE', this.#apiMessage(m));
    }
  }

  /** 400 when the merged result of an edit would be empty. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  #editWouldBeEmpty(m: FakeMessage, body: any, files: number): boolean {
    const b = isObj(body) ? body : {};
    const attachments = Array.isArray(b['attachments'])
      ? m.attachments.filter((a) => (b['attachments'] as unknown[]).some((x) => isObj(x) && String(x['id']) === a.id))
      : m.attachments;
    return isEmptyMessage(
      {
        content: 'content' in b ? b['content'] : m.content,
        embeds: 'embeds' in b ? b['embeds'] : m.embeds,
        components: 'components' in b ? b['components'] : m.components,
        attachments,
      },
      files,
    );
  }

  /** Validates a message create (or edit of `existing`); returns the error reply or undefined. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  #validate(body: any, files: number, existing?: FakeMessage, prefix?: string): Reply | undefined {
    const errors = validateMessageBody(body);
    if (hasErrors(errors)) return formError(prefix ? { [prefix]: errors } : errors);
    const empty = existing ? this.#editWouldBeEmpty(existing, body, files) : isEmptyMessage(isObj(body) ? body : {}, files);
    if (empty) return apiError(400, 50006, 'Cannot send an empty message');
    return undefined;
  }

  /** Token bucket per message; undefined when the edit may proceed. */
  #editRateLimit(messageId: string): Reply | undefined {
    const { perMessage, windowMs } = this.#editLimit;
    if (perMessage === Number.POSITIVE_INFINITY) return undefined;
    const ratePerMs = perMessage / windowMs;
    const now = Date.now();
    const b = this.#editBuckets.get(messageId) ?? { tokens: perMessage, at: now };
    b.tokens = Math.min(perMessage, b.tokens + (now - b.at) * ratePerMs);
    b.at = now;
    this.#editBuckets.set(messageId, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return undefined;
    }
    const waitMs = Math.max(1, Math.ceil((1 - b.tokens) / ratePerMs));
    const seconds = Number((waitMs / 1000).toFixed(3));
    return json(
      429,
      { message: 'You are being rate limited.', retry_after: seconds, global: false },
      {
        'retry-after': String(seconds),
        'x-ratelimit-limit': String(perMessage),
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': String((now + waitMs) / 1000),
        'x-ratelimit-reset-after': String(seconds),
        'x-ratelimit-bucket': 'fakeMessageEditBucket',
        'x-ratelimit-scope': 'user',
      },
    );
  }

  /* ---------------------------------------- threads --------------------------------------- */

  #newThread(
    parent: ChannelState,
    t: { id: string; name: string; ownerId: string; type: number; autoArchiveDuration: number; messageId?: string },
  ): FakeThread {
    const thread: FakeThread = {
      id: t.id,
      parentId: parent.id,
      guildId: parent.guildId!,
      name: t.name,
      ownerId: t.ownerId,
      ...(t.messageId ? { messageId: t.messageId } : {}),
      type: t.type,
      archived: false,
      locked: false,
      autoArchiveDuration: t.autoArchiveDuration,
      createdAt: Date.now(),
      messageCount: 0,
    };
    const ch: ChannelState = {
      id: t.id,
      type: t.type,
      name: t.name,
      guildId: parent.guildId,
      parentId: parent.id,
      topic: null,
      position: 0,
      lastMessageId: null,
      thread,
    };
    this.#channels.set(ch.id, ch);
    this.threads.set(thread.id, thread);
    if (t.messageId) {
      const starter = this.#allMessages.get(t.messageId);
      if (starter) {
        starter.threadId = thread.id;
        starter.flags |= HAS_THREAD;
      }
    }
    this.#ensureMember(thread.guildId, t.ownerId);
    this.#dispatch('THREAD_CREATE', { ...this.#apiChannel(ch), newly_created: true, ...this.#threadMember(ch) });
    return thread;
  }

  /** The bot's thread membership: it is in threads it made (and joins threads it posts in). */
  #threadMember(ch: ChannelState): Record<string, unknown> {
    if (ch.thread?.ownerId !== this.botUser.id) return {};
    return { member: { id: ch.id, user_id: this.botUser.id, join_timestamp: iso(ch.thread.createdAt), flags: 0 } };
  }

  /* ---------------------------------------- gateway --------------------------------------- */

  async #waitForSession(timeoutMs = 5000): Promise<void> {
    if (this.#session) return;
    await this.waitFor(() => this.#session !== undefined, timeoutMs).catch(() => {
      throw new Error(`FakeDiscord: no bot logged in within ${timeoutMs} ms (did client.login(...) use rest.api = fake.apiUrl?)`);
    });
  }

  #wants(t: string, d: unknown): boolean {
    if (this.#options.enforceIntents === false) return true;
    const intents = this.#session?.intents ?? 0;
    if (t === 'GUILD_CREATE' || t.startsWith('THREAD_') || t.startsWith('CHANNEL_')) return (intents & INTENT_GUILDS) !== 0;
    if (t.startsWith('MESSAGE_')) {
      const inGuild = isObj(d) && typeof d['guild_id'] === 'string';
      return (intents & (inGuild ? INTENT_GUILD_MESSAGES : INTENT_DIRECT_MESSAGES)) !== 0;
    }
    return true;
  }

  /** Strips content fields like Discord does for bots without the MessageContent intent. */
  #stripContent(t: string, d: unknown): unknown {
    if (this.#options.enforceIntents === false || !(t === 'MESSAGE_CREATE' || t === 'MESSAGE_UPDATE') || !isObj(d)) return d;
    if (((this.#session?.intents ?? 0) & INTENT_MESSAGE_CONTENT) !== 0) return d;
    const author = d['author'];
    if (typeof d['guild_id'] !== 'string') return d; // DMs keep their content
    if (isObj(author) && author['id'] === this.botUser.id) return d;
    const mentions = d['mentions'];
    if (Array.isArray(mentions) && mentions.some((u) => isObj(u) && u['id'] === this.botUser.id)) return d;
    return { ...d, content: '', embeds: [], attachments: [], components: [] };
  }

  /** Sends a dispatch to the bot session (logged for RESUME); false if filtered or no session. */
  #dispatch(t: string, d: unknown): boolean {
    const session = this.#session;
    if (!session || !this.#wants(t, d)) return false;
    const entry: GatewayEntry = { op: 0, t, s: ++session.seq, d: this.#stripContent(t, d) };
    session.log.push(entry);
    if (session.log.length > 1000) session.log.splice(0, session.log.length - 1000);
    if (this.#conn?.identified) this.#send(this.#conn, entry);
    return true;
  }

  #send(conn: GatewayConn, payload: unknown): void {
    if (conn.ws.readyState !== conn.ws.OPEN) return;
    const text = JSON.stringify(payload);
    const deflate = conn.deflate;
    if (!deflate) {
      conn.ws.send(text);
      return;
    }
    deflate.write(text);
    deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => {
      const chunk = Buffer.concat(conn.deflated.splice(0));
      if (chunk.length > 0 && conn.ws.readyState === conn.ws.OPEN) conn.ws.send(chunk);
    });
  }

  #onConnection(ws: WebSocket, req: IncomingMessage): void {
    const params = new URL(req.url ?? '/', 'http://x').searchParams;
    const conn: GatewayConn = { ws, identified: false, deflated: [] };
    this.#conns.add(conn);
    this.gateway.connections++;
    ws.on('close', () => {
      this.#conns.delete(conn);
      conn.deflate?.close();
      if (this.#conn === conn) this.#conn = undefined;
    });
    ws.on('error', () => undefined);
    const encoding = params.get('encoding') ?? 'json';
    if (encoding !== 'json') {
      ws.close(4002, 'FakeDiscord speaks encoding=json only');
      return;
    }
    if (params.get('compress') === 'zlib-stream') {
      const deflate = zlib.createDeflate({ chunkSize: 65535 });
      deflate.on('data', (c: Buffer) => conn.deflated.push(c));
      conn.deflate = deflate;
    }
    ws.on('message', (data: RawData) => this.#onGatewayMessage(conn, data));
    this.#send(conn, { op: 10, d: { heartbeat_interval: this.#options.heartbeatIntervalMs ?? 41250, _trace: ['fake-discord'] }, s: null, t: null });
  }

  #onGatewayMessage(conn: GatewayConn, data: RawData): void {
    let msg: { op?: number; d?: unknown };
    try {
      const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
      msg = JSON.parse(text) as { op?: number; d?: unknown };
    } catch {
      conn.ws.close(4002, 'Error while decoding payload.');
      return;
    }
    const d = isObj(msg.d) ? msg.d : {};
    switch (msg.op) {
      case 1:
        this.gateway.heartbeats++;
        this.#send(conn, { op: 11, d: null, s: null, t: null });
        return;
      case 2:
        this.#identify(conn, d);
        return;
      case 6:
        this.#resume(conn, d);
        return;
      case 3:
      case 4:
        if (!conn.identified) conn.ws.close(4003, 'Not authenticated.');
        return;
      case 8:
        if (!conn.identified) conn.ws.close(4003, 'Not authenticated.');
        else this.#requestMembers(d);
        return;
      default:
        conn.ws.close(4001, 'Unknown opcode.');
    }
  }

  #identify(conn: GatewayConn, d: Record<string, unknown>): void {
    if (conn.identified) {
      conn.ws.close(4005, 'Already authenticated.');
      return;
    }
    const token = String(d['token'] ?? '').replace(/^Bot\s+/i, '');
    if (this.#options.token !== undefined && token !== this.#options.token) {
      conn.ws.close(4004, 'Authentication failed.');
      return;
    }
    const shard = Array.isArray(d['shard']) && d['shard'].length === 2 ? (d['shard'] as [number, number]) : ([0, 1] as [number, number]);
    this.gateway.identifies++;
    this.gateway.intents = Number(d['intents'] ?? 0);
    this.gateway.lastToken = token;
    if (this.#conn && this.#conn !== conn) {
      this.#conn.identified = false;
      this.#conn.ws.close(4000, 'Replaced by a new session');
    }
    this.#session = { id: randomBytes(16).toString('hex'), seq: 0, intents: this.gateway.intents, shard, log: [] };
    conn.identified = true;
    this.#conn = conn;
    this.#dispatch('READY', {
      v: 10,
      user: { ...this.#apiUser(this.botUser.id), verified: true, mfa_enabled: false, email: null },
      user_settings: {},
      guilds: [...this.#guilds.keys()].map((id) => ({ id, unavailable: true })),
      session_id: this.#session.id,
      session_type: 'normal',
      resume_gateway_url: this.#gatewayUrl,
      shard,
      // GatewayPresenceLimited | GatewayGuildMembersLimited | GatewayMessageContentLimited
      application: { id: this.applicationId, flags: (1 << 13) | (1 << 15) | (1 << 19) },
      private_channels: [],
      presences: [],
      relationships: [],
      guild_join_requests: [],
      geo_ordered_rtc_regions: ['us-west'],
      auth: {},
      _trace: ['fake-discord'],
    });
    for (const g of this.#guilds.values()) this.#dispatch('GUILD_CREATE', this.#guildCreatePayload(g));
  }

  #resume(conn: GatewayConn, d: Record<string, unknown>): void {
    const session = this.#session;
    const token = String(d['token'] ?? '').replace(/^Bot\s+/i, '');
    if (!session || d['session_id'] !== session.id || (this.#options.token !== undefined && token !== this.#options.token)) {
      this.#send(conn, { op: 9, d: false, s: null, t: null });
      return;
    }
    this.gateway.resumes++;
    if (this.#conn && this.#conn !== conn) {
      this.#conn.identified = false;
      this.#conn.ws.close(4000, 'Replaced by a resumed session');
    }
    conn.identified = true;
    this.#conn = conn;
    const from = typeof d['seq'] === 'number' ? d['seq'] : 0;
    for (const entry of session.log) if (entry.s > from) this.#send(conn, entry);
    this.#dispatch('RESUMED', { _trace: ['fake-discord'] });
  }

  #requestMembers(d: Record<string, unknown>): void {
    const guild = this.#guilds.get(String(d['guild_id']));
    if (!guild) return;
    const ids = Array.isArray(d['user_ids']) ? (d['user_ids'] as unknown[]).map(String) : typeof d['user_ids'] === 'string' ? [d['user_ids']] : undefined;
    const query = typeof d['query'] === 'string' ? d['query'].toLowerCase() : '';
    const limit = typeof d['limit'] === 'number' && d['limit'] > 0 ? d['limit'] : Number.POSITIVE_INFINITY;
    const members = [...guild.members.keys()]
      .filter((uid) => (ids ? ids.includes(uid) : (this.users.get(uid)?.username ?? '').toLowerCase().startsWith(query)))
      .slice(0, limit);
    this.#dispatch('GUILD_MEMBERS_CHUNK', {
      guild_id: guild.id,
      members: members.map((uid) => this.#apiMember(guild.id, uid, true)),
      chunk_index: 0,
      chunk_count: 1,
      not_found: ids ? ids.filter((id) => !guild.members.has(id)) : [],
      ...(d['nonce'] !== undefined ? { nonce: d['nonce'] } : {}),
    });
  }

  /* ------------------------------------- interactions ------------------------------------- */

  #interactionBase(type: number, ctx: FakeInteractionContext): { payload: Record<string, unknown>; state: InteractionState } {
    this.#rememberUser(ctx.user);
    const channel = this.#resolveContextChannel(ctx.channelId, ctx.guildId, ctx.user, 'send');
    const id = nextSnowflake();
    const token = `fake_itk_${id}_${randomBytes(12).toString('hex')}`;
    const state: InteractionState = {
      id,
      token,
      type,
      channelId: channel.id,
      guildId: channel.guildId,
      userId: ctx.user.id,
      createdAt: Date.now(),
      createdAtClock: this.#now(),
      followUpIds: [],
    };
    const payload: Record<string, unknown> = {
      id,
      application_id: this.applicationId,
      type,
      token,
      version: 1,
      app_permissions: this.#options.appPermissions ?? FakePermissions.DefaultBot,
      locale: ctx.locale ?? 'en-US',
      entitlements: [],
      attachment_size_limit: 10 * 1024 * 1024,
      channel_id: channel.id,
    };
    if (channel.guildId) {
      const guild = this.#guilds.get(channel.guildId)!;
      this.#ensureMember(guild.id, ctx.user.id);
      const permissions = ctx.memberPermissions ?? this.#memberPermissions(guild, ctx.user.id);
      payload['guild_id'] = guild.id;
      payload['guild'] = { id: guild.id, locale: 'en-US', features: [] };
      payload['guild_locale'] = 'en-US';
      payload['member'] = this.#apiMember(guild.id, ctx.user.id, true, permissions);
      payload['channel'] = { ...this.#apiChannel(channel), permissions };
      payload['authorizing_integration_owners'] = { '0': guild.id };
      payload['context'] = 0;
    } else {
      payload['user'] = this.#apiUser(ctx.user.id);
      payload['channel'] = this.#apiChannel(channel);
      payload['authorizing_integration_owners'] = {};
      payload['context'] = 1;
    }
    this.#interactions.set(id, state);
    this.#interactionsByToken.set(token, state);
    return { payload, state };
  }

  #findCommand(name: string, guildId: string | null, type = 1): Record<string, unknown> | undefined {
    const local = guildId ? this.commands.guild.get(guildId) : undefined;
    return (local?.find((c) => c.name === name && (c.type ?? 1) === type) ??
      this.commands.global.find((c) => c.name === name && (c.type ?? 1) === type)) as Record<string, unknown> | undefined;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  #resolveOptions(options: FakeCommandOption[], guildId: string | null, channelId: string): any {
    const attachments: Record<string, unknown> = {};
    const users: Record<string, unknown> = {};
    const members: Record<string, unknown> = {};
    const channels: Record<string, unknown> = {};
    const roles: Record<string, unknown> = {};
    const guild = guildId ? this.#guilds.get(guildId) : undefined;
    const visit = (list: FakeCommandOption[]): void => {
      for (const o of list) {
        if (o.options) visit(o.options);
        const id = typeof o.value === 'string' ? o.value : undefined;
        if (!id) continue;
        if ((o.type === 6 || o.type === 9) && this.users.has(id)) {
          users[id] = this.#apiUser(id);
          if (guild?.members.has(id)) {
            const { user: _user, ...rest } = this.#apiMember(guild.id, id, true, this.#memberPermissions(guild, id));
            members[id] = rest;
          }
        }
        if ((o.type === 8 || o.type === 9) && guild?.roles.has(id)) roles[id] = this.#apiRole(guild.roles.get(id)!);
        if (o.type === 7) {
          const ch = this.#channels.get(id);
          if (ch) channels[id] = { ...this.#apiChannel(ch), permissions: FakePermissions.DefaultMember };
        }
        const upload = o.type === 11 ? this.#uploads.get(id) : undefined;
        if (upload) attachments[id] = this.#apiAttachment(channelId, upload.attachment);
      }
    };
    visit(options);
    const out: Record<string, unknown> = {};
    if (Object.keys(users).length) out['users'] = users;
    if (Object.keys(members).length) out['members'] = members;
    if (Object.keys(channels).length) out['channels'] = channels;
    if (Object.keys(roles).length) out['roles'] = roles;
    if (Object.keys(attachments).length) out['attachments'] = attachments;
    return Object.keys(out).length ? out : undefined;
  }

  #sendCommandLike(type: 2 | 4, opts: SendCommandOptions): FakeInteraction {
    const { payload, state } = this.#interactionBase(type, opts);
    state.name = opts.name;
    const registered = this.#findCommand(opts.name, state.guildId);
    const autoResolved = this.#resolveOptions(opts.options ?? [], state.guildId, state.channelId);
    const resolved = autoResolved || opts.resolved ? { ...autoResolved, ...opts.resolved } : undefined;
    payload['data'] = {
      id: (registered?.['id'] as string | undefined) ?? nextSnowflake(),
      name: opts.name,
      type: 1,
      ...(opts.options ? { options: opts.options } : {}),
      ...(resolved ? { resolved } : {}),
      ...(registered?.['guild_id'] ? { guild_id: registered['guild_id'] } : {}),
    };
    this.#dispatch('INTERACTION_CREATE', payload);
    return this.#handle(state);
  }

  #handle(it: InteractionState): FakeInteraction {
    const original = (): FakeMessage | undefined => (it.originalMessageId ? this.#allMessages.get(it.originalMessageId) : undefined);
    return {
      id: it.id,
      token: it.token,
      type: it.type,
      channelId: it.channelId,
      guildId: it.guildId,
      responseType: () => it.responseType,
      response: () => it.response,
      original,
      followUps: () => it.followUpIds.map((id) => this.#allMessages.get(id)).filter((m): m is FakeMessage => m !== undefined),
      ephemeral: () => {
        const o = original();
        if (o) return (o.flags & EPHEMERAL) !== 0;
        const flags = isObj(it.response) && isObj(it.response['data']) ? Number(it.response['data']['flags'] ?? 0) : 0;
        return (flags & EPHEMERAL) !== 0;
      },
      choices: () => (it.responseType === 8 ? it.response?.data?.choices : undefined),
      modal: () => (it.responseType === 9 ? it.response?.data : undefined),
      waitForResponse: async (timeoutMs = 5000) => {
        await this.waitFor(() => it.responseType !== undefined, timeoutMs);
      },
      waitForOriginal: (predicate = () => true, timeoutMs = 5000) =>
        this.waitFor(() => {
          const o = original();
          return o && (o.flags & LOADING) === 0 && predicate(o) ? o : undefined;
        }, timeoutMs),
    };
  }

  /* ------------------------------------------ HTTP ---------------------------------------- */

  async #onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname.startsWith('/attachments/')) return this.#serveAttachment(url.pathname, req, res);
    const m = /^\/api(?:\/v\d+)?(\/.*)?$/.exec(url.pathname);
    // discord.js percent-encodes segments ('@original' arrives as '%40original'); record them decoded.
    const route = (m ? (m[1] ?? '/') : url.pathname).split('/').map(safeDecode).join('/');
    const method = (req.method ?? 'GET').toUpperCase();
    const call: RecordedCall = { at: Date.now(), method, path: route, body: undefined, status: 0, query: url.search.slice(1) };
    this.calls.push(call);
    let reply: Reply;
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const raw = Buffer.concat(chunks);
      const parsed = await this.#parseBody(raw, req.headers['content-type'] ?? '');
      call.body = parsed.body;
      if (parsed.files.length) call.files = parsed.files;
      if (parsed.error) {
        reply = parsed.error;
      } else {
        const ctx: Ctx = { method, route, query: url.searchParams, body: parsed.body, files: parsed.files, call };
        reply = this.#takeFault(method, route) ?? (m ? await this.#route(ctx, req) : apiError(404, 0, '404: Not Found'));
      }
    } catch (e) {
      this.internalErrors.push(e);
      reply = json(500, { message: '500: Internal Server Error', code: 0, fake_error: e instanceof Error ? e.stack : String(e) });
    }
    call.status = reply.status;
    if (reply.body !== undefined) call.response = reply.body;
    if (res.destroyed) return;
    res.statusCode = reply.status;
    for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
    if (reply.body === undefined || reply.status === 204) {
      res.end();
    } else {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(reply.body));
    }
  }

  /**
   * The CDN route: an uploaded file's bytes, in pieces (so a reader that stops early is seen
   * as a closed connection), with a Content-Length unless the upload asked for none.
   */
  async #serveAttachment(path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.cdnRequests.push(path);
    const [, , , id] = path.split('/');
    const upload = req.method === 'GET' && id ? this.#uploads.get(id) : undefined;
    if (!upload) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('Not Found');
      return;
    }
    res.writeHead(200, { 'content-type': upload.attachment.contentType, ...(upload.omitLength ? {} : { 'content-length': String(upload.data.length) }) });
    for (let at = 0; at < upload.data.length && !res.destroyed; at += 65_536) {
      if (res.write(upload.data.subarray(at, at + 65_536))) continue;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          res.off('drain', done).off('close', done);
          resolve();
        };
        res.on('drain', done).on('close', done);
      });
    }
    res.end();
  }

  async #parseBody(raw: Buffer, contentType: string): Promise<{ body: unknown; files: FakeFile[]; error?: Reply }> {
    const files: FakeFile[] = [];
    if (raw.length === 0) return { body: undefined, files };
    if (contentType.includes('multipart/form-data')) {
      const form = await new Response(new Uint8Array(raw), { headers: { 'content-type': contentType } }).formData();
      let body: unknown;
      for (const [field, value] of form.entries()) {
        if (typeof value === 'string') {
          if (field === 'payload_json') body = JSON.parse(value);
        } else {
          const file = value as unknown as { name?: string; size: number; type: string };
          files.push({ field, filename: file.name ?? field, size: file.size, contentType: file.type || 'application/octet-stream' });
        }
      }
      return { body, files };
    }
    const text = raw.toString('utf8');
    if (contentType.includes('application/json')) {
      try {
        return { body: JSON.parse(text), files };
      } catch {
        return { body: text, files, error: apiError(400, 50109, 'The request body contains invalid JSON.') };
      }
    }
    return { body: text, files };
  }

  #takeFault(method: string, route: string): Reply | undefined {
    const i = this.#faults.findIndex(
      (f) => (f.method === undefined || f.method.toUpperCase() === method) && (typeof f.path === 'string' ? f.path === route : f.path.test(route)),
    );
    if (i < 0) return undefined;
    const f = this.#faults[i]!;
    f.times = (f.times ?? 1) - 1;
    if (f.times <= 0) this.#faults.splice(i, 1);
    return { status: f.status, ...(f.body !== undefined ? { body: f.body } : {}), ...(f.headers ? { headers: f.headers } : {}) };
  }

  async #route(ctx: Ctx, req: IncomingMessage): Promise<Reply> {
    const parts = ctx.route.split('/').filter(Boolean);
    let pathMatched = false;
    for (const r of this.#routes) {
      if (r.parts.length !== parts.length) continue;
      const params: Params = {};
      let ok = true;
      for (let i = 0; i < parts.length; i++) {
        const want = r.parts[i]!;
        const got = parts[i]!;
        if (want.startsWith(':')) params[want.slice(1)] = got;
        else if (want !== got) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      pathMatched = true;
      if (r.method !== ctx.method) continue;
      if (r.auth) {
        const auth = req.headers.authorization ?? '';
        if (!/^Bot\s+\S+/.test(auth) || (this.#options.token !== undefined && auth.replace(/^Bot\s+/, '') !== this.#options.token)) {
          return apiError(401, 0, '401: Unauthorized');
        }
      }
      return r.handler(ctx, params);
    }
    return pathMatched ? apiError(405, 0, '405: Method Not Allowed') : apiError(404, 0, '404: Not Found');
  }

  #on(method: string, path: string, handler: Handler, auth = true): void {
    this.#routes.push({ method, parts: path.split('/').filter(Boolean), auth, handler });
  }

  #registerRoutes(): void {
    /* gateway, users, applications */
    this.#on('GET', '/gateway/bot', () =>
      json(200, {
        url: this.#gatewayUrl,
        shards: 1,
        session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: 1 },
      }),
    );
    this.#on('GET', '/gateway', () => json(200, { url: this.#gatewayUrl }), false);
    this.#on('GET', '/users/@me', () => json(200, this.#apiUser(this.botUser.id)));
    this.#on('POST', '/users/@me/channels', (ctx) => {
      const uid = String(ctx.body?.recipient_id ?? '');
      const user = this.users.get(uid);
      if (!user) return apiError(404, 10013, 'Unknown User');
      return json(200, this.#apiChannel(this.#dmChannelFor(user)));
    });
    this.#on('GET', '/users/:uid', (_ctx, p) =>
      this.users.has(p['uid']!) ? json(200, this.#apiUser(p['uid']!)) : apiError(404, 10013, 'Unknown User'),
    );
    const application = (): Reply =>
      json(200, {
        id: this.applicationId,
        name: this.botUser.username,
        icon: null,
        description: '',
        summary: '',
        type: null,
        bot_public: true,
        bot_require_code_grant: false,
        verify_key: 'fake',
        flags: (1 << 13) | (1 << 15) | (1 << 19),
        owner: this.#apiUser(this.botUser.id),
        team: null,
        bot: this.#apiUser(this.botUser.id),
        approximate_guild_count: this.#guilds.size,
        integration_types_config: { '0': {} },
      });
    this.#on('GET', '/applications/@me', application);
    this.#on('GET', '/oauth2/applications/@me', application);

    /* application commands */
    for (const scope of ['global', 'guild'] as const) {
      const base = scope === 'global' ? '/applications/:app/commands' : '/applications/:app/guilds/:gid/commands';
      const list = (p: Params): { list: Record<string, unknown>[]; err?: Reply; gid?: string } => {
        if (p['app'] !== this.applicationId) return { list: [], err: apiError(404, 10002, 'Unknown Application') };
        if (scope === 'global') return { list: this.commands.global };
        const gid = p['gid']!;
        if (!this.#guilds.has(gid)) return { list: [], err: apiError(404, 10004, 'Unknown Guild') };
        return { list: this.commands.guild.get(gid) ?? [], gid };
      };
      const store = (gid: string | undefined, cmds: Record<string, unknown>[]): void => {
        if (gid === undefined) this.commands.global = cmds;
        else this.commands.guild.set(gid, cmds);
      };
      this.#on('GET', base, (_ctx, p) => {
        const l = list(p);
        return l.err ?? json(200, l.list);
      });
      this.#on('PUT', base, (ctx, p) => {
        const l = list(p);
        if (l.err) return l.err;
        if (!Array.isArray(ctx.body)) return formError({ _errors: [{ code: 'BASE_TYPE_ARRAY', message: 'Must be an array.' }] });
        const errors = validateCommands(ctx.body);
        if (hasErrors(errors)) return formError(errors);
        const next = ctx.body.map((c: Record<string, unknown>) => this.#storeCommand(c, l.list, l.gid));
        store(l.gid, next);
        return json(200, next);
      });
      this.#on('POST', base, (ctx, p) => {
        const l = list(p);
        if (l.err) return l.err;
        const errors = validateCommands([ctx.body]);
        if (hasErrors(errors)) return formError(errors['0']);
        const cmd = this.#storeCommand(ctx.body, l.list, l.gid);
        const exists = l.list.some((c) => c['id'] === cmd['id']);
        store(l.gid, exists ? l.list.map((c) => (c['id'] === cmd['id'] ? cmd : c)) : [...l.list, cmd]);
        return json(exists ? 200 : 201, cmd);
      });
      this.#on('GET', `${base}/:cid`, (_ctx, p) => {
        const l = list(p);
        const cmd = l.list.find((c) => c['id'] === p['cid']);
        return l.err ?? (cmd ? json(200, cmd) : apiError(404, 10063, 'Unknown application command'));
      });
      this.#on('PATCH', `${base}/:cid`, (ctx, p) => {
        const l = list(p);
        if (l.err) return l.err;
        const cmd = l.list.find((c) => c['id'] === p['cid']);
        if (!cmd) return apiError(404, 10063, 'Unknown application command');
        const updated = this.#storeCommand({ ...cmd, ...ctx.body }, l.list, l.gid);
        store(l.gid, l.list.map((c) => (c['id'] === updated['id'] ? updated : c)));
        return json(200, updated);
      });
      this.#on('DELETE', `${base}/:cid`, (_ctx, p) => {
        const l = list(p);
        if (l.err) return l.err;
        if (!l.list.some((c) => c['id'] === p['cid'])) return apiError(404, 10063, 'Unknown application command');
        store(l.gid, l.list.filter((c) => c['id'] !== p['cid']));
        return noContent();
      });
    }

    /* interactions */
    this.#on('POST', '/interactions/:iid/:token/callback', (ctx, p) => this.#callback(ctx, p['iid']!, p['token']!), false);
    this.#on('POST', '/webhooks/:app/:token', (ctx, p) => this.#followUp(ctx, p['app']!, p['token']!), false);
    this.#on('GET', '/webhooks/:app/:token/messages/:mid', (ctx, p) => this.#webhookMessage(ctx, p), false);
    this.#on('PATCH', '/webhooks/:app/:token/messages/:mid', (ctx, p) => this.#webhookMessage(ctx, p), false);
    this.#on('DELETE', '/webhooks/:app/:token/messages/:mid', (ctx, p) => this.#webhookMessage(ctx, p), false);

    /* channels */
    this.#on('GET', '/channels/:cid', (_ctx, p) => {
      const ch = this.#channels.get(p['cid']!);
      return ch ? json(200, this.#apiChannel(ch)) : unknownChannel();
    });
    this.#on('PATCH', '/channels/:cid', (ctx, p) => this.#patchChannel(ctx, p['cid']!));
    this.#on('POST', '/channels/:cid/typing', (_ctx, p) => (this.#channels.has(p['cid']!) ? noContent() : unknownChannel()));
    this.#on('GET', '/channels/:cid/messages', (ctx, p) => this.#listMessages(ctx, p['cid']!));
    this.#on('POST', '/channels/:cid/messages', (ctx, p) => this.#postChannelMessage(ctx, p['cid']!));
    this.#on('GET', '/channels/:cid/messages/:mid', (_ctx, p) => {
      const m = this.#channelMessage(p['cid']!, p['mid']!);
      return m ? json(200, this.#apiMessage(m)) : this.#channels.has(p['cid']!) ? unknownMessage() : unknownChannel();
    });
    this.#on('PATCH', '/channels/:cid/messages/:mid', (ctx, p) => {
      const m = this.#channelMessage(p['cid']!, p['mid']!);
      if (!m) return this.#channels.has(p['cid']!) ? unknownMessage() : unknownChannel();
      if (m.authorId !== this.botUser.id) return apiError(403, 50005, 'Cannot edit a message authored by another user');
      return this.#editMessage(ctx, m);
    });
    this.#on('DELETE', '/channels/:cid/messages/:mid', (_ctx, p) => {
      const m = this.#channelMessage(p['cid']!, p['mid']!);
      if (!m) return this.#channels.has(p['cid']!) ? unknownMessage() : unknownChannel();
      this.#deleteMessage(m);
      return noContent();
    });
    for (const method of ['PUT', 'DELETE']) {
      this.#on(method, '/channels/:cid/messages/:mid/reactions/:emoji/@me', (_ctx, p) => {
        const m = this.#channelMessage(p['cid']!, p['mid']!);
        if (!m) return this.#channels.has(p['cid']!) ? unknownMessage() : unknownChannel();
        const emoji = p['emoji']!;
        if (method === 'PUT' && !m.reactions.includes(emoji)) m.reactions.push(emoji);
        if (method === 'DELETE') m.reactions = m.reactions.filter((e) => e !== emoji);
        return noContent();
      });
    }
    this.#on('POST', '/channels/:cid/threads', (ctx, p) => this.#postThread(ctx, p['cid']!));
    this.#on('POST', '/channels/:cid/messages/:mid/threads', (ctx, p) => this.#postThread(ctx, p['cid']!, p['mid']!));
    for (const method of ['PUT', 'DELETE']) {
      this.#on(method, '/channels/:cid/thread-members/@me', (_ctx, p) => {
        const ch = this.#channels.get(p['cid']!);
        if (!ch) return unknownChannel();
        if (!ch.thread) return apiError(400, 50024, 'Cannot execute action on this channel type');
        return noContent();
      });
    }

    /* guilds */
    this.#on('GET', '/guilds/:gid', (_ctx, p) => {
      const g = this.#guilds.get(p['gid']!);
      return g ? json(200, this.#apiGuild(g)) : apiError(404, 10004, 'Unknown Guild');
    });
    this.#on('GET', '/guilds/:gid/channels', (_ctx, p) => {
      if (!this.#guilds.has(p['gid']!)) return apiError(404, 10004, 'Unknown Guild');
      return json(200, [...this.#channels.values()].filter((c) => c.guildId === p['gid'] && !c.thread).map((c) => this.#apiChannel(c)));
    });
    this.#on('GET', '/guilds/:gid/roles', (_ctx, p) => {
      const g = this.#guilds.get(p['gid']!);
      return g ? json(200, [...g.roles.values()].map((r) => this.#apiRole(r))) : apiError(404, 10004, 'Unknown Guild');
    });
    this.#on('GET', '/guilds/:gid/members/:uid', (_ctx, p) => {
      const g = this.#guilds.get(p['gid']!);
      if (!g) return apiError(404, 10004, 'Unknown Guild');
      return g.members.has(p['uid']!) ? json(200, this.#apiMember(g.id, p['uid']!, true)) : apiError(404, 10007, 'Unknown Member');
    });
  }

  /* ------------------------------------- REST handlers ------------------------------------- */

  #storeCommand(c: Record<string, unknown>, existing: Record<string, unknown>[], gid: string | undefined): Record<string, unknown> {
    const type = typeof c['type'] === 'number' ? c['type'] : 1;
    const prior = existing.find((e) => e['name'] === c['name'] && (e['type'] ?? 1) === type);
    return {
      ...c,
      id: (prior?.['id'] as string | undefined) ?? nextSnowflake(),
      application_id: this.applicationId,
      version: nextSnowflake(),
      type,
      description: c['description'] ?? '',
      default_member_permissions: c['default_member_permissions'] ?? null,
      nsfw: c['nsfw'] ?? false,
      ...(gid !== undefined ? { guild_id: gid } : { integration_types: c['integration_types'] ?? [0], contexts: c['contexts'] ?? null }),
    };
  }

  #callback(ctx: Ctx, iid: string, token: string): Reply {
    const it = this.#interactions.get(iid);
    if (!it || it.token !== token) return unknownInteraction();
    if (it.responseType !== undefined) return apiError(400, 40060, 'Interaction has already been acknowledged.');
    const ackTimeoutMs = this.#options.interactionAckTimeoutMs ?? 3000;
    if (ackTimeoutMs > 0 && Date.now() - it.createdAt > ackTimeoutMs) return unknownInteraction();
    const body = isObj(ctx.body) ? ctx.body : {};
    const type = body['type'];
    const data = isObj(body['data']) ? body['data'] : {};
    const allowed: Record<number, number[]> = { 2: [4, 5, 9], 3: [4, 5, 6, 7, 9], 4: [8], 5: [4, 5, 6, 7] };
    if (typeof type !== 'number' || !(allowed[it.type] ?? []).includes(type) || ((type === 6 || type === 7) && !it.sourceMessageId)) {
      return formError({ type: { _errors: [{ code: 'INTERACTION_CALLBACK_TYPE_INVALID', message: `Interaction callback type ${String(type)} is not valid for this interaction` }] } });
    }
    const userFlags = typeof data['flags'] === 'number' ? data['flags'] : 0;
    switch (type) {
      case 4: {
        const bad = this.#validate(data, ctx.files.length, undefined, 'data');
        if (bad) return bad;
        const m = this.#createMessage({
          channelId: it.channelId,
          authorId: this.botUser.id,
          body: data,
          files: ctx.files,
          type: it.type === 2 ? 20 : 0,
          flags: userFlags & (EPHEMERAL | SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | IS_COMPONENTS_V2),
          interaction: it,
        });
        it.originalMessageId = m.id;
        break;
      }
      case 5: {
        const m = this.#createMessage({
          channelId: it.channelId,
          authorId: this.botUser.id,
          body: {},
          files: [],
          type: it.type === 2 ? 20 : 0,
          flags: LOADING | (userFlags & EPHEMERAL),
          interaction: it,
        });
        it.originalMessageId = m.id;
        break;
      }
      case 6:
        it.originalMessageId = it.sourceMessageId;
        break;
      case 7: {
        const source = this.#allMessages.get(it.sourceMessageId!);
        if (!source) return unknownMessage();
        const bad = this.#validate(data, ctx.files.length, source, 'data');
        if (bad) return bad;
        this.#applyEdit(source, data, ctx.files);
        it.originalMessageId = source.id;
        break;
      }
      case 8: {
        const choices = data['choices'];
        if (!Array.isArray(choices)) return formError({ data: { choices: { _errors: [{ code: 'BASE_TYPE_REQUIRED', message: 'This field is required' }] } } });
        if (choices.length > 25) return formError({ data: { choices: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: 'Must be 25 or fewer in length.' }] } } });
        break;
      }
      case 9: {
        const errors: ErrorTree = {};
        maxLen(errors, ['data', 'title'], data['title'], 45);
        maxLen(errors, ['data', 'custom_id'], data['custom_id'], 100);
        if (!Array.isArray(data['components']) || data['components'].length === 0 || data['components'].length > 5) {
          addError(errors, ['data', 'components'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 5 in length.');
        }
        if (hasErrors(errors)) return formError(errors);
        break;
      }
    }
    it.responseType = type;
    it.response = body;
    if (ctx.query.get('with_response') !== 'true') return noContent();
    const msg = it.originalMessageId && type !== 6 ? this.#allMessages.get(it.originalMessageId) : undefined;
    return json(200, {
      interaction: {
        id: it.id,
        type: it.type,
        activity_instance_id: null,
        response_message_id: msg?.id ?? null,
        response_message_loading: msg ? (msg.flags & LOADING) !== 0 : null,
        response_message_ephemeral: msg ? (msg.flags & EPHEMERAL) !== 0 : null,
      },
      resource: { type, ...(msg ? { message: this.#apiMessage(msg) } : {}) },
    });
  }

  #webhookInteraction(app: string, token: string): { it?: InteractionState; err?: Reply } {
    const it = this.#interactionsByToken.get(token);
    if (!it || app !== this.applicationId) return { err: unknownWebhook() };
    const ttl = this.#options.interactionTokenTtlMs ?? 15 * 60 * 1000;
    if (this.#now() - it.createdAtClock > ttl) return { err: apiError(401, 50027, 'Invalid Webhook Token') };
    return { it };
  }

  #followUp(ctx: Ctx, app: string, token: string): Reply {
    const { it, err } = this.#webhookInteraction(app, token);
    if (!it) return err!;
    if (it.responseType === undefined) return unknownWebhook();
    const body = isObj(ctx.body) ? ctx.body : {};
    const original = it.originalMessageId ? this.#allMessages.get(it.originalMessageId) : undefined;
    // Discord: the first follow-up after a deferred reply edits the loading message instead.
    if (it.responseType === 5 && original && (original.flags & LOADING) !== 0 && !original.deleted) {
      const bad = this.#validate(body, ctx.files.length, original);
      if (bad) return bad;
      const { flags: _ignored, ...rest } = body;
      this.#applyEdit(original, rest, ctx.files);
      return ctx.query.get('wait') === 'true' ? json(200, this.#apiMessage(original)) : noContent();
    }
    const bad = this.#validate(body, ctx.files.length);
    if (bad) return bad;
    const threadId = ctx.query.get('thread_id');
    const flags = typeof body['flags'] === 'number' ? body['flags'] : 0;
    const m = this.#createMessage({
      channelId: threadId ?? it.channelId,
      authorId: this.botUser.id,
      body,
      files: ctx.files,
      type: 0,
      flags: flags & (EPHEMERAL | SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | IS_COMPONENTS_V2),
      interaction: it,
    });
    it.followUpIds.push(m.id);
    return ctx.query.get('wait') === 'true' ? json(200, this.#apiMessage(m)) : noContent();
  }

  #webhookMessage(ctx: Ctx, p: Params): Reply {
    const { it, err } = this.#webhookInteraction(p['app']!, p['token']!);
    if (!it) return err!;
    const mid = p['mid'] === '@original' ? it.originalMessageId : p['mid'];
    const own = mid !== undefined && (mid === it.originalMessageId || it.followUpIds.includes(mid));
    const m = own ? this.#allMessages.get(mid) : undefined;
    if (!m || m.deleted) return unknownMessage();
    if (ctx.method === 'GET') return json(200, this.#apiMessage(m));
    if (ctx.method === 'DELETE') {
      this.#deleteMessage(m);
      return noContent();
    }
    return this.#editMessage(ctx, m);
  }

  #editMessage(ctx: Ctx, m: FakeMessage): Reply {
    const limited = this.#editRateLimit(m.id);
    if (limited) return limited;
    const bad = this.#validate(ctx.body, ctx.files.length, m);
    if (bad) return bad;
    this.#applyEdit(m, ctx.body, ctx.files);
    return json(200, this.#apiMessage(m));
  }

  #deleteMessage(m: FakeMessage): void {
    if (m.deleted) return;
    m.deleted = true;
    if ((m.flags & EPHEMERAL) === 0 && (m.authorId !== this.botUser.id || this.#options.echoBotMessages !== false)) {
      this.#dispatch('MESSAGE_DELETE', { id: m.id, channel_id: m.channelId, ...(m.guildId ? { guild_id: m.guildId } : {}) });
    }
  }

  #channelMessage(cid: string, mid: string): FakeMessage | undefined {
    const m = this.#allMessages.get(mid);
    return m && m.channelId === cid && !m.deleted ? m : undefined;
  }

  #postChannelMessage(ctx: Ctx, cid: string): Reply {
    const ch = this.#channels.get(cid);
    if (!ch) return unknownChannel();
    if (!TEXT_CHANNEL_TYPES.has(ch.type)) return apiError(400, 50008, 'Cannot send messages in a non-text channel');
    if (ch.thread?.archived) {
      if (ch.thread.locked) return apiError(400, 50083, 'Thread is archived');
      ch.thread.archived = false;
    }
    const body = isObj(ctx.body) ? ctx.body : {};
    const bad = this.#validate(body, ctx.files.length);
    if (bad) return bad;
    const ref = isObj(body['message_reference']) ? body['message_reference'] : undefined;
    if (ref && ref['fail_if_not_exists'] !== false) {
      const target = this.#allMessages.get(String(ref['message_id']));
      if (!target || target.deleted) {
        return formError({ message_reference: { _errors: [{ code: 'MESSAGE_REFERENCE_UNKNOWN_MESSAGE', message: 'Unknown message' }] } });
      }
    }
    const m = this.#createMessage({ channelId: cid, authorId: this.botUser.id, body, files: ctx.files, type: ref ? 19 : 0 });
    return json(200, this.#apiMessage(m));
  }

  #listMessages(ctx: Ctx, cid: string): Reply {
    if (!this.#channels.has(cid)) return unknownChannel();
    const limit = Number(ctx.query.get('limit') ?? 50);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
      return formError({ limit: { _errors: [{ code: 'NUMBER_TYPE_MAX', message: 'int value should be less than or equal to 100.' }] } });
    }
    const before = ctx.query.get('before');
    const after = ctx.query.get('after');
    let list = [...this.#allMessages.values()].filter((m) => m.channelId === cid && !m.deleted && (m.flags & EPHEMERAL) === 0);
    const big = (id: string): bigint => BigInt(id);
    if (before) list = list.filter((m) => big(m.id) < big(before));
    if (after) list = list.filter((m) => big(m.id) > big(after));
    list.sort((a, b) => (big(b.id) > big(a.id) ? 1 : -1));
    if (after) list = list.slice(-limit);
    else list = list.slice(0, limit);
    return json(200, list.map((m) => this.#apiMessage(m)));
  }

  #patchChannel(ctx: Ctx, cid: string): Reply {
    const ch = this.#channels.get(cid);
    if (!ch) return unknownChannel();
    const body = isObj(ctx.body) ? ctx.body : {};
    if ('name' in body) {
      const len = strLen(body['name']);
      if (len < 1 || len > 100) return formError({ name: { _errors: [{ code: 'BASE_TYPE_BAD_LENGTH', message: 'Must be between 1 and 100 in length.' }] } });
      ch.name = String(body['name']);
      if (ch.thread) ch.thread.name = ch.name;
    }
    if (typeof body['topic'] === 'string' || body['topic'] === null) ch.topic = body['topic'] as string | null;
    if (ch.thread) {
      if (typeof body['archived'] === 'boolean') ch.thread.archived = body['archived'];
      if (typeof body['locked'] === 'boolean') ch.thread.locked = body['locked'];
      if (typeof body['auto_archive_duration'] === 'number') ch.thread.autoArchiveDuration = body['auto_archive_duration'];
    }
    const data = this.#apiChannel(ch);
    this.#dispatch(ch.thread ? 'THREAD_UPDATE' : 'CHANNEL_UPDATE', data);
    return json(200, data);
  }

  #postThread(ctx: Ctx, cid: string, mid?: string): Reply {
    const parent = this.#channels.get(cid);
    if (!parent) return unknownChannel();
    if (!parent.guildId || parent.thread || ![0, 5, 15, 16].includes(parent.type)) {
      return apiError(400, 50024, 'Cannot execute action on this channel type');
    }
    const body = isObj(ctx.body) ? ctx.body : {};
    const nameLen = strLen(body['name']);
    if (nameLen < 1 || nameLen > 100) {
      return formError({ name: { _errors: [{ code: nameLen === 0 ? 'BASE_TYPE_REQUIRED' : 'BASE_TYPE_BAD_LENGTH', message: nameLen === 0 ? 'This field is required' : 'Must be between 1 and 100 in length.' }] } });
    }
    const autoArchiveDuration = typeof body['auto_archive_duration'] === 'number' ? body['auto_archive_duration'] : 4320;
    const name = String(body['name']);
    if (mid !== undefined) {
      const starter = this.#channelMessage(cid, mid);
      if (!starter) return unknownMessage();
      if (starter.threadId) return apiError(400, 160004, 'A thread has already been created for this message');
      const thread = this.#newThread(parent, { id: starter.id, name, ownerId: this.botUser.id, type: parent.type === 5 ? 10 : 11, autoArchiveDuration, messageId: starter.id });
      const ch = this.#channels.get(thread.id)!;
      return json(201, { ...this.#apiChannel(ch), ...this.#threadMember(ch) });
    }
    if (parent.type === 15 || parent.type === 16) {
      const message = isObj(body['message']) ? body['message'] : undefined;
      const bad = this.#validate(message ?? {}, ctx.files.length, undefined, 'message');
      if (bad) return bad;
      const id = nextSnowflake();
      const thread = this.#newThread(parent, { id, name, ownerId: this.botUser.id, type: 11, autoArchiveDuration, messageId: id });
      const ch = this.#channels.get(thread.id)!;
      const starter = this.#createMessage({ id, channelId: thread.id, authorId: this.botUser.id, body: message, files: ctx.files, type: 0 });
      return json(201, { ...this.#apiChannel(ch), ...this.#threadMember(ch), message: this.#apiMessage(starter) });
    }
    const type = typeof body['type'] === 'number' ? body['type'] : 12;
    if (!THREAD_TYPES.has(type)) return formError({ type: { _errors: [{ code: 'BASE_TYPE_CHOICES', message: 'Value must be one of {10, 11, 12}.' }] } });
    const thread = this.#newThread(parent, { id: nextSnowflake(), name, ownerId: this.botUser.id, type, autoArchiveDuration });
    const ch = this.#channels.get(thread.id)!;
    return json(201, { ...this.#apiChannel(ch), ...this.#threadMember(ch) });
  }
}
