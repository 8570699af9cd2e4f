/**
 * What a command is, and what it gets to work with. Every file in `commands/` is
 * `export default { data, execute } satisfies Command` (a slash command), or
 * `{ data, menu }` (a message context-menu command).
 */
import type {
  ButtonInteraction,
  ChatInputCommandInteraction,
  MessageContextMenuCommandInteraction,
  RESTPostAPIChatInputApplicationCommandsJSONBody,
  RESTPostAPIContextMenuApplicationCommandsJSONBody,
} from 'discord.js';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { ClientLimits } from '../limits/clientLimits.ts';
import type { GeminiAPIPool } from '../pool/GeminiAPIPool.ts';
import type { StateStore } from '../store/types.ts';
import type { BotMetrics } from '../ops/metrics.ts';
import type { Attachments } from './attachments.ts';
import type { Conversations } from './conversations.ts';
import type { AnswerRegistry } from './controls.ts';
import type { RequestGate } from './gate.ts';
import type { LifecycleView } from './lifecycle.ts';
import type { GuildSettingsStore } from './settings.ts';

/** The definition part of a slash command: a `SlashCommandBuilder` (anything with a name and `toJSON`). */
export interface CommandData {
  readonly name: string;
  toJSON(): RESTPostAPIChatInputApplicationCommandsJSONBody;
}

/** What every kind of command has. */
interface CommandBase {
  /**
   * Admin commands: the dispatcher checks {@link BotContext.isAdmin} before running them,
   * on top of `setDefaultMemberPermissions`, which servers can override. The loader
   * requires both to be set together.
   */
  adminOnly?: boolean;
  /** Buttons whose custom id is `<name>` or starts with `<name>:` come here. */
  button?(interaction: ButtonInteraction, ctx: BotContext): Promise<void>;
}

/** One slash command. */
export interface SlashCommand extends CommandBase {
  /**
   * The definition. An option named `model` gets the configured models as its choices and
   * an option named `prompt` MAX_PROMPT_CHARS as its longest length at registration (see
   * `loader.ts`), so command files need not know the configuration.
   */
  data: CommandData;
  /** Runs the command. Throwing is allowed: the dispatcher turns it into a friendly reply. */
  execute(interaction: ChatInputCommandInteraction, ctx: BotContext): Promise<void>;
}

/** One message context-menu command (right-click a message, *Apps*). */
export interface MessageMenuCommand extends CommandBase {
  /** A `ContextMenuCommandBuilder` of type Message. */
  data: { readonly name: string; toJSON(): RESTPostAPIContextMenuApplicationCommandsJSONBody };
  /** Runs the command on the message it was used on. Throwing is allowed, as for `execute`. */
  menu(interaction: MessageContextMenuCommandInteraction, ctx: BotContext): Promise<void>;
}

/** A command file's default export. */
export type Command = SlashCommand | MessageMenuCommand;

/** Whether a command is a message context-menu command. */
export const isMenuCommand = (c: Command): c is MessageMenuCommand => 'menu' in c && typeof c.menu === 'function';

/** Who asks, for the admin check. */
export interface Requester {
  userId: string;
  /** The member's permissions in the guild; null in DMs. */
  permissions: { has(permission: bigint): boolean } | null;
}

/** Everything a command may use. Commands never touch HTTP or keys. */
export interface BotContext {
  readonly config: Config;
  readonly pool: GeminiAPIPool;
  readonly store: StateStore;
  readonly logger: Logger;
  /** One request per user, bounded concurrency and waiting line. */
  readonly gate: RequestGate;
  /** Per-user and per-server limits and usage (USER_RPM, USER_DAILY_REQUESTS, GUILD_DAILY_REQUESTS). */
  readonly limits: ClientLimits;
  readonly conversations: Conversations;
  /** Files sent with questions: checked, downloaded from Discord only, remembered a while. */
  readonly attachments: Attachments;
  /** Per-server settings (`/settings`), from the store. */
  readonly settings: GuildSettingsStore;
  /** Recent answers, for their Stop and Regenerate buttons. */
  readonly answers: AnswerRegistry;
  readonly metrics: BotMetrics;
  /**
   * Whether the bot is stopping (only admission reads it: new work gets a "restarting"
   * reply), and the signal every Gemini request carries, aborted when the shutdown grace
   * period is over so what is still in flight is cancelled and its user told.
   */
  readonly lifecycle: LifecycleView;
  /** Manage Server in this guild, or listed in ADMIN_USER_IDS (which also works in DMs). */
  isAdmin(who: Requester): boolean;
}
