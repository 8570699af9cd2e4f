/**
 * The dispatcher only dispatches: it finds the command of an interaction (or the command
 * owning a button), refuses new work while shutting down, checks admin commands, runs the
 * command, and turns any exception into a friendly reply, so users never see "The
 * application did not respond". It also tracks what is running, for a graceful shutdown.
 */
import type { Interaction } from 'discord.js';
import { replyFailure } from './answer.ts';
import { isConversationStoreError } from './conversations.ts';
import type { BotContext, Command } from './types.ts';

/** Dispatches interactions to commands; `idle()` waits for the ones running. */
export class Dispatcher {
  readonly #commands: ReadonlyMap<string, Command>;
  readonly #ctx: BotContext;
  readonly #running = new Set<Promise<void>>();

  constructor(commands: ReadonlyMap<string, Command>, ctx: BotContext) {
    this.#commands = commands;
    this.#ctx = ctx;
  }

  /** Interactions being handled now. */
  get running(): number {
    return this.#running.size;
  }

  /** Handles one interaction; never throws. */
  dispatch(interaction: Interaction): Promise<void> {
    const p = this.#handle(interaction);
    this.#running.add(p);
    void p.finally(() => this.#running.delete(p));
    return p;
  }

  /** Resolves true once nothing is running, or false after `timeoutMs`. */
  async idle(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.#running.size > 0) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.#running]),
        new Promise((resolve) => (timer = setTimeout(resolve, left))),
      ]);
      clearTimeout(timer);
    }
    return true;
  }

  /** Runs something outside an interaction (a chat message) under the same tracking. */
  track(work: Promise<void>): Promise<void> {
    const p = work.catch((err: unknown) => this.#ctx.logger.error({ err: errorSummary(err) }, 'message handler failed'));
    this.#running.add(p);
    void p.finally(() => this.#running.delete(p));
    return p;
  }

  async #handle(interaction: Interaction): Promise<void> {
    if (!interaction.isChatInputCommand() && !interaction.isButton()) return;
    const name = interaction.isChatInputCommand() ? interaction.commandName : interaction.customId.split(':')[0]!;
    const command = this.#commands.get(name);
    const log = this.#ctx.logger.child({ command: name, interactionId: interaction.id, userId: interaction.user.id });
    try {
      if (!command || (interaction.isButton() && !command.button)) {
        log.warn('interaction for an unknown command');
        await replyFailure(interaction, { kind: 'internal' });
        return;
      }
      if (!this.#ctx.accepting()) {
        await replyFailure(interaction, { kind: 'shutting_down' });
        return;
      }
      if (command.adminOnly) {
        const permissions = interaction.inGuild() ? interaction.memberPermissions : null;
        if (!this.#ctx.isAdmin({ userId: interaction.user.id, permissions })) {
          log.info('admin command refused');
          await replyFailure(interaction, { kind: 'not_admin' });
          return;
        }
      }
      if (interaction.isChatInputCommand()) await command.execute(interaction, this.#ctx);
      else await command.button!(interaction, this.#ctx);
    } catch (err) {
      log.error({ err: errorSummary(err) }, 'command failed');
      await replyFailure(interaction, { kind: isConversationStoreError(err) ? 'store_unavailable' : 'internal' }).catch((e: unknown) =>
        log.warn({ err: errorSummary(e) }, 'could not tell the user about the failure'),
      );
    }
  }
}

/** An error for the log: name, message and stack, nothing attached (request bodies may be large). */
export function errorSummary(err: unknown): { name: string; message: string; stack?: string } {
  if (err instanceof Error) return { name: err.name, message: err.message, ...(err.stack ? { stack: err.stack } : {}) };
  return { name: 'NonError', message: String(err) };
}
