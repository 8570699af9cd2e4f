/**
 * Every word a Discord user reads from the bot, in one place. First the ONE table that
 * turns a failure into words: pool failures (`PoolError.kind`) and the bot's own refusals
 * share it, so every message about the same situation reads the same wherever it comes
 * from. Then the other texts (answers cut short, chats opened and ended, admin replies).
 * Nothing here ever shows a key, a stack or a raw status code.
 */
import type { ErrorKind, PoolError } from '../pool/types.ts';
import { truncate } from './render.ts';

/** Refusals the bot makes itself, before or around a pool call. */
export const BOT_FAILURE_KINDS = [
  'busy',
  'queue_full',
  'over_limit',
  'shutting_down',
  'interrupted',
  'prompt_too_long',
  'not_admin',
  'wrong_channel',
  'no_conversation',
  'not_owner',
  'store_unavailable',
  'dms_off',
  'channel_not_allowed',
  'role_not_allowed',
  'private_not_allowed',
  'not_asker',
  'answer_gone',
  'still_answering',
  'unsupported_file',
  'file_too_big',
  'files_too_big',
  'file_unreadable',
  'internal',
] as const;
/** A refusal the bot makes itself. */
export type BotFailureKind = (typeof BOT_FAILURE_KINDS)[number];

/** Everything the table knows how to say. */
export type FailureKind = ErrorKind | BotFailureKind;

/** A failure with what its text may mention. */
export interface Failure {
  kind: FailureKind;
  /** Pool kinds: how long until a key is usable again. */
  retryAfterMs?: number;
  /** `blocked`: Gemini's reason (SAFETY, RECITATION, ...). */
  reason?: string;
  /** `bad_request`: Gemini's (already redacted) explanation. */
  message?: string;
  /** `prompt_too_long`: the prompt's length and the limit, in characters. */
  promptChars?: number;
  maxPromptChars?: number;
  /** `over_limit`: which limit (the user's a minute or a day, the server's a day), and its value. */
  limit?: 'user_minute' | 'user_day' | 'guild_day';
  limitValue?: number;
  /** `unsupported_file`: the endings (`.zip`) or types of the files that cannot be read. */
  fileTypes?: readonly string[];
  /** File kinds: the file's name. */
  fileName?: string;
  /** `file_too_big`, `files_too_big`: the size and the limit, in bytes. */
  sizeBytes?: number;
  maxBytes?: number;
  /** `channel_not_allowed`: the channels the bot answers in on this server. */
  channels?: readonly string[];
}

/** `3.2 MB`. */
export function formatMegabytes(bytes: number): string {
  const mb = bytes / (1024 * 1024);
  return `${mb < 10 ? mb.toFixed(1).replace(/\.0$/, '') : Math.round(mb)} MB`;
}

/** `.zip`, `.zip and .exe`, `.a, .b and .c`. */
function listOf(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** `~45 s`, `~3 min`, `~2 h`: rounded up, because "try again in 0 s" helps nobody. */
export function formatWait(ms: number): string {
  const s = Math.max(1, Math.ceil(ms / 1000));
  if (s < 90) return `~${s} s`;
  const min = Math.ceil(s / 60);
  if (min < 90) return `~${min} min`;
  return `~${Math.ceil(min / 60)} h`;
}

/** Gemini's own words, trimmed to one short line (they can be long JSON blobs). */
function shortDetail(message: string | undefined, maxChars = 200): string {
  return truncate((message ?? '').replace(/\s+/g, ' ').trim(), maxChars);
}

const retryIn = (f: Failure, otherwise: string): string =>
  f.retryAfterMs !== undefined && f.retryAfterMs > 0 ? `try again in ${formatWait(f.retryAfterMs)}` : otherwise;

/** The table: one entry per kind, exhaustive by type. */
const USER_TEXT: { readonly [K in FailureKind]: (f: Failure) => string } = {
  rate_limited: (f) => `⏳ Every API key is rate-limited right now. Please ${retryIn(f, 'try again in a minute')}.`,
  quota_exhausted: (f) =>
    `⏳ Today's Gemini quota is used up on every key (it resets at midnight Pacific time). Please ${retryIn(f, 'try again later')}.`,
  auth: () => '🔑 No working API key is available right now. An admin should check the bot\'s Gemini keys (`/api-key-stats`).',
  billing: () => '🔑 The Gemini project behind this bot has a billing problem. An admin should check the keys (`/api-key-stats`).',
  overloaded: (f) => `🌩️ Gemini is overloaded right now (not our keys). Please ${retryIn(f, 'try again in a moment')}.`,
  // With a wait, every key is cooling after server errors: say so, not "rate-limited".
  transient: (f) =>
    f.retryAfterMs !== undefined && f.retryAfterMs > 0
      ? `🌩️ Gemini is failing with server errors right now. Please try again in ${formatWait(f.retryAfterMs)}.`
      : '🌩️ Gemini had a temporary problem. Please try again.',
  timeout: () => '⌛ Gemini took too long to answer. Please try again; a shorter question may help.',
  bad_request: (f) => {
    const detail = shortDetail(f.message);
    return `🚫 Gemini could not accept this request${detail ? `: ${detail}` : ''}. Try a shorter or different prompt.`;
  },
  blocked: (f) => `🚫 Gemini declined to answer (reason: ${shortDetail(f.reason, 60) || 'not given'}). Try rephrasing.`,
  busy: () => '⏳ Still working on your last request. Please wait for it to finish.',
  queue_full: () => '🚦 Too many requests are waiting right now. Please try again in a moment.',
  over_limit: (f) => {
    const again = `You can ask again in ${formatWait(f.retryAfterMs ?? 0).replace('~', 'about ')}.`;
    if (f.limit === 'user_minute') return `⏳ You are asking too fast${f.limitValue !== undefined ? ` (at most ${f.limitValue} a minute)` : ''}. ${again}`;
    const count = f.limitValue !== undefined ? `${f.limitValue} ` : '';
    const whose = f.limit === 'guild_day' ? 'This server has used its' : 'You have used your';
    return `📅 ${whose} ${count}requests for today (the day starts at midnight Pacific time). ${again}`;
  },
  shutting_down: () => '🔄 The bot is restarting. Please try again in a moment.',
  interrupted: () => '🔄 The bot restarted before this answer was finished. Please ask again.',
  prompt_too_long: (f) =>
    `✂️ Your prompt is too long (${f.promptChars ?? '?'} characters; the limit is ${f.maxPromptChars ?? '?'}). Please shorten it.`,
  not_admin: () => '🔒 This command is for server admins (Manage Server permission) or the bot\'s admin list.',
  wrong_channel: () => '💬 Use `/chat` in a server text channel (it opens a thread) or in a DM with the bot.',
  no_conversation: () => 'There is no conversation to end here.',
  not_owner: () => '🔒 Only the person who started this conversation (or a moderator) can end it.',
  store_unavailable: () => '💾 I cannot reach the memory of this conversation right now. Please send your message again in a moment.',
  dms_off: () => '🔒 I do not answer in DMs here. Please ask in a server we share.',
  channel_not_allowed: (f) =>
    `🔒 I only answer in ${listOf((f.channels ?? []).slice(0, 10).map((id) => `<#${id}>`))}${(f.channels?.length ?? 0) > 10 ? ' and a few more channels' : ''} on this server.`,
  role_not_allowed: () => '🔒 On this server only members with certain roles can use me (an admin sets them with `/settings`).',
  private_not_allowed: () => '🔒 Private answers are turned off on this server. Please ask without `private`.',
  not_asker: () => '🔒 Only the person who asked (or a moderator) can use the buttons of this answer.',
  answer_gone: () => '⌛ This answer can no longer be stopped or written again (it is too old, or the bot restarted). Please ask again.',
  still_answering: () => '⏳ This answer is still being written. Stop it first, or wait for it to finish.',
  unsupported_file: (f) => `📎 I can't read ${listOf(f.fileTypes ?? ['these'])} files (I read images, PDFs and text or code files).`,
  file_too_big: (f) =>
    `📎 ${truncate(f.fileName ?? 'That file', 80)} is too big${f.sizeBytes !== undefined ? ` (${formatMegabytes(f.sizeBytes)})` : ''}: the limit is ${formatMegabytes(f.maxBytes ?? 0)} a file.`,
  files_too_big: (f) =>
    `📎 These files are too big together (${formatMegabytes(f.sizeBytes ?? 0)} as sent to Gemini; one request takes at most ${formatMegabytes(f.maxBytes ?? 0)}).`,
  file_unreadable: (f) => `📎 I could not read ${truncate(f.fileName ?? 'that file', 80)} (the download failed, or it is not the type its name says). Please send it again.`,
  internal: () => '😵 Something went wrong on our side. It has been logged; please try again.',
};

/** The text a user sees for a failure. */
export function failureText(f: Failure): string {
  return USER_TEXT[f.kind](f);
}

/**
 * The deferred reply while the request waits for quota: how long it should take, rounded
 * up ("about 12 s", "about 2 min").
 */
export function waitingForSlotText(expectedWaitMs: number): string {
  return `⏳ Waiting for a free slot, about ${formatWait(expectedWaitMs).replace('~', '')}…`;
}

/** The text for a pool failure (`result.error`). */
export function poolFailureText(error: PoolError): string {
  const f: Failure = { kind: error.kind, message: error.message };
  if (error.retryAfterMs !== undefined) f.retryAfterMs = error.retryAfterMs;
  if (error.reason !== undefined) f.reason = error.reason;
  return failureText(f);
}

/**
 * The line that ends an answer shown only in part: it was longer than `maxMessages`
 * messages, or (without it) Gemini stopped at the answer's token budget.
 */
export function answerCutText(why: { maxMessages?: number }): string {
  return why.maxMessages !== undefined
    ? `✂️ *The answer was cut here: it was longer than ${why.maxMessages} messages.*`
    : '✂️ *The answer was cut here: it reached the length limit.*';
}

/**
 * Posted in the channel when a private answer outlived its interaction token (Discord
 * allows 15 minutes): the answer itself must not go there. The mention does not ping.
 */
export function expiredPrivateAnswerText(userId: string): string {
  return `⌛ <@${userId}>, your private answer took longer than Discord lets a bot edit its reply (15 minutes) and could not be finished. Please ask again.`;
}

/** A model asked for by name that this bot does not serve: one wording wherever it is checked. */
export function modelNotServed(model: string, served: readonly string[]): Failure {
  return { kind: 'bad_request', message: `model ${model} is not served here (available: ${served.join(', ')})` };
}

/** An answer that was streaming when it failed: the text so far, then this line. */
export function answerCutOffText(reason: string): string {
  return `⚠️ The answer was cut off. ${reason}`;
}

/** Shown when Gemini answered with nothing at all. */
export const EMPTY_ANSWER_TEXT = '*(Gemini returned an empty answer.)*';

/** Label of the button under a chat's first message. */
export const END_CHAT_BUTTON_LABEL = 'End conversation';

/** The first message of a chat thread: who started it with which model, the prompt, how it works. */
export function chatIntroText(o: { starter: string; model: string; prompt: string; historyTurns: number }): string {
  const quoted = truncate(o.prompt, 1200)
    .split('\n')
    .map((l) => `> ${l}`)
    .join('\n');
  return (
    `💬 **${o.starter}** started a conversation with \`${o.model}\`:\n${quoted}\n` +
    `-# Anyone here can continue it by sending a message; I keep the last ${o.historyTurns} messages in mind.`
  );
}

/** The `/chat` reply in a channel, pointing to the new thread. */
export function chatStartedText(threadId: string): string {
  return `💬 Conversation started in <#${threadId}>.`;
}

/** Posted when someone ends a conversation. */
export function chatEndedText(who: string): string {
  return `👋 Conversation ended by **${who}**. Start a new one with \`/chat\`.`;
}

/** Audit-log reasons the bot gives Discord for its thread changes (server admins read them). */
export const THREAD_REASONS = {
  started: (username: string): string => `/chat started by ${username}`,
  ended: 'conversation ended',
} as const;

/** `/reset-pool`'s reply; `cleared` lists the keys whose cooldown `clear-cooldowns` ended. */
export function poolResetText(model: string | undefined, cleared?: readonly string[]): string {
  const rebuilt = `♻️ Pool rebuilt for ${model ? `\`${model}\`` : 'every model'}.`;
  if (cleared === undefined) return `${rebuilt} Cooldowns and disabled keys stay: they are Google's answers (\`clear-cooldowns\` ends cooldowns).`;
  const ended = cleared.length === 0 ? 'No key was cooling down.' : `Cooldowns ended for ${cleared.join(', ')}.`;
  return `${rebuilt} ${ended} Disabled keys stay disabled until their re-check passes; the known quota limits still hold.`;
}

/** `/reset-pool key:N` that cannot be done. `ids` are the keys in use (`key#N`), in order. */
export function resetPoolKeyText(keyNumber: number, ids: readonly string[], clearCooldowns: boolean): string {
  if (!clearCooldowns) return '`key` chooses whose cooldown to end: use it together with `clear-cooldowns:True`.';
  const n = ids.length;
  // Keys removed while the bot runs leave gaps in the numbers: then the numbers in use are listed.
  const contiguous = ids.every((id, i) => id === `key#${i + 1}`);
  const which = contiguous ? `key#1 to key#${n}` : ids.length <= 10 ? ids.join(', ') : `${ids.slice(0, 10).join(', ')} and ${n - 10} more`;
  return `There is no key#${keyNumber}: this bot has ${n} key${n === 1 ? '' : 's'} (${which}).`;
}

/** `/reset-api-stats`' reply. */
export const STATS_RESET_TEXT = '🧹 Usage, error and latency counters cleared. Today\'s request counts stay: they mirror Google\'s daily quota.';

/** `/settings` outside a server. */
export const SETTINGS_DM_TEXT = '⚙️ Settings are per server: use `/settings` in a server. DMs follow the bot\'s own configuration.';

/** The lines of `/settings show`: each setting with its value, or its default. */
export function settingsLines(s: {
  persona?: string | undefined;
  model?: string | undefined;
  defaultModel: string;
  channels?: readonly string[] | undefined;
  mentions: boolean;
  allowPrivate: boolean;
  roles?: readonly string[] | undefined;
  search: boolean;
}): string[] {
  const yesNo = (b: boolean): string => (b ? 'on' : 'off');
  const quoted = s.persona ? truncate(s.persona.replace(/\s+/g, ' '), 300) : undefined;
  return [
    `**Persona:** ${quoted ? `“${quoted}” (${s.persona!.length} characters)` : 'none'}`,
    `**Model:** \`${s.model ?? s.defaultModel}\`${s.model ? '' : ' (the bot\'s default)'}`,
    `**Channels:** ${s.channels ? s.channels.map((id) => `<#${id}>`).join(' ') : 'all'}`,
    `**Answers mentions and replies:** ${yesNo(s.mentions)}`,
    `**Members may ask for private answers:** ${yesNo(s.allowPrivate)}`,
    `**Roles allowed:** ${s.roles ? s.roles.map((id) => `<@&${id}>`).join(' ') : 'everyone'}`,
    `**Google Search by default:** ${yesNo(s.search)}`,
  ];
}

/** What `/settings set` could not take: unknown channels or roles, a model not served. */
export function settingsProblemText(problems: readonly string[]): string {
  return `⚙️ Nothing was changed: ${problems.join('; ')}.`;
}

/** Title of the `/settings` embed. */
export const SETTINGS_TITLE = '⚙️ Settings of this server';

/** `/settings set` or `reset` done. */
export const SETTINGS_SAVED_TEXT = '⚙️ Saved. Every process of the bot uses the new settings within a few seconds.';

/** Labels of the buttons under an answer. */
export const STOP_BUTTON_LABEL = 'Stop';
export const REGENERATE_BUTTON_LABEL = 'Regenerate';

/** Why an answer ended early: someone pressed Stop. */
export function stoppedText(who: string): string {
  return `⏹️ Stopped by **${truncate(who, 80)}**.`;
}

/** Shown in an answer's first message while a new answer is on its way (Regenerate). */
export const REGENERATING_TEXT = '🔄 *Writing a new answer…*';

/** Shown while a thinking model has not written anything yet. */
export const THINKING_TEXT = '💭 *Thinking…*';
