/**
 * Per-server settings, set with `/settings` (Manage Server): a persona (system prompt), a
 * default model, the channels the bot answers in, whether it answers mentions, whether
 * members may ask for private answers, the roles allowed to use it, and whether answers
 * search Google by default. Kept in the store's meta values (`guild-settings:<id>`, JSON),
 * so every process of a shared (Redis) store sees them; checked again whenever read back,
 * since a store is not a place to trust. DMs follow the global configuration (`DMS`).
 */
import type { Message, RepliableInteraction } from 'discord.js';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { ConversationStore } from '../store/types.ts';

/** Longest persona, in characters. */
export const MAX_PERSONA_CHARS = 2_000;

/** What a server may set; absent fields take the defaults below. */
export interface GuildSettings {
  /** Added to the system instruction (after SYSTEM_PROMPT). */
  persona?: string;
  /** The model used when a request names none. */
  model?: string;
  /** Channels (or categories) the bot answers in; absent: all. A thread follows its channel. */
  channels?: string[];
  /** Answer @mentions and replies. @default true */
  mentions: boolean;
  /** Members may ask for private answers (`/ask private`). @default true */
  allowPrivate: boolean;
  /** Roles allowed to use the bot; absent: everyone. */
  roles?: string[];
  /** Ground answers in Google Search unless a request says otherwise. @default false */
  search: boolean;
}

export const DEFAULT_GUILD_SETTINGS: GuildSettings = { mentions: true, allowPrivate: true, search: false };

/** The setting names, as `/settings reset` offers them. */
export const SETTING_NAMES = ['persona', 'model', 'channels', 'mentions', 'private', 'roles', 'search'] as const;
export type SettingName = (typeof SETTING_NAMES)[number];

const snowflake = z.string().regex(/^\d{5,25}$/);
/** The stored shape: only what a server set. Unknown fields are dropped. */
const storedSchema = z.object({
  persona: z.string().min(1).max(MAX_PERSONA_CHARS).optional(),
  model: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/).optional(),
  channels: z.array(snowflake).min(1).max(100).optional(),
  mentions: z.boolean().optional(),
  allowPrivate: z.boolean().optional(),
  roles: z.array(snowflake).min(1).max(100).optional(),
  search: z.boolean().optional(),
});
export type StoredGuildSettings = z.infer<typeof storedSchema>;

/** The store meta name of a server's settings. */
export const guildSettingsMeta = (guildId: string): string => `guild-settings:${guildId}`;

/**
 * A server's settings from what the store holds: defaults for what is not set, and for
 * the whole when the value is not valid JSON of the right shape (`problem` says why).
 */
export function parseGuildSettings(raw: string | undefined): { settings: GuildSettings; stored: StoredGuildSettings; problem?: string } {
  if (raw === undefined) return { settings: { ...DEFAULT_GUILD_SETTINGS }, stored: {} };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { settings: { ...DEFAULT_GUILD_SETTINGS }, stored: {}, problem: 'not JSON' };
  }
  const parsed = storedSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { settings: { ...DEFAULT_GUILD_SETTINGS }, stored: {}, problem: `${issue?.path.join('.') || 'value'}: ${issue?.message ?? 'invalid'}` };
  }
  const stored = parsed.data;
  const settings: GuildSettings = { ...DEFAULT_GUILD_SETTINGS };
  for (const [k, v] of Object.entries(stored)) if (v !== undefined) (settings as unknown as Record<string, unknown>)[k] = v;
  return { settings, stored };
}

/** The stored form of a change: `set` fields replace, `reset` names go back to their default. */
export function changeSettings(stored: StoredGuildSettings, set: Partial<StoredGuildSettings>, reset: readonly SettingName[] = []): StoredGuildSettings {
  const next: StoredGuildSettings = { ...stored };
  for (const [k, v] of Object.entries(set)) if (v !== undefined) (next as Record<string, unknown>)[k] = v;
  for (const name of reset) delete next[name === 'private' ? 'allowPrivate' : name];
  return storedSchema.parse(next);
}

/** Where a request comes from, as the settings need it. */
export interface RequestPlace {
  /** null in a DM. */
  guildId: string | null;
  /** The channel, then its parents (a thread's channel, a channel's category). */
  channelIds: string[];
  /** The member's roles (none in a DM). */
  roleIds: string[];
}

/** The channel and its parents: a thread's channel and that channel's category, a channel's category. */
function channelChain(channel: { id: string; parentId?: string | null; parent?: { parentId?: string | null } | null } | null, channelId: string | null): string[] {
  const ids = [channel?.id ?? channelId, channel?.parentId, channel?.parent?.parentId];
  return [...new Set(ids.filter((id): id is string => typeof id === 'string' && id !== ''))];
}

/** Roles of an interaction's member: a cached GuildMember, or the raw member Discord sent. */
function memberRoles(member: unknown): string[] {
  if (!member || typeof member !== 'object' || !('roles' in member)) return [];
  const roles = (member as { roles: unknown }).roles;
  if (Array.isArray(roles)) return roles.filter((r): r is string => typeof r === 'string');
  const cache = (roles as { cache?: Map<string, unknown> } | null)?.cache;
  return cache ? [...cache.keys()] : [];
}

/** Where an interaction comes from. */
export function placeOfInteraction(interaction: RepliableInteraction): RequestPlace {
  return {
    guildId: interaction.guildId,
    channelIds: channelChain(interaction.channel as Parameters<typeof channelChain>[0], interaction.channelId),
    roleIds: memberRoles(interaction.member),
  };
}

/** Where a message comes from. */
export function placeOfMessage(message: Message): RequestPlace {
  return {
    guildId: message.guildId,
    channelIds: channelChain(message.channel as Parameters<typeof channelChain>[0], message.channelId),
    roleIds: memberRoles(message.member),
  };
}

/** Whether a server's channel list lets the bot answer here (a parent on the list counts). */
export function channelAllowed(settings: GuildSettings, place: RequestPlace): boolean {
  return !settings.channels || place.channelIds.some((id) => settings.channels!.includes(id));
}

/** Whether a server's role list lets this member use the bot. */
export function roleAllowed(settings: GuildSettings, place: RequestPlace): boolean {
  return !settings.roles || place.roleIds.some((id) => settings.roles!.includes(id));
}

/** The system instruction of a request: SYSTEM_PROMPT, then the server's persona. */
export function systemInstructionFor(systemPrompt: string | undefined, settings: GuildSettings): string | undefined {
  const parts = [systemPrompt, settings.persona].filter((p): p is string => p !== undefined && p.trim() !== '');
  return parts.length > 0 ? parts.join('\n\n') : undefined;
}

/** The model of a request that names none: the server's, while it is still served, else the bot's default. */
export function modelFor(settings: GuildSettings, served: readonly string[], defaultModel: string): string {
  return settings.model !== undefined && served.includes(settings.model) ? settings.model : defaultModel;
}

/** Options of {@link GuildSettingsStore}. */
export interface GuildSettingsStoreOptions {
  logger?: Logger;
  /** Settings read are trusted this long; changes made by another process show after it. @default 5_000 */
  cacheMs?: number;
  /** A store read that has not answered in this long is given up (the last known or the defaults hold). @default 2_000 */
  timeoutMs?: number;
  /** @default Date.now */
  now?: () => number;
}

/** Servers' settings in the store, with a short cache. */
export class GuildSettingsStore {
  readonly #store: ConversationStore;
  readonly #log: Logger | undefined;
  readonly #cacheMs: number;
  readonly #timeoutMs: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, { settings: GuildSettings; stored: StoredGuildSettings; at: number }>();

  constructor(store: ConversationStore, options: GuildSettingsStoreOptions = {}) {
    this.#store = store;
    this.#log = options.logger;
    this.#cacheMs = options.cacheMs ?? 5_000;
    this.#timeoutMs = options.timeoutMs ?? 2_000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * The settings that hold for a request from `guildId` (the defaults in a DM). Never
   * throws: when the store does not answer, the last known settings (or the defaults) hold.
   */
  async forGuild(guildId: string | null): Promise<GuildSettings> {
    if (guildId === null) return { ...DEFAULT_GUILD_SETTINGS };
    return (await this.#read(guildId)).settings;
  }

  /** What the server set, as stored (for `/settings show`). */
  async stored(guildId: string): Promise<StoredGuildSettings> {
    return (await this.#read(guildId)).stored;
  }

  /** Applies a change and writes it. @throws when the store cannot take it */
  async change(guildId: string, set: Partial<StoredGuildSettings>, reset: readonly SettingName[] = []): Promise<GuildSettings> {
    const raw = await this.#bounded(this.#store.getMeta(guildSettingsMeta(guildId)));
    const next = changeSettings(parseGuildSettings(raw).stored, set, reset);
    await this.#bounded(this.#store.setMeta(guildSettingsMeta(guildId), JSON.stringify(next)));
    const parsed = parseGuildSettings(JSON.stringify(next));
    this.#cache.set(guildId, { settings: parsed.settings, stored: parsed.stored, at: this.#now() });
    return parsed.settings;
  }

  async #read(guildId: string): Promise<{ settings: GuildSettings; stored: StoredGuildSettings }> {
    const cached = this.#cache.get(guildId);
    if (cached && this.#now() - cached.at < this.#cacheMs) return cached;
    try {
      const parsed = parseGuildSettings(await this.#bounded(this.#store.getMeta(guildSettingsMeta(guildId))));
      if (parsed.problem) this.#log?.warn({ guildId, problem: parsed.problem }, 'stored server settings are not valid; using the defaults');
      const entry = { settings: parsed.settings, stored: parsed.stored, at: this.#now() };
      this.#cache.set(guildId, entry);
      return entry;
    } catch (err) {
      this.#log?.warn({ guildId, err: err instanceof Error ? err.message : String(err) }, 'could not read server settings; the last known ones hold');
      return cached ?? { settings: { ...DEFAULT_GUILD_SETTINGS }, stored: {} };
    }
  }

  async #bounded<T>(call: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        call,
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`the store gave no answer within ${this.#timeoutMs} ms`)), this.#timeoutMs))),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}
