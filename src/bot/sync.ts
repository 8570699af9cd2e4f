/**
 * Registering the slash commands with Discord: to one guild when DISCORD_GUILD_ID is set
 * (instant), otherwise globally. On start the bot registers only when the definitions
 * changed: a hash of (target, definitions) is kept in the store's meta.
 */
import { createHash } from 'node:crypto';
import { Routes } from 'discord.js';
import type { REST, RESTPostAPIApplicationCommandsJSONBody } from 'discord.js';
import type { ConversationStore } from '../store/types.ts';

/** Store meta entry holding the hash of what was registered last. */
export const COMMANDS_HASH_META = 'commands-hash';

/** Where commands go. */
export interface RegistrationTarget {
  applicationId: string;
  /** A guild (instant), or undefined for global (may take a while to show everywhere). */
  guildId: string | undefined;
}

/** Hash of what would be registered where: changes when a definition, a model or the target changes. */
export function commandsHash(target: RegistrationTarget, payloads: readonly RESTPostAPIApplicationCommandsJSONBody[]): string {
  const canonical = JSON.stringify({
    applicationId: target.applicationId,
    guildId: target.guildId ?? 'global',
    commands: [...payloads].sort((a, b) => a.name.localeCompare(b.name)),
  });
  return createHash('sha256').update(canonical).digest('hex');
}

/** Replaces the application's commands at the target with `payloads` (one bulk PUT). */
export async function registerCommands(
  rest: REST,
  target: RegistrationTarget,
  payloads: readonly RESTPostAPIApplicationCommandsJSONBody[],
): Promise<number> {
  const route = target.guildId
    ? Routes.applicationGuildCommands(target.applicationId, target.guildId)
    : Routes.applicationCommands(target.applicationId);
  const stored = (await rest.put(route, { body: payloads })) as unknown[];
  return stored.length;
}

/** What {@link syncCommands} did. */
export type SyncOutcome = { registered: true; count: number; hash: string } | { registered: false; hash: string };

/** Registers when the hash differs from the stored one, then stores the new hash. */
export async function syncCommands(
  rest: REST,
  store: ConversationStore,
  target: RegistrationTarget,
  payloads: readonly RESTPostAPIApplicationCommandsJSONBody[],
): Promise<SyncOutcome> {
  const hash = commandsHash(target, payloads);
  if ((await store.getMeta(COMMANDS_HASH_META)) === hash) return { registered: false, hash };
  const count = await registerCommands(rest, target, payloads);
  await store.setMeta(COMMANDS_HASH_META, hash);
  return { registered: true, count, hash };
}
