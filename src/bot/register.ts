/**
 * `npm run register`: registers the slash commands with Discord, to DISCORD_GUILD_ID when
 * set (instant), otherwise globally (can take up to an hour to show everywhere). Records
 * the definitions' hash in the store, so the next `npm start` does not register again.
 */
import { REST, Routes } from 'discord.js';
import pino from 'pino';
import { formatWarnings, isConfigError, loadBotConfig, requireDiscordToken } from '../config.ts';
import { hideFromLibraries, readEnv } from '../env.ts';
import { describeStartFailure } from '../startFailure.ts';
import { createStore } from '../store/index.ts';
import { commandPayloads, loadCommands } from './loader.ts';
import { COMMANDS_HASH_META, commandsHash, registerCommands } from './sync.ts';

async function main(): Promise<number> {
  let config;
  try {
    config = loadBotConfig(readEnv().env);
    if (config.warnings.length > 0) process.stderr.write(`${formatWarnings(config.warnings)}\n`);
  } catch (err) {
    if (isConfigError(err)) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const token = requireDiscordToken(config);
  hideFromLibraries();
  const rest = new REST(config.discord.apiUrl ? { api: config.discord.apiUrl } : {}).setToken(token);
  const commands = await loadCommands();
  const payloads = commandPayloads(commands.values(), config);
  const applicationId =
    config.discord.applicationId ?? ((await rest.get(Routes.currentApplication())) as { id: string }).id;
  const target = { applicationId, guildId: config.discord.guildId };
  const count = await registerCommands(rest, target, payloads);
  process.stdout.write(
    `Registered ${count} commands ${target.guildId ? `to guild ${target.guildId} (available now)` : 'globally (may take up to an hour to appear)'}: ` +
      `${payloads.map((p) => `/${p.name}`).join(', ')}\n`,
  );
  // Remember what was registered, so the bot's start does not register it again.
  const store = await createStore(config.store, pino({ level: 'silent' }));
  try {
    await store.setMeta(COMMANDS_HASH_META, commandsHash(target, payloads));
  } finally {
    await store.close();
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`Registration failed: ${describeStartFailure(err)}\n`);
    process.exit(1);
  },
);
