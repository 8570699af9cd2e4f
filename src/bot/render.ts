/**
 * Pure rendering: model text and pool reports -> Discord message content and embeds that
 * respect Discord's limits. Nothing here talks to Discord.
 */
import { truncate } from '../text.ts';
import type { APIEmbed } from 'discord.js';
import type { KeyStats, KeyStatsReport, ModelPoolStats, PoolStatsReport } from '../pool/types.ts';
import { stateLabel } from '../pool/stats.ts';

/** Discord's limits, in characters (JS string length, which never undercounts code points). */
export const DISCORD_LIMITS = {
  contentChars: 2000,
  embedDescriptionChars: 4096,
  embedTitleChars: 256,
  embedFooterChars: 2048,
  embedsTotalChars: 6000,
  embedsPerMessage: 10,
  threadNameChars: 100,
} as const;

/** Room kept at the end of an answer's messages for the footer line. */
export const FOOTER_RESERVE_CHARS = 100;

/** Every bot message carries this: model output must never ping anyone. */
export const NO_MENTIONS = { parse: [] as never[], repliedUser: false };

/** A fence line (```` ``` ```` or ```` ```ts ````), as CommonMark allows: up to 3 spaces first. */
const FENCE_LINE = /^ {0,3}(`{3,}|~{3,})(.*)$/;

/**
 * Where code fences stand after `text`: the opening line of the fence left open, or
 * undefined when every fence is closed. Only fences at the start of a line count, like
 * Discord's markdown (a ``` inside a sentence does not open a block).
 */
export function openFenceAfter(text: string, startOpen?: string): string | undefined {
  let open = startOpen;
  for (const line of text.split('\n')) {
    const m = FENCE_LINE.exec(line);
    if (!m) continue;
    if (open === undefined) open = line.trim();
    else if (m[2]!.trim() === '' && m[1]![0] === open[0]) open = undefined;
  }
  return open;
}

/** The closing line for an opening fence line (same character, same length). */
function closingFor(openLine: string): string {
  return /^(`{3,}|~{3,})/.exec(openLine)?.[1] ?? '```';
}

/** Last index in `window` where `sep` starts, at or after `min`; -1 when none. */
function lastAt(window: string, sep: RegExp, min: number): number {
  let found = -1;
  sep.lastIndex = 0;
  for (let m = sep.exec(window); m; m = sep.exec(window)) {
    if (m.index >= min) found = m.index;
    if (m[0].length === 0) sep.lastIndex++;
  }
  return found;
}

/**
 * Where to cut a piece of at most `max` characters from the front of `text`: the end of
 * a paragraph, else of a line, else between words, preferring cuts in the second half of
 * the window so pieces are not tiny. A hard cut happens only inside a "word" longer than
 * a whole message (a URL or a base64 blob), and never splits a surrogate pair.
 */
export function findCut(text: string, max: number): number {
  if (text.length <= max) return text.length;
  const window = text.slice(0, max + 1);
  const half = Math.floor(max / 2);
  for (const min of [half, 1]) {
    for (const sep of [/\n\s*\n/g, /\n/g, /\s/g]) {
      const at = lastAt(window.slice(0, max + 1), sep, min);
      if (at > 0 && at <= max) return at;
    }
  }
  let cut = max;
  const code = text.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut--;
  return cut;
}

/**
 * Splits an answer into messages of at most `maxChars` each, at paragraph, line or word
 * boundaries, never inside a word, and never leaving a code fence open across messages:
 * a message that ends inside a block closes it, and the next reopens it with the same
 * language. Whitespace at a cut is dropped (it would be invisible at a message edge).
 * Greedy from the front, so once the text is longer than a message its first pieces never
 * change as more text arrives (streaming relies on this).
 */
export function splitMessage(text: string, maxChars: number = DISCORD_LIMITS.contentChars): string[] {
  if (maxChars < 100) throw new RangeError(`splitMessage: maxChars must be >= 100 (got ${maxChars})`);
  const parts: string[] = [];
  let rest = text.replace(/^\s*\n/, '');
  let open: string | undefined;
  while (rest.length > 0) {
    // Reopen with the language; an absurdly long info string is dropped to keep room.
    const prefix = open !== undefined ? `${open.length <= 40 ? open : closingFor(open)}\n` : '';
    // Room for the closing line a piece may need ("\n```", longer fences included).
    const closeRoom = 1 + 24;
    if (prefix.length + rest.length <= maxChars) {
      const after = openFenceAfter(rest, open);
      const tail = after !== undefined ? `\n${closingFor(after)}` : '';
      if (prefix.length + rest.length + tail.length <= maxChars) {
        const last = prefix + rest.replace(/\s+$/, '') + tail;
        if (last.trim()) parts.push(last);
        break;
      }
    }
    const budget = maxChars - prefix.length - closeRoom;
    let cut = findCut(rest, budget);
    let piece = rest.slice(0, cut);
    // Do not end a message on an opening fence line: it would be an empty block.
    const lastLine = piece.replace(/\s+$/, '').split('\n').pop() ?? '';
    if (FENCE_LINE.test(lastLine) && openFenceAfter(piece, open) !== undefined) {
      const before = piece.replace(/\s+$/, '').lastIndexOf('\n');
      if (before > 0) {
        cut = before;
        piece = rest.slice(0, cut);
      }
    }
    const after = openFenceAfter(piece, open);
    const body = piece.replace(/\s+$/, '');
    parts.push(after !== undefined ? `${prefix}${body}\n${closingFor(after)}` : prefix + body);
    open = after;
    rest = rest.slice(cut);
    // Inside a code block whitespace is content (indentation): drop only the line break.
    rest = open !== undefined ? rest.replace(/^\n/, '') : rest.replace(/^\s+/, '');
  }
  return parts.length > 0 ? parts : [''];
}

/** `1.2 s`, `850 ms`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** The small line under an answer: model and time taken. */
export function answerFooter(model: string, latencyMs: number): string {
  return `-# ${model} · ${formatDuration(latencyMs)}`;
}

/** At most this much of a message goes to the list of sources. */
export const SOURCES_MAX_CHARS = 1_500;

/**
 * The pages a grounded answer cites, as small numbered links under it: `-# [1] [title](<uri>)`.
 * The angle brackets keep Discord from unfolding a preview of each page; titles lose the
 * characters that would break the link; a source that does not fit in `maxChars` is left out.
 */
export function sourceLines(sources: ReadonlyArray<{ title: string; uri: string }>, maxChars: number = SOURCES_MAX_CHARS): string[] {
  const lines: string[] = [];
  let chars = 0;
  for (const s of sources) {
    if (!/^https?:\/\/[^\s<>]+$/.test(s.uri) || s.uri.length > 500) continue;
    const title = truncate(s.title.replace(/[[\]<>`*_~|\\]/g, '').replace(/\s+/g, ' ').trim() || 'source', 80);
    const line = `-# [${lines.length + 1}] [${title}](<${s.uri}>)`;
    if (chars + line.length + 1 > maxChars) break;
    lines.push(line);
    chars += line.length + 1;
  }
  return lines;
}

/** A thread name from a prompt: one line, at most Discord's 100 characters, an ellipsis when cut. */
export function threadName(prompt: string): string {
  return truncate(prompt.replace(/\s+/g, ' ').trim(), DISCORD_LIMITS.threadNameChars) || 'Chat';
}

export { truncate };

/** The `/art` answer: a purple embed titled with the topic. */
export const ART_COLOR = 0x9b59b6;

/** The embed of an `/art` answer, within Discord's title and description limits. */
export function artEmbed(topic: string, description: string, footer: { model: string; latencyMs: number }): APIEmbed {
  return {
    title: truncate(topic.replace(/\s+/g, ' ').trim() || 'Untitled', DISCORD_LIMITS.embedTitleChars),
    description: truncate(description.trim() || '*(no description)*', DISCORD_LIMITS.embedDescriptionChars),
    color: ART_COLOR,
    footer: { text: `${footer.model} · ${formatDuration(footer.latencyMs)}` },
  };
}

// ------------------------------------------------------------------ reports as embeds

const STATE_ICON = { active: '🟢', cooling: '🟡', disabled: '🔴' } as const;
const STATS_COLOR = 0x5865f2;

/** Size of an embed as Discord counts it toward the 6000-character message total. */
export function embedChars(e: APIEmbed): number {
  let n = (e.title?.length ?? 0) + (e.description?.length ?? 0) + (e.footer?.text.length ?? 0) + (e.author?.name.length ?? 0);
  for (const f of e.fields ?? []) n += f.name.length + f.value.length;
  return n;
}

/**
 * Lays out lines as embeds within every limit: each description under `descriptionChars`,
 * each message under `messageChars` in total and `embedsPerMessage` embeds. Returns the
 * messages, each a list of embeds (send the first as the reply, the rest as follow-ups).
 * A line longer than a description is cut.
 */
export function paginateLines(
  title: string,
  lines: readonly string[],
  options: { color?: number; footer?: string; descriptionChars?: number; messageChars?: number; embedsPerMessage?: number } = {},
): APIEmbed[][] {
  const descriptionChars = options.descriptionChars ?? DISCORD_LIMITS.embedDescriptionChars - 96;
  const messageChars = options.messageChars ?? DISCORD_LIMITS.embedsTotalChars - 200;
  const embedsPerMessage = options.embedsPerMessage ?? DISCORD_LIMITS.embedsPerMessage;
  const descriptions: string[] = [];
  let current = '';
  for (const raw of lines) {
    const line = truncate(raw, descriptionChars);
    const next = current ? `${current}\n${line}` : line;
    if (next.length > descriptionChars) {
      descriptions.push(current);
      current = line;
    } else current = next;
  }
  if (current || descriptions.length === 0) descriptions.push(current || '*(nothing to show)*');

  const embeds: APIEmbed[] = descriptions.map((description, i) => {
    const e: APIEmbed = { description, color: options.color ?? STATS_COLOR };
    if (i === 0) e.title = truncate(title, DISCORD_LIMITS.embedTitleChars);
    return e;
  });
  const lastEmbed = embeds[embeds.length - 1]!;
  if (options.footer) lastEmbed.footer = { text: truncate(options.footer, DISCORD_LIMITS.embedFooterChars) };
  if (embeds.length > 1) {
    embeds.forEach((e, i) => {
      if (i > 0) e.title = truncate(`${title} (${i + 1}/${embeds.length})`, DISCORD_LIMITS.embedTitleChars);
    });
  }

  const messages: APIEmbed[][] = [];
  let page: APIEmbed[] = [];
  let pageChars = 0;
  for (const e of embeds) {
    const size = embedChars(e);
    if (page.length > 0 && (page.length >= embedsPerMessage || pageChars + size > messageChars)) {
      messages.push(page);
      page = [];
      pageChars = 0;
    }
    page.push(e);
    pageChars += size;
  }
  if (page.length > 0) messages.push(page);
  return messages;
}

const pct = (x: number): string => `${(x * 100).toFixed(x > 0 && x < 0.1 ? 1 : 0)}%`;

/**
 * What the numbers of `/api-key-stats` count, under the list. A call is one try with one
 * key, so one user request retried on another key is several calls; the requests users
 * made are in `/pool-stats`.
 */
export const KEY_STATS_LEGEND =
  'A call is one try with one key: a request retried on another key makes several. ' +
  'Calls, errors and avg: since the last /reset-api-stats. ' +
  'Today: calls since midnight Pacific time, when Google\'s daily quota starts over (not cleared by a reset). ' +
  'Keys are shown as key#N and their last 4 characters only.';

/** `1 call`, `3 calls`. */
const calls = (n: number): string => `${n} ${n === 1 ? 'call' : 'calls'}`;
/** `1 error`, `3 errors`. */
const errors = (n: number): string => `${n} ${n === 1 ? 'error' : 'errors'}`;
const requests = (n: number): string => `${n} ${n === 1 ? 'request' : 'requests'}`;

/** What the gateway's client tokens used (`/api-key-stats` totals): requests they made, which may each take several calls. */
export interface GatewayUsage {
  /** Tokens that work now. */
  clients: number;
  today: { requests: number; tokens: number; errors: number };
  total: { requests: number; tokens: number; errors: number };
}

/** One key as an admin sees it: `key#N (...hint)`, state, calls and errors, never the key. */
export function keyLine(k: KeyStats): string {
  const state =
    k.state === 'cooling'
      ? `${stateLabel(k)} ${formatDuration(k.cooldownRemainingMs)} left`
      : k.state === 'disabled'
        ? `disabled${k.disabledReason ? ` (${truncate(k.disabledReason.replace(/\s+/g, ' '), 60)})` : ''}`
        : 'active';
  return (
    `${STATE_ICON[k.state]} **${k.id}** \`...${k.hint}\` ${state} · ${calls(k.usage)} · ${errors(k.errors)} (${pct(k.errorRate)})` +
    ` · avg ${formatDuration(k.avgTimeMs)} · today ${calls(k.requestsToday)}`
  );
}

/**
 * `/api-key-stats`: per key, then totals; split into as many embeds and messages as needed.
 * Every number is a count of calls to Gemini (see {@link KEY_STATS_LEGEND}); the requests
 * users made are another count, shown by `/pool-stats`, so they are not mixed in here.
 */
export function renderKeyStats(report: KeyStatsReport, gateway?: GatewayUsage): APIEmbed[][] {
  const t = report.totals;
  const lines = [
    `**${t.keys} keys:** 🟢 ${t.active} active · 🟡 ${t.cooling} cooling · 🔴 ${t.disabled} disabled`,
    `**All keys:** ${calls(t.usage)} · ${errors(t.errors)} · today ${calls(t.requestsToday)}, ${t.tokensToday} tokens`,
    ...(gateway
      ? [
          `**Gateway clients:** ${gateway.clients} active ${gateway.clients === 1 ? 'token' : 'tokens'} · today ${requests(gateway.today.requests)}, ${gateway.today.tokens} tokens, ${errors(gateway.today.errors)}` +
            ` · in total ${requests(gateway.total.requests)}, ${gateway.total.tokens} tokens`,
        ]
      : []),
    '',
    ...report.keys.map(keyLine),
  ];
  return paginateLines('API key statistics', lines, { footer: KEY_STATS_LEGEND });
}

function modelLines(model: string, m: ModelPoolStats): string[] {
  const distribution = Object.entries(m.keyDistribution)
    .map(([id, n]) => `${id}×${n}`)
    .join(', ');
  return [
    `**${model}** · ${m.poolSize} instances · 🟢 ${m.activeInstances} active · 🔴 ${m.errorInstances} in error · ${m.totalUsage} requests`,
    `usage by instance: ${m.usageDistribution.join(' / ') || '-'}`,
    `keys: ${distribution || '-'}`,
    '',
  ];
}

/** `/pool-stats [model]`: per model pool size, active and error instances, usage and key distribution. */
export function renderPoolStats(report: PoolStatsReport, model?: string): APIEmbed[][] {
  const models = Object.entries(report.models).filter(([name]) => model === undefined || name === model);
  const lines = [
    `**Strategy:** ${report.strategy} · **requests:** ${report.totalRequests} (${report.failedRequests} failed) · in flight ${report.inFlight} · waiting ${report.waiting}`,
    '',
    ...models.flatMap(([name, m]) => modelLines(name, m)),
  ];
  return paginateLines(model ? `Pool statistics: ${model}` : 'Pool statistics', lines);
}

/** What `/status` shows everyone: models, key counts by state, queue; no key hints. */
export interface StatusView {
  models: readonly string[];
  keys: { active: number; cooling: number; disabled: number };
  queue: { running: number; waiting: number };
  poolWaiting: number;
}

/** The `/status` embed: green with a usable key, yellow without. */
export function renderStatus(s: StatusView): APIEmbed {
  const healthy = s.keys.active > 0;
  return {
    title: healthy ? '🟢 Online' : '🟡 Degraded: no key is usable right now',
    color: healthy ? 0x2ecc71 : 0xf1c40f,
    description: [
      `**Models:** ${s.models.map((m) => `\`${m}\``).join(', ')}`,
      `**Keys:** ${s.keys.active} available · ${s.keys.cooling} cooling down · ${s.keys.disabled} disabled`,
      `**Queue:** ${s.queue.running} answering · ${s.queue.waiting + s.poolWaiting} waiting`,
    ].join('\n'),
  };
}
