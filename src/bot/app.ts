/**
 * Builds and starts the bot: configuration -> pool + store -> discord.js client with the
 * dispatcher, chat messages, alerts, health and metrics. `startBot` is what `npm start`
 * runs (through `src/main.ts`) and what the end-to-end tests run against the fakes.
 */
import { once } from 'node:events';
import { Client, Events, GatewayIntentBits, Partials, Status } from 'discord.js';
import pino, { type Logger } from 'pino';
import { loadBotConfig, requireDiscordToken, type Config } from '../config.ts';
import type { ClientFactory } from '../gemini/adapter.ts';
import { AlertThrottle, fromPool } from '../ops/alerts.ts';
import { healthReport, startHealthServer, type HealthServer } from '../ops/health.ts';
import { BotMetrics } from '../ops/metrics.ts';
import { GeminiAPIPool } from '../pool/GeminiAPIPool.ts';
import { redactSecrets } from '../pool/keys.ts';
import { createServices } from '../services.ts';
import { openGateway, type OpenGateway } from '../gateway/open.ts';
import { ClientLimits } from '../limits/clientLimits.ts';
import type { StateStore } from '../store/types.ts';
import { Attachments, DISCORD_ATTACHMENT_ORIGINS } from './attachments.ts';
import { Conversations } from './conversations.ts';
import { AnswerRegistry } from './controls.ts';
import { runInteraction } from './admission.ts';
import { Dispatcher } from './dispatcher.ts';
import { errorSummary } from './errors.ts';
import { Lifecycle } from './lifecycle.ts';
import { onMessage } from './messages.ts';
import { RequestGate } from './gate.ts';
import { GuildSettingsStore } from './settings.ts';
import { DEFAULT_COMMANDS_DIR, commandPayloads, loadCommands } from './loader.ts';
import { isAdmin } from './permissions.ts';
import { NO_MENTIONS } from './render.ts';
import { syncCommands } from './sync.ts';
import type { BotContext, Command } from './types.ts';

/**
 * How long past SHUTDOWN_GRACE_MS a stop may take, in steps: users whose answers were
 * cancelled are told by then, the last alerts posted, everything closed. Together under
 * 5 s, so a process manager sees the exit within grace + 5 s.
 */
const CANCELLED_REPLIES_MS = 2_500;
const ALERTS_BY_MS = 3_000;
const CLOSED_BY_MS = 4_500;

/** Waits for `work` until `by` (epoch ms) at most; past that, logs what was left and goes on. */
async function waitUntil(work: Promise<unknown>, by: number, what: string, logger: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = Symbol('late');
  const settled = work.then(
    () => undefined,
    (err: unknown) => logger.warn({ err: errorSummary(err) }, `shutdown: failed ${what}`),
  );
  if (!Number.isFinite(by)) return settled;
  try {
    const outcome = await Promise.race([
      settled,
      new Promise<typeof late>((resolve) => (timer = setTimeout(() => resolve(late), Math.max(0, by - Date.now())))),
    ]);
    if (outcome === late) logger.warn(`shutdown: gave up ${what} (out of time)`);
  } finally {
    clearTimeout(timer);
  }
}

/** Test and embedding hooks; production passes none. */
export interface StartBotOverrides {
  /** @default pino at LOG_LEVEL on stdout */
  logger?: Logger;
  /** Address the health server binds. @default '0.0.0.0' */
  healthHost?: string;
  /** Builds each pool instance's Gemini client (tests wrap the real one). */
  clientFactory?: ClientFactory;
  /** @default the project's `commands/` */
  commandsDir?: string;
  /** Register slash commands on start when they changed. @default true */
  registerCommands?: boolean;
  /** How long to wait for the gateway's READY. @default 30_000 */
  readyTimeoutMs?: number;
  /** Wraps the store the configuration built (tests make it stall or fail). */
  wrapStore?: (store: StateStore) => StateStore;
  /** Where each variable of the environment came from, for the dashboard's settings page. */
  envOrigin?: Record<string, 'environment' | 'file'>;
}

/** A running bot. */
export interface RunningBot {
  readonly client: Client<true>;
  readonly pool: GeminiAPIPool;
  readonly store: StateStore;
  readonly config: Config;
  readonly logger: Logger;
  readonly commands: ReadonlyMap<string, Command>;
  readonly gate: RequestGate;
  readonly metrics: BotMetrics;
  /** Set when HEALTH_PORT is. */
  readonly health: HealthServer | undefined;
  /** Set when GATEWAY_PORT is: the pool served over HTTP from this process. */
  readonly gateway: OpenGateway | undefined;
  /**
   * Graceful shutdown: new commands get a "restarting" reply, in-flight answers get up
   * to SHUTDOWN_GRACE_MS; then what is still in flight is cancelled and each of its users
   * told in one line that the bot restarted, the counters are written once the last
   * request has ended, and the client, the pool and the store close. Resolves within
   * SHUTDOWN_GRACE_MS + 5 s. Idempotent.
   */
  stop(): Promise<void>;
}

/** Builds the bot from an environment and logs it in. @throws ConfigError on bad configuration */
export async function startBot(env: Record<string, string | undefined>, overrides: StartBotOverrides = {}): Promise<RunningBot> {
  const config = loadBotConfig(env);
  const token = requireDiscordToken(config);
  const logger = overrides.logger ?? pino({ level: config.logLevel });
  const commands = await loadCommands(overrides.commandsDir ?? DEFAULT_COMMANDS_DIR);
  const { pool, store, vault } = await createServices(config, logger, {
    ...(overrides.clientFactory ? { clientFactory: overrides.clientFactory } : {}),
    ...(overrides.wrapStore ? { wrapStore: overrides.wrapStore } : {}),
  });

  const gate = new RequestGate({ maxConcurrent: config.bot.maxConcurrent, maxQueued: config.bot.maxQueued });
  const metrics = new BotMetrics({
    keyStats: () => pool.getKeyStats(),
    queue: () => ({ running: gate.running, waiting: gate.waiting }),
  });
  const botLogger = logger.child({ component: 'bot' });
  const lifecycle = new Lifecycle((err) => botLogger.error({ err: errorSummary(err) }, 'handler failed'));
  const ctx: BotContext = {
    config,
    pool,
    store,
    logger: botLogger,
    gate,
    limits: new ClientLimits(store, { logger: botLogger, flushIntervalMs: config.store.flushIntervalMs }),
    conversations: new Conversations(store, { historyTurns: config.bot.chatHistoryTurns }),
    attachments: new Attachments({
      maxFileBytes: config.bot.maxAttachmentBytes,
      // A REST proxy (or the test server) that DISCORD_API_URL names may serve attachments too.
      allowedOrigins: [...DISCORD_ATTACHMENT_ORIGINS, ...(config.discord.apiUrl ? [new URL(config.discord.apiUrl).origin] : [])],
    }),
    settings: new GuildSettingsStore(store, { logger: botLogger }),
    answers: new AnswerRegistry(),
    metrics,
    lifecycle,
    isAdmin: (who) => isAdmin(who, config.discord.adminUserIds),
  };
  const dispatcher = new Dispatcher(commands, (interaction, command) => runInteraction(interaction, command, ctx));

  const client = new Client({
    intents: [
      GatewayIntentBits.Guilds,
      GatewayIntentBits.GuildMessages,
      // Privileged: chat threads, mentions and replies need the text of members' messages.
      GatewayIntentBits.MessageContent,
      GatewayIntentBits.DirectMessages,
    ],
    // DM channels are not cached before their first message arrives.
    partials: [Partials.Channel],
    allowedMentions: NO_MENTIONS,
    ...(config.discord.apiUrl ? { rest: { api: config.discord.apiUrl } } : {}),
  });
  client.on(Events.InteractionCreate, (interaction) => void lifecycle.track(dispatcher.dispatch(interaction)));
  client.on(Events.MessageCreate, (message) => void lifecycle.track(onMessage(message, ctx)));
  client.on(Events.Error, (err) => ctx.logger.error({ err: errorSummary(err) }, 'discord client error'));
  client.on(Events.Warn, (message) => ctx.logger.warn({ message }, 'discord client warning'));

  const secrets = [...config.gemini.keys.map((k) => k.key), token];
  const scrub = (text: string): string => redactSecrets(text, secrets);
  const alertChannelId = config.discord.alertChannelId;
  const alerts = alertChannelId
    ? new AlertThrottle({
        minIntervalMs: config.bot.alertMinIntervalMs,
        send: async (text) => {
          const channel = await client.channels.fetch(alertChannelId);
          if (!channel?.isSendable()) throw new Error(`ALERT_CHANNEL_ID ${alertChannelId} is not a channel the bot can post in`);
          await channel.send({ content: scrub(text), allowedMentions: NO_MENTIONS });
        },
        onError: (err) => ctx.logger.warn({ err: errorSummary(err) }, 'could not post an alert'),
      })
    : undefined;
  const onKeyDisabled = (e: Parameters<typeof fromPool.keyDisabled>[0]): void => alerts?.push(fromPool.keyDisabled(e));
  const onAllUnavailable = (e: Parameters<typeof fromPool.allKeysUnavailable>[0]): void => alerts?.push(fromPool.allKeysUnavailable(e));
  const onRecovered = (e: Parameters<typeof fromPool.serviceRecovered>[0]): void => alerts?.push(fromPool.serviceRecovered(e));
  pool.on('keyDisabled', onKeyDisabled).on('allKeysUnavailable', onAllUnavailable).on('serviceRecovered', onRecovered);

  let health: HealthServer | undefined;
  let gateway: OpenGateway | undefined;
  // Idle conversations go, at start and once a day, so the store does not grow without end.
  const pruneConversations = (): void => {
    ctx.conversations.prune(config.bot.chatRetentionDays).then(
      (n) => n > 0 && ctx.logger.info({ pruned: n, retentionDays: config.bot.chatRetentionDays }, 'deleted idle conversations'),
      (err: unknown) => ctx.logger.warn({ err: errorSummary(err) }, 'could not prune idle conversations'),
    );
  };
  pruneConversations();
  const pruneTimer = setInterval(pruneConversations, 86_400_000);
  pruneTimer.unref();

  /**
   * Closes everything in order: the health server and the Discord connection, then the
   * pool (its final flush writes the counters of every request that has ended), then the
   * store. Each step waits at most until `by` (epoch ms), so a stuck one cannot hold the
   * process; what is skipped is logged.
   */
  const closeEverything = async (by = Number.POSITIVE_INFINITY): Promise<void> => {
    clearInterval(pruneTimer);
    pool.off('keyDisabled', onKeyDisabled).off('allKeysUnavailable', onAllUnavailable).off('serviceRecovered', onRecovered);
    const step = (what: string, work: () => Promise<unknown>): Promise<void> => waitUntil(work(), by, what, ctx.logger);
    await step('closing the gateway', async () => gateway?.close(Math.max(0, Math.min(5_000, by - Date.now()))));
    await step('closing the health server', async () => health?.close());
    await step('closing the Discord connection', () => client.destroy());
    await step('writing the counters', () => pool.flush());
    await step('writing the users\' and servers\' usage', () => ctx.limits.close());
    await step('closing the pool', () => pool.close());
    await step('closing the store', () => store.close());
  };

  try {
    // Before Discord: a gateway that cannot start (no client token, port taken) stops the start.
    if (config.gateway.port !== undefined) gateway = await openGateway(config, pool, store, logger, { vault, env, ...(overrides.envOrigin ? { envOrigin: overrides.envOrigin } : {}) });
    if (config.bot.healthPort !== undefined) {
      health = await startHealthServer({
        port: config.bot.healthPort,
        host: overrides.healthHost ?? '0.0.0.0',
        health: () => healthReport(client.ws.status === Status.Ready, pool.getKeyStats()),
        metrics,
      });
      ctx.logger.info({ url: health.url }, 'health and metrics served');
    }
    const ready = once(client, Events.ClientReady, { signal: AbortSignal.timeout(overrides.readyTimeoutMs ?? 30_000) });
    // If login throws first, the timeout must not surface later as an unhandled rejection.
    ready.catch(() => undefined);
    await client.login(token);
    await ready;
  } catch (err) {
    alerts?.close();
    await closeEverything().catch(() => undefined);
    throw err;
  }
  const readyClient = client as Client<true>;
  ctx.logger.info({ user: readyClient.user.tag, guilds: readyClient.guilds.cache.size, commands: commands.size }, 'bot ready');

  if (overrides.registerCommands ?? true) {
    const applicationId = config.discord.applicationId ?? readyClient.application.id;
    try {
      const outcome = await syncCommands(
        readyClient.rest,
        store,
        { applicationId, guildId: config.discord.guildId },
        commandPayloads(commands.values(), config),
      );
      ctx.logger.info(
        { registered: outcome.registered, target: config.discord.guildId ? `guild ${config.discord.guildId}` : 'global' },
        outcome.registered ? 'slash commands registered' : 'slash commands unchanged',
      );
    } catch (err) {
      // The bot still answers commands registered earlier; say so and carry on.
      ctx.logger.warn({ err: errorSummary(err) }, 'could not register slash commands (run npm run register)');
    }
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const graceMs = config.bot.shutdownGraceMs;
      const graceEndsAt = Date.now() + graceMs;
      lifecycle.beginStop();
      ctx.logger.info({ inFlight: lifecycle.running, graceMs }, 'shutting down: finishing in-flight replies');
      if (!(await lifecycle.idle(graceMs))) {
        ctx.logger.warn({ inFlight: lifecycle.running, graceMs }, 'grace period over; cancelling what is in flight');
        // Each cancelled request ends its handler, which tells its user the bot restarted.
        lifecycle.cancelInFlight();
        const told = await lifecycle.idle(Math.max(0, graceEndsAt + CANCELLED_REPLIES_MS - Date.now()));
        if (!told) ctx.logger.warn({ inFlight: lifecycle.running }, 'some users could not be told in time; closing anyway');
      }
      if (alerts) {
        await waitUntil(alerts.flush(), Math.min(Date.now() + 2_000, graceEndsAt + ALERTS_BY_MS), 'posting the last alerts', ctx.logger);
        alerts.close();
      }
      await closeEverything(graceEndsAt + CLOSED_BY_MS);
      ctx.logger.info('stopped');
    })();
    return stopping;
  };

  return { client: readyClient, pool, store, config, logger, commands, gate, metrics, health, gateway, stop };
}
