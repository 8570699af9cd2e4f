/**
 * `npm run demo`: the whole product, with no tokens and no internet. Starts the fake
 * Discord and the fake Gemini (from fakes/), runs the REAL bot against them (the same
 * `startBot` as `npm start`), plays a short scripted session, and prints what Discord users
 * would have seen, then the key statistics. Exits by itself within a minute.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startBot, type RunningBot } from '../src/bot/app.ts';
import { encodePng } from '../src/bot/gifFrame.ts';
import { sdkClientFactory, type ClientFactory } from '../src/gemini/adapter.ts';
import { FakeDiscord, FakePermissions, type FakeInteraction, type FakeMessage, type FakeUser } from '../fakes/fakeDiscord.ts';
import { FakeGemini, type ReplyContext } from '../fakes/fakeGemini.ts';

const DEADLINE_MS = 55_000;
const GUILD = '1200000000000000001';
const GENERAL = '1200000000000000002';
const ALERTS = '1200000000000000003';
const alice: FakeUser = { id: '1200000000000000010', username: 'alice', globalName: 'Alice' };
const bob: FakeUser = { id: '1200000000000000011', username: 'bob', globalName: 'Bob' };
const dana: FakeUser = { id: '1200000000000000012', username: 'dana', globalName: 'Dana (admin)' };
const KEYS = ['demo-key-alpha-0001', 'demo-key-bravo-0002', 'demo-key-charlie-0003', 'demo-key-delta-0004'];

const out = (line = ''): void => void process.stdout.write(`${line}\n`);

/** What the fake Gemini answers: canned, but it reads the conversation like a model would. */
function reply(ctx: ReplyContext): string {
  const last = ctx.lastUserText;
  if (/artistic description/i.test(last)) {
    return 'Dawn spills rose and apricot across a restless sea. The lighthouse stands in cool slate blue, its lamp still burning, ' +
      'a last white thread against the waking sky. Gulls are brushed in with quick, confident strokes; the foam is thick impasto, ' +
      'catching the first light like crushed pearl.';
  }
  if (/python/i.test(last)) return longAnswer();
  if (/key pool/i.test(last)) {
    return 'A key pool spreads requests over several Gemini API keys. When one key hits its per-minute quota, the pool cools it ' +
      'down and sends the next request on a healthy key, so users never see the rate limit.';
  }
  const contents = (ctx.contents as Array<{ role: string; parts: Array<{ text?: string; inlineData?: { mimeType: string; data: string } }> }>) ?? [];
  const image = contents.at(-1)?.parts.find((p) => p.inlineData)?.inlineData;
  if (image) {
    const bytes = Buffer.from(image.data, 'base64');
    return `I see a small ${image.mimeType.replace('image/', '').toUpperCase()} picture (${bytes.readUInt32BE(16)}x${bytes.readUInt32BE(20)} pixels, ` +
      `${bytes.length} bytes): a sunset gradient, orange at the top fading into purple. A calm, warm scene.`;
  }
  if (Array.isArray(ctx.requestBody?.tools)) {
    return 'The 2024 Nobel Prize in Physics went to John Hopfield and Geoffrey Hinton, "for foundational discoveries and ' +
      'inventions that enable machine learning with artificial neural networks".';
  }
  const textOf = (c: (typeof contents)[number]): string => c.parts.map((p) => p.text ?? '').join('');
  const speakers = contents.filter((c) => c.role === 'user').map((c) => textOf(c).split(':')[0]);
  if (/name my cat/i.test(last)) return 'How about Miso, Pixel or Captain Whiskers? Short names with a clear sound are easiest for a cat to learn.';
  if (contents.length > 1) {
    return `Noted! So far in this conversation I heard from ${[...new Set(speakers)].join(' and ')}. ` +
      `Here is the list: ${contents.filter((c) => c.role === 'user').map((c) => textOf(c).replace(/^[^:]*: /, '')).join(' / ')}.`;
  }
  if (/picnic/i.test(last)) return 'A picnic! Let us pick a park, a time, and who brings what. I will keep track in this thread.';
  return `Sure: ${last.replace(/^[^:]*: /, '')}`;
}

function longAnswer(): string {
  const lines = Array.from({ length: 70 }, (_, i) => `    total += values[${i}] * weight(${i})  # step ${i}`);
  return (
    'Here is a weighted sum, written out step by step so every term is visible.\n\n' +
    `${'Each step multiplies one value by its weight and adds it to the running total. '.repeat(6).trim()}\n\n` +
    `\`\`\`python\ndef weighted_sum(values):\n    total = 0\n${lines.join('\n')}\n    return total\n\`\`\`\n\n` +
    `${'In real code you would write this as one line with zip() and sum(), but the long form shows the idea. '.repeat(5).trim()}`
  );
}

/** Streams arrive in pieces a little apart, as from the real API (the fake sends them at once). */
const gentleStreams: ClientFactory = (apiKey, options) => {
  const real = sdkClientFactory(apiKey, options);
  return {
    generate: (req, signal) => real.generate(req, signal),
    check: (signal) => real.check(signal),
    native: (method, model, body, signal) => real.native(method, model, body, signal),
    nativeStream: (model, body, signal) => real.nativeStream(model, body, signal),
    async *stream(req, signal) {
      for await (const chunk of real.stream(req, signal)) {
        await new Promise((r) => setTimeout(r, 12));
        yield chunk;
      }
    },
  };
};

/** Channel mentions as Discord shows them (set once the fake exists). */
let channelName = (id: string): string => id;

/** A message as a user sees it: text, embeds, buttons. */
function show(who: string, m: FakeMessage, options: { maxLines?: number; label?: string } = {}): void {
  const maxLines = options.maxLines ?? 14;
  const lines: string[] = [];
  if (m.content) lines.push(...m.content.replace(/<#(\d+)>/g, (_, id: string) => `#${channelName(id)}`).split('\n'));
  for (const e of m.embeds) {
    lines.push(`┃ ${e.title ?? ''}`.trimEnd());
    for (const l of String(e.description ?? '').split('\n')) lines.push(`┃ ${l}`.trimEnd());
    if (e.footer?.text) lines.push(`┃ -# ${e.footer.text}`);
  }
  for (const row of m.components) for (const c of row.components ?? []) lines.push(`[ ${c.label} ]`);
  const shown = lines.length > maxLines ? [...lines.slice(0, maxLines), `… (${lines.length - maxLines} more lines)`] : lines;
  const flags = (m.flags & 64) !== 0 ? ' (only you can see this)' : '';
  out(`  ${who}${options.label ? ` ${options.label}` : ''}${flags}:`);
  for (const l of shown) out(`      ${l}`);
}

function answerOf(it: FakeInteraction): FakeMessage[] {
  const first = it.original();
  return [...(first ? [first] : []), ...it.followUps()];
}

const hasFooter = (m: FakeMessage | undefined): boolean => /\n-# \S+ · /.test(m?.content ?? '');

async function main(): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gemini-bot-demo-'));
  const gemini = await FakeGemini.start({
    reply,
    streamChunkChars: 24,
    grounding: () => [
      { title: 'nobelprize.org', uri: 'https://www.nobelprize.org/prizes/physics/2024/summary/' },
      { title: 'Wikipedia', uri: 'https://en.wikipedia.org/wiki/2024_Nobel_Prize_in_Physics' },
    ],
  });
  const discord = await FakeDiscord.start({
    applicationId: '1200000000000000099',
    botUser: { id: '1200000000000000099', username: 'GeminiBot' },
    guilds: [{ id: GUILD, name: 'Demo Server', channels: [{ id: GENERAL, name: 'general' }, { id: ALERTS, name: 'bot-alerts' }] }],
  });
  channelName = (id) => discord.threads.get(id)?.name ?? id;
  let bot: RunningBot | undefined;
  try {
    bot = await startBot(
      {
        DISCORD_TOKEN: 'demo-token',
        DISCORD_GUILD_ID: GUILD,
        DISCORD_API_URL: discord.apiUrl,
        GEMINI_BASE_URL: gemini.url,
        GEMINI_API_KEYS: KEYS.join(','),
        GEMINI_MODELS: 'gemini-2.5-flash,gemini-2.5-pro',
        ALERT_CHANNEL_ID: ALERTS,
        ALERT_MIN_INTERVAL_MS: '5000',
        EDIT_INTERVAL_MS: '250',
        STORE: 'sqlite',
        DATA_DIR: dataDir,
        LOG_LEVEL: 'silent',
      },
      { logger: pino({ level: 'silent' }), clientFactory: gentleStreams },
    );
    const b = bot;
    const settle = () => discord.waitFor(() => b.gate.inFlight === 0, 5000);

    const ask = async (user: FakeUser, prompt: string): Promise<FakeMessage[]> => {
      out(`  ${user.globalName}: /ask prompt:${prompt}`);
      const it = await discord.sendCommand({ name: 'ask', options: [{ name: 'prompt', type: 3, value: prompt }], user, channelId: GENERAL });
      const ms = await discord.waitFor(() => (hasFooter(answerOf(it).at(-1)) ? answerOf(it) : undefined), 15_000);
      await settle();
      ms.forEach((m, i) =>
        show('GeminiBot', m, { label: ms.length > 1 ? `[message ${i + 1}/${ms.length}, ${m.content.length} chars, ${m.edits} edits]` : `[${m.edits} edits while streaming]`, maxLines: ms.length > 1 ? 4 : 14 }),
      );
      out();
      return ms;
    };

    out('════════ #general on Demo Server ════════');
    out();
    await ask(alice, 'What is a Gemini API key pool?');

    out(`  ${bob.globalName}: /art topic:a lighthouse at dawn`);
    const art = await discord.sendCommand({ name: 'art', options: [{ name: 'topic', type: 3, value: 'a lighthouse at dawn' }], user: bob, channelId: GENERAL });
    show('GeminiBot', await art.waitForOriginal((m) => m.embeds.length > 0, 10_000));
    await settle();
    out();

    const long = await ask(bob, 'Write a Python function for a weighted sum, step by step');
    const balanced = long.every((m) => m.content.split('\n').filter((l) => l.startsWith('```')).length % 2 === 0);
    out(`  (${long.length} messages, each under 2000 characters, code fences ${balanced ? 'balanced in every message' : 'NOT balanced'})`);
    out();

    out(`  ${bob.globalName}: /chat prompt:Let's plan a picnic for Saturday`);
    const chat = await discord.sendCommand({ name: 'chat', options: [{ name: 'prompt', type: 3, value: "Let's plan a picnic for Saturday" }], user: bob, channelId: GENERAL });
    const thread = await discord.waitFor(() => [...discord.threads.values()][0], 10_000);
    show('GeminiBot', await chat.waitForOriginal((m) => m.content.includes(thread.id), 10_000));
    await discord.waitFor(() => hasFooter(discord.channelMessages(thread.id).at(-1)), 10_000);
    await settle();
    out();
    out(`════════ thread "${thread.name}" ════════`);
    out();
    const threadShown = new Set<string>();
    const showThread = () => {
      for (const m of discord.channelMessages(thread.id)) {
        if (threadShown.has(m.id)) continue;
        threadShown.add(m.id);
        show('GeminiBot', m);
      }
    };
    showThread();
    for (const [user, text] of [
      [alice, 'I will bring bread and cheese'],
      [bob, 'What did we agree on so far?'],
    ] as const) {
      out(`  ${user.globalName}: ${text}`);
      const before = discord.channelMessages(thread.id).filter((m) => hasFooter(m)).length;
      discord.sendUserMessage({ channelId: thread.id, content: text, author: user });
      await discord.waitFor(() => discord.channelMessages(thread.id).filter((m) => hasFooter(m)).length > before, 10_000);
      await settle();
      showThread();
    }
    out();

    out('════════ #general: mentions, replies, an image, a search ════════');
    out();
    /** The bot's answer to a user's message: its replies, chained, once the last has a footer. */
    const answerTo = async (m: FakeMessage): Promise<FakeMessage[]> => {
      const chain = (): FakeMessage[] => {
        const found: FakeMessage[] = [];
        for (let parent = m.id, next = discord.channelMessages(GENERAL).find((x) => x.referenceMessageId === parent); next; parent = next.id, next = discord.channelMessages(GENERAL).find((x) => x.referenceMessageId === parent)) found.push(next);
        return found;
      };
      const ms = await discord.waitFor(() => (hasFooter(chain().at(-1)) ? chain() : undefined), 10_000);
      await settle();
      return ms;
    };
    out(`  ${alice.globalName}: @GeminiBot what should I name my cat?`);
    const mention = discord.sendUserMessage({ channelId: GENERAL, content: `<@${b.client.user.id}> what should I name my cat?`, author: alice });
    const [catAnswer] = await answerTo(mention);
    show('GeminiBot', catAnswer!, { label: `(replying to ${alice.globalName})` });
    out(`  ${bob.globalName} (replying to GeminiBot): and what about a dog?`);
    const followUp = discord.sendUserMessage({ channelId: GENERAL, content: 'and what about a dog?', author: bob, replyTo: catAnswer!.id });
    show('GeminiBot', (await answerTo(followUp))[0]!, { label: `(replying to ${bob.globalName})` });
    const sunset = encodePng(4, 4, Uint8Array.from({ length: 64 }, (_, i) => [255, 140 - (i >> 2) * 6, 60 + (i >> 2) * 8, 255][i % 4]!));
    out(`  ${alice.globalName}: @GeminiBot what is in this picture?  📎 sunset.png (${sunset.length} bytes)`);
    const picture = discord.sendUserMessage({
      channelId: GENERAL,
      content: `<@${b.client.user.id}> what is in this picture?`,
      author: alice,
      attachments: [{ filename: 'sunset.png', contentType: 'image/png', data: sunset }],
    });
    show('GeminiBot', (await answerTo(picture))[0]!, { label: `(replying to ${alice.globalName}; the image went to Gemini as inline data)` });
    out(`  ${bob.globalName}: /ask prompt:Who won the 2024 Nobel Prize in Physics? search:True`);
    const searched = await discord.sendCommand({
      name: 'ask',
      options: [{ name: 'prompt', type: 3, value: 'Who won the 2024 Nobel Prize in Physics?' }, { name: 'search', type: 5, value: true }],
      user: bob,
      channelId: GENERAL,
    });
    const [searchAnswer] = await discord.waitFor(() => (hasFooter(answerOf(searched).at(-1)) ? answerOf(searched) : undefined), 10_000);
    await settle();
    show('GeminiBot', searchAnswer!, { label: '(grounded in Google Search: numbered sources under the answer)' });
    out();

    out('════════ back in #general: key#2 is revoked at Google mid-way ════════');
    out();
    gemini.setKey({ key: KEYS[1]!, status: 'invalid' });
    for (let i = 1; i <= 4 && discord.channelMessages(ALERTS).length === 0; i++) await ask(alice, `Quick question number ${i}`);
    await discord.waitFor(() => discord.channelMessages(ALERTS).length > 0, 5000).catch(() => undefined);
    out('════════ #bot-alerts ════════');
    for (const m of discord.channelMessages(ALERTS)) show('GeminiBot', m);
    out();

    out('════════ #general ════════');
    out(`  ${bob.globalName}: /status`);
    const status = await discord.sendCommand({ name: 'status', user: bob, channelId: GENERAL });
    show('GeminiBot', await status.waitForOriginal((m) => m.embeds.length > 0, 5000));
    out(`  ${bob.globalName}: /api-key-stats`);
    const refused = await discord.sendCommand({ name: 'api-key-stats', user: bob, channelId: GENERAL, memberPermissions: FakePermissions.DefaultMember });
    await refused.waitForResponse();
    show('GeminiBot', refused.original()!);
    out(`  ${dana.globalName}: /api-key-stats`);
    const stats = await discord.sendCommand({ name: 'api-key-stats', user: dana, channelId: GENERAL, memberPermissions: FakePermissions.ManageGuild });
    const statsMessage = await stats.waitForOriginal((m) => m.embeds.length > 0, 5000);
    show('GeminiBot', statsMessage, { maxLines: 40 });
    out();

    out('════════ key statistics (pool.getKeyStats) ════════');
    const report = b.pool.getKeyStats();
    const rows = [
      ['key', 'hint', 'state', 'calls', 'errors', 'error rate', 'avg ms', 'calls today'],
      ...report.keys.map((k) => [k.id, `...${k.hint}`, k.state, String(k.usage), String(k.errors), `${Math.round(k.errorRate * 100)}%`, String(k.avgTimeMs), String(k.requestsToday)]),
    ];
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
    for (const r of rows) out(`  ${r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ')}`);
    const t = report.totals;
    out(`  totals: ${t.keys} keys, ${t.active} active, ${t.cooling} cooling, ${t.disabled} disabled; ${t.totalRequests} requests from users ` +
      `(${t.failedRequests} failed) made ${t.usage} calls to Gemini (a retry on another key is one more call)`);
    out();

    const leaked = KEYS.some((k) => JSON.stringify(discord.calls.map((c) => c.body)).includes(k));
    out(`Checks: ${discord.calls.length} Discord REST calls, ${discord.rateLimitedCalls().length} rate-limited, ` +
      `${leaked ? 'A KEY LEAKED' : 'no key in any payload'}, ${gemini.requests.length} Gemini requests.`);
    return leaked ? 1 : 0;
  } finally {
    await bot?.stop();
    await discord.close();
    await gemini.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const watchdog = setTimeout(() => {
  process.stderr.write(`demo: did not finish within ${DEADLINE_MS / 1000} s\n`);
  process.exit(1);
}, DEADLINE_MS);
watchdog.unref();

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`demo failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  },
);
