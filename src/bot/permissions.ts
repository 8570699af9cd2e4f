/**
 * Who may run admin commands. Discord hides them from members without Manage Server
 * (`setDefaultMemberPermissions`), but a server can override that in its settings, so the
 * bot checks again here.
 */
import { PermissionFlagsBits } from 'discord.js';
import type { Requester } from './types.ts';

/**
 * True for users on the allow-list (anywhere, DMs included) and, in a guild, for members
 * with Manage Server (Administrator implies it).
 */
export function isAdmin(who: Requester, adminUserIds: readonly string[]): boolean {
  if (adminUserIds.includes(who.userId)) return true;
  return who.permissions?.has(PermissionFlagsBits.ManageGuild) ?? false;
}
