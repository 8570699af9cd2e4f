/**
 * What the fake Discord's users see of it: its options (guilds, channels, members, roles),
 * the messages, threads, interactions and REST calls it records, the faults it can inject,
 * and the permission bitfields tests configure members with.
 */

/** A Discord user as the tests describe it. Use numeric-string ids (discord.js parses snowflakes). */
export interface FakeUser {
  id: string;
  username: string;
  globalName?: string;
  /** Default false. */
  bot?: boolean;
}

/** A role of a configured guild. */
export interface FakeRoleConfig {
  id: string;
  name?: string;
  /** Permission bitfield as a decimal string. Default `'0'`. */
  permissions?: string;
  position?: number;
}

/** A channel of a configured guild. */
export interface FakeChannelConfig {
  id: string;
  name?: string;
  /** Discord channel type: 0 text (default), 2 voice, 4 category, 5 announcement, 15 forum. */
  type?: number;
  /** Category id. */
  parentId?: string;
  topic?: string;
}

/** A member of a configured guild (the bot is always a member). */
export interface FakeMemberConfig {
  user: FakeUser;
  /** Role ids. */
  roles?: string[];
  nick?: string;
}

/** A guild the bot is in. */
export interface FakeGuildConfig {
  id: string;
  name?: string;
  channels?: FakeChannelConfig[];
  /** Owner user id; the owner gets every permission. Default: a made-up id. */
  ownerId?: string;
  roles?: FakeRoleConfig[];
  /** Permissions of the @everyone role (id = guild id). Default {@link FakePermissions.DefaultMember}. */
  everyonePermissions?: string;
  members?: FakeMemberConfig[];
}

/** Options of {@link FakeDiscord.start}. Every field is optional. */
export interface FakeDiscordOptions {
  /** @default a fresh snowflake */
  applicationId?: string;
  /** @default `{ id: applicationId, username: 'FakeBot' }` (bot: true is added) */
  botUser?: FakeUser;
  /** @default [] */
  guilds?: FakeGuildConfig[];
  /**
   * Edits of ONE message (PATCH of a channel message or an interaction webhook message).
   * A token bucket: `perMessage` edits at once, refilled at `perMessage / windowMs`, so the
   * longest `retry_after` is `windowMs / perMessage` (1 s by default). Over it: 429.
   * `perMessage: Infinity` disables the limit.
   * @default { perMessage: 5, windowMs: 5000 }
   */
  editLimit?: { perMessage: number; windowMs: number };
  /** If set, REST (`Authorization: Bot <token>`) and IDENTIFY must use this token (else 401 / close 4004). */
  token?: string;
  /** @default 41250 */
  heartbeatIntervalMs?: number;
  /** Filter gateway events by the IDENTIFY intents, like Discord. @default true */
  enforceIntents?: boolean;
  /** First interaction callback must come within this many ms, else 404 10062. 0 disables. @default 3000 */
  interactionAckTimeoutMs?: number;
  /** Interaction webhook tokens expire this many ms (by `now()`) after the interaction. @default 900000 */
  interactionTokenTtlMs?: number;
  /** `app_permissions` of interactions. @default {@link FakePermissions.DefaultBot} */
  appPermissions?: string;
  /** Dispatch MESSAGE_CREATE / MESSAGE_UPDATE / MESSAGE_DELETE for the bot's own messages. @default true */
  echoBotMessages?: boolean;
  /** Clock used for token expiry only, so tests can jump 15 min. @default Date.now */
  now?: () => number;
}

/** A file part of a multipart request. */
export interface FakeFile {
  /** Form field name, e.g. `files[0]`. */
  field: string;
  filename: string;
  size: number;
  contentType: string;
}

/** One REST request, as received. */
export interface RecordedCall {
  /** Date.now() on arrival. */
  at: number;
  method: string;
  /** Route without `/api/v10`, e.g. `/channels/1/messages`. */
  path: string;
  /** Parsed JSON body; for multipart bodies the parsed `payload_json` part. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  /** HTTP status answered (0 while in flight). */
  status: number;
  /** Raw query string without `?`. */
  query: string;
  /** File parts of a multipart body. */
  files?: FakeFile[];
  /** Body answered (parsed), if any. */
  response?: unknown;
}

/** An attachment stored on a message (or given as a command's attachment option). */
export interface FakeAttachment {
  id: string;
  filename: string;
  /** The size Discord reports. */
  size: number;
  contentType: string;
}

/**
 * A file a user attaches, to a message or as a command's attachment option. Its bytes are
 * served by the fake's CDN route (`GET /attachments/:channel/:id/:name`, outside `/api`),
 * where the attachment's `url` points, as Discord's point at cdn.discordapp.com.
 */
export interface FakeUpload {
  filename: string;
  /** @default 'application/octet-stream' */
  contentType?: string;
  data: Uint8Array | string;
  /** The size Discord reports, when it must differ from the bytes served (a size that lies). */
  declaredSize?: number;
  /** Serve the bytes without a Content-Length (chunked), so only counting them tells the size. */
  omitLength?: boolean;
}

/** Who a message would actually notify, computed from its content and `allowed_mentions`. */
export interface FakePings {
  everyone: boolean;
  users: string[];
  roles: string[];
}

/** A message in the fake (bot messages in {@link FakeDiscord.messages}, user ones in {@link FakeDiscord.userMessages}). */
export interface FakeMessage {
  id: string;
  channelId: string;
  guildId: string | null;
  content: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  embeds: any[];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  components: any[];
  /** Message flags: 64 ephemeral, 128 loading (deferred, not yet edited), 4 suppress embeds. */
  flags: number;
  authorId: string;
  /** Last `allowed_mentions` sent for this message (create or edit). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  allowedMentions?: any;
  /** Token of the interaction this message answers (original response or follow-up). */
  interactionToken?: string;
  interactionId?: string;
  /** Successful edits (PATCH, callback type 7, a follow-up that filled a deferred reply). */
  edits: number;
  createdAt: number;
  editedAt: number[];
  deleted?: boolean;
  /** Discord message type: 0 default, 19 reply, 20 chat-input command. */
  type: number;
  attachments: FakeAttachment[];
  pings: FakePings;
  referenceMessageId?: string;
  /** Id of the thread started from this message. */
  threadId?: string;
  /** Emoji the bot reacted with. */
  reactions: string[];
}

/** A thread channel. */
export interface FakeThread {
  id: string;
  parentId: string;
  guildId: string;
  name: string;
  ownerId: string;
  /** Starter message (a thread started from a message has the message's id). */
  messageId?: string;
  /** 10 announcement, 11 public, 12 private. */
  type: number;
  archived: boolean;
  locked: boolean;
  autoArchiveDuration: number;
  createdAt: number;
  messageCount: number;
}

/** An option of a chat-input interaction (`type`: 1 sub-command, 2 group, 3 string, 4 integer, 5 boolean, 6 user, 7 channel, 8 role, 10 number). */
export interface FakeCommandOption {
  name: string;
  type: number;
  value?: unknown;
  options?: FakeCommandOption[];
  focused?: boolean;
}

/** Who, where and with which rights an interaction happens. */
export interface FakeInteractionContext {
  user: FakeUser;
  /** `null` = DM. Omitted: the guild of `channelId` if the channel is a configured guild channel or thread, else DM. */
  guildId?: string | null;
  channelId: string;
  /** Member permission bitfield, e.g. `'0'` or ManageGuild `'32'`. Default: from roles (owner: all). */
  memberPermissions?: string;
  /** @default 'en-US' */
  locale?: string;
}

/** Options of {@link FakeDiscord.sendCommand}. */
export interface SendCommandOptions extends FakeInteractionContext {
  name: string;
  options?: FakeCommandOption[];
  /** Merged into `data.resolved` (users, channels and roles of options are resolved automatically). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  resolved?: any;
}

/** Options of {@link FakeDiscord.sendMessageCommand}: a message context-menu command used on a message. */
export interface SendMessageCommandOptions extends FakeInteractionContext {
  /** The command's name, as registered ("Ask about this"). */
  name: string;
  /** The message it is used on (a message of the fake, in `channelId`). */
  targetMessageId: string;
}

/** Options of {@link FakeDiscord.sendAutocomplete}: the focused option has `focused: true` or is named by `focused`. */
export interface SendAutocompleteOptions extends SendCommandOptions {
  focused?: string;
}

/** Options of {@link FakeDiscord.sendComponent}. */
export interface SendComponentOptions extends FakeInteractionContext {
  customId: string;
  /** Message carrying the component (must be a message of the fake in `channelId`). */
  messageId: string;
  /** 2 button (default), 3 string select, 5 user select, 6 role select, 8 channel select. */
  componentType?: number;
  /** Selected values of a select menu. */
  values?: string[];
}

/** Options of {@link FakeDiscord.sendButton}. */
export type SendButtonOptions = Omit<SendComponentOptions, 'componentType' | 'values'>;

/** Options of {@link FakeDiscord.sendModalSubmit}. */
export interface SendModalSubmitOptions extends FakeInteractionContext {
  customId: string;
  /** Text input custom ids → values. */
  fields: Record<string, string>;
  /** Set when the modal was opened from a component on this message. */
  messageId?: string;
}

/** Options of {@link FakeDiscord.sendUserMessage}. */
export interface SendUserMessageOptions {
  channelId: string;
  /** `null` = DM; omitted: guild of the channel if configured, else DM. */
  guildId?: string | null;
  content: string;
  author: FakeUser;
  /** Message this one replies to. */
  replyTo?: string;
  /** Files attached to it. */
  attachments?: FakeUpload[];
}

/** An interaction the fake dispatched, and what the bot answered. */
export interface FakeInteraction {
  id: string;
  token: string;
  /** 2 command, 3 component, 4 autocomplete, 5 modal submit. */
  type: number;
  channelId: string;
  guildId: string | null;
  /** response callback type received (4 reply, 5 deferred, 6 deferred update, 7 update, 8 autocomplete result, 9 modal) */
  responseType(): number | undefined;
  /** Raw body of the callback (`{ type, data }`). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  response(): any;
  /** the original response message, once created (for 6/7: the component's message) */
  original(): FakeMessage | undefined;
  /** Follow-up messages, in order (a follow-up that filled a deferred reply is the original, not here). */
  followUps(): FakeMessage[];
  /** Whether the response is ephemeral. */
  ephemeral(): boolean;
  /** Choices of an autocomplete result (type 8). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  choices(): any[] | undefined;
  /** Modal data of a type 9 response. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  modal(): any;
  /** Resolves once the interaction got its callback. @default timeoutMs 5000 */
  waitForResponse(timeoutMs?: number): Promise<void>;
  /** Resolves with the original message once it is no longer loading and `predicate` holds. @default timeoutMs 5000 */
  waitForOriginal(predicate?: (m: FakeMessage) => boolean, timeoutMs?: number): Promise<FakeMessage>;
}

/** A canned answer for matching REST calls, see {@link FakeDiscord.injectFault}. */
export interface FakeFault {
  /** Default: any method. */
  method?: string;
  /** A route (exact, e.g. `/channels/1/messages`) or a RegExp tested on it. */
  path: string | RegExp;
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** How many calls it answers. @default 1 */
  times?: number;
}

/** Permission bitfields (decimal strings) for `memberPermissions` and configs. */
export const FakePermissions = (() => {
  const bit = (n: number): bigint => 1n << BigInt(n);
  const or = (...ns: number[]): bigint => ns.reduce((acc, n) => acc | bit(n), 0n);
  // CreateInstantInvite, AddReactions, ViewChannel, SendMessages, EmbedLinks, AttachFiles,
  // ReadMessageHistory, UseExternalEmojis, Connect, Speak, UseVAD, ChangeNickname,
  // UseApplicationCommands, CreatePublicThreads, SendMessagesInThreads.
  const member = or(0, 6, 10, 11, 14, 15, 16, 18, 20, 21, 25, 26, 31, 35, 38);
  // ... plus ManageMessages, ManageThreads, CreatePrivateThreads.
  const bot = member | or(13, 34, 36);
  let all = 0n;
  for (let n = 0; n <= 52; n++) if (n !== 47 && n !== 48) all |= bit(n);
  return {
    None: '0',
    Administrator: bit(3).toString(),
    ManageChannels: bit(4).toString(),
    ManageGuild: bit(5).toString(),
    ManageMessages: bit(13).toString(),
    ManageThreads: bit(34).toString(),
    /** What a plain member may do in a normal server. */
    DefaultMember: member.toString(),
    /** Default `app_permissions`: DefaultMember + ManageMessages, ManageThreads, CreatePrivateThreads. */
    DefaultBot: bot.toString(),
    All: all.toString(),
  } as const;
})();
