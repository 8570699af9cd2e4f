/**
 * The dispatcher only dispatches: it finds the command an interaction is for (a slash or
 * message context-menu command by its name, a button by the command named before the `:` of
 * its custom id) and hands both to `run`. Admission, failures and tracking are elsewhere (`admission.ts`,
 * `lifecycle.ts`).
 */
import type { ButtonInteraction, ChatInputCommandInteraction, Interaction, MessageContextMenuCommandInteraction } from 'discord.js';
import type { Command } from './types.ts';

/** What runs a routed interaction; `command` is undefined when none owns it. */
export type RunInteraction = (
  interaction: ChatInputCommandInteraction | MessageContextMenuCommandInteraction | ButtonInteraction,
  command: Command | undefined,
) => Promise<void>;

/** Routes interactions to their commands. */
export class Dispatcher {
  readonly #commands: ReadonlyMap<string, Command>;
  readonly #run: RunInteraction;

  constructor(commands: ReadonlyMap<string, Command>, run: RunInteraction) {
    this.#commands = commands;
    this.#run = run;
  }

  /** Routes one interaction (other kinds than commands and buttons are ignored). */
  dispatch(interaction: Interaction): Promise<void> {
    if (interaction.isChatInputCommand() || interaction.isMessageContextMenuCommand()) return this.#run(interaction, this.#commands.get(interaction.commandName));
    if (!interaction.isButton()) return Promise.resolve();
    const owner = this.#commands.get(interaction.customId.split(':')[0]!);
    return this.#run(interaction, owner?.button ? owner : undefined);
  }
}
