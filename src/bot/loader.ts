/**
 * Loads `commands/*.ts` and checks each is a proper {@link Command}: a default export with
 * `data` (a SlashCommandBuilder whose name matches the file name) and `execute`, admin
 * flags consistent, no duplicate names. Also builds the JSON registered with Discord.
 */
import { readdir } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ApplicationCommandOptionType, ApplicationCommandType } from 'discord.js';
import type { APIApplicationCommandOption, RESTPostAPIApplicationCommandsJSONBody } from 'discord.js';
import type { Command, MessageMenuCommand, SlashCommand } from './types.ts';

/** `commands/` at the root of the project. */
export const DEFAULT_COMMANDS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../commands');

/** A command file that is not a valid command: says which file and why. */
export class CommandLoadError extends Error {
  readonly brand = 'CommandLoadError' as const;
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'CommandLoadError';
  }
}

/** Discord allows at most 25 choices for an option. */
const MAX_CHOICES = 25;

/**
 * The file name a command must have: its name, or for a context-menu command (whose name is
 * what people read, "Ask Gemini about this") that name in lower case with dashes.
 */
export function commandFileName(name: string, menu: boolean): string {
  return menu ? name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') : name;
}

/** Checks one module's default export. @throws CommandLoadError */
export function validateCommand(file: string, value: unknown): Command {
  const fail = (problem: string): never => {
    throw new CommandLoadError(file, problem);
  };
  if (typeof value !== 'object' || value === null) return fail('must `export default { data, execute } satisfies Command`');
  const c = value as { data?: Partial<MessageMenuCommand['data'] | SlashCommand['data']>; execute?: unknown; menu?: unknown; button?: unknown; adminOnly?: unknown };
  if (!c.data || typeof c.data.name !== 'string' || typeof c.data.toJSON !== 'function') {
    return fail('`data` must be a SlashCommandBuilder (with a name and toJSON)');
  }
  let json: RESTPostAPIApplicationCommandsJSONBody;
  try {
    json = (c.data.toJSON as () => RESTPostAPIApplicationCommandsJSONBody)();
  } catch (err) {
    return fail(`its definition is invalid: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  }
  const menu = json.type === ApplicationCommandType.Message;
  if (menu && typeof c.menu !== 'function') return fail('a message context-menu command must have `menu` (a function)');
  if (!menu && typeof c.execute !== 'function') return fail('`execute` must be a function');
  if (c.button !== undefined && typeof c.button !== 'function') return fail('`button` must be a function when present');
  const expected = basename(file).replace(/\.ts$/, '');
  if (commandFileName(c.data.name, menu) !== expected) return fail(`the command is named "${c.data.name}" but its file says "${expected}"`);
  const hasDefaultPermissions = json.default_member_permissions !== undefined && json.default_member_permissions !== null;
  if (c.adminOnly === true && !hasDefaultPermissions) return fail('`adminOnly` commands must also setDefaultMemberPermissions');
  if (c.adminOnly !== true && hasDefaultPermissions) return fail('a command with default member permissions must set `adminOnly: true`');
  return c as Command;
}

/** Imports every `*.ts` in `dir` (sorted by name) and validates it. @throws CommandLoadError */
export async function loadCommands(dir: string = DEFAULT_COMMANDS_DIR): Promise<Map<string, Command>> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.endsWith('.test.ts')).sort();
  const commands = new Map<string, Command>();
  for (const f of files) {
    const full = join(dir, f);
    let mod: { default?: unknown };
    try {
      mod = (await import(pathToFileURL(full).href)) as { default?: unknown };
    } catch (err) {
      throw new CommandLoadError(f, `could not be imported: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    }
    const cmd = validateCommand(f, mod.default);
    if (commands.has(cmd.data.name)) throw new CommandLoadError(f, `duplicate command name "${cmd.data.name}"`);
    commands.set(cmd.data.name, cmd);
  }
  if (commands.size === 0) throw new CommandLoadError(dir, 'no command files found');
  return commands;
}

/** Discord's longest string option, in characters. */
export const DISCORD_MAX_OPTION_CHARS = 6000;

/** What of the configuration shapes the registered definitions (a `Config` fits). */
export interface CommandSettings {
  gemini: { models: readonly string[] };
  bot: { maxPromptChars: number };
}

/**
 * The JSON to register, built from the configuration: options named `model` offer the
 * configured models as choices (the first 25: Discord's limit), and options named
 * `prompt` accept at most MAX_PROMPT_CHARS characters (at most Discord's 6,000), so
 * Discord itself stops a prompt the bot would refuse. Both are part of the registered
 * definitions, so changing either changes the commands hash and registers again.
 */
export function commandPayloads(
  commands: Iterable<Command>,
  settings: CommandSettings,
): RESTPostAPIApplicationCommandsJSONBody[] {
  const choices = settings.gemini.models.slice(0, MAX_CHOICES).map((m) => ({ name: m, value: m }));
  const maxLength = Math.min(settings.bot.maxPromptChars, DISCORD_MAX_OPTION_CHARS);
  const fill = (o: APIApplicationCommandOption): APIApplicationCommandOption => {
    // Sub-commands (and their groups) carry options of their own.
    if ((o.type === ApplicationCommandOptionType.Subcommand || o.type === ApplicationCommandOptionType.SubcommandGroup) && o.options) {
      return { ...o, options: o.options.map(fill) } as typeof o;
    }
    if (o.type !== ApplicationCommandOptionType.String) return o;
    if (o.name === 'model') return { ...o, choices } as typeof o;
    if (o.name === 'prompt') return { ...o, max_length: maxLength };
    return o;
  };
  return [...commands].map((c): RESTPostAPIApplicationCommandsJSONBody => {
    const json = c.data.toJSON();
    return 'options' in json && json.options ? { ...json, options: json.options.map(fill) } : json;
  });
}
