import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DISCORD_LIMITS,
  artEmbed,
  embedChars,
  keyLine,
  openFenceAfter,
  paginateLines,
  renderKeyStats,
  renderPoolStats,
  splitMessage,
  threadName,
  truncate,
} from '../../src/bot/render.ts';
import { ERROR_KINDS, type KeyStats, type KeyStatsReport } from '../../src/pool/types.ts';
import { BOT_FAILURE_KINDS, failureText, formatWait, poolFailureText, resetPoolKeyText } from '../../src/bot/userText.ts';

const FENCE = /^ {0,3}```/;
const fenceLines = (s: string): number => s.split('\n').filter((l) => FENCE.test(l)).length;
/** The text without fence lines and whitespace: what must survive splitting. */
const essence = (s: string): string =>
  s
    .split('\n')
    .filter((l) => !FENCE.test(l))
    .join('\n')
    .replace(/\s+/g, '');
const words = (s: string): string[] =>
  s
    .split('\n')
    .filter((l) => !FENCE.test(l))
    .join(' ')
    .split(/\s+/)
    .filter(Boolean);

/** Paragraphs of words, with code blocks (language or not) mixed in. */
const answerArb = fc
  .array(
    fc.oneof(
      fc.array(fc.stringMatching(/^[a-zA-Z0-9.,!?-]{1,14}$/), { minLength: 1, maxLength: 120 }).map((ws) => ws.join(' ')),
      fc
        .tuple(
          fc.constantFrom('', 'ts', 'python', 'js'),
          fc.array(fc.stringMatching(/^[a-z(){};=0-9 ]{0,60}$/), { minLength: 1, maxLength: 80 }),
        )
        .map(([lang, lines]) => `\`\`\`${lang}\n${lines.join('\n')}\n\`\`\``),
    ),
    { minLength: 1, maxLength: 25 },
  )
  .map((blocks) => blocks.join('\n\n'));

describe('splitMessage', () => {
  it('keeps short text in one message', () => {
    expect(splitMessage('hello world')).toEqual(['hello world']);
  });

  it('every piece fits, fences are balanced in each, nothing is lost or reordered, no word is cut', () => {
    fc.assert(
      fc.property(answerArb, fc.integer({ min: 300, max: 2000 }), (text, max) => {
        const parts = splitMessage(text, max);
        for (const p of parts) {
          expect(p.length).toBeLessThanOrEqual(max);
          expect(fenceLines(p) % 2).toBe(0);
        }
        expect(essence(parts.join('\n'))).toBe(essence(text));
        expect(words(parts.join('\n'))).toEqual(words(text));
      }),
      { numRuns: 150 },
    );
  });

  it('reopens a code block with its language in the next message', () => {
    const code = Array.from({ length: 200 }, (_, i) => `print(${i})  # line ${i}`).join('\n');
    const parts = splitMessage(`Intro.\n\n\`\`\`python\n${code}\n\`\`\`\n\nOutro.`, 2000);
    expect(parts.length).toBeGreaterThan(2);
    for (const p of parts.slice(1, -1)) {
      expect(p.startsWith('```python\n')).toBe(true);
      expect(p.endsWith('\n```')).toBe(true);
    }
    expect(parts[parts.length - 1]!.endsWith('Outro.')).toBe(true);
  });

  it('prefers paragraph ends, then line ends, then spaces', () => {
    const para = 'word '.repeat(150).trim(); // 749 chars
    const parts = splitMessage(`${para}\n\n${para}\n\n${para}`, 1600);
    expect(parts).toEqual([`${para}\n\n${para}`, para]);
  });

  it('cuts a single enormous word only because it must, and never splits a surrogate pair', () => {
    const blob = '😀'.repeat(1500); // 3000 UTF-16 units
    const parts = splitMessage(blob, 2000);
    expect(parts.join('')).toBe(blob);
    for (const p of parts) expect(p.length).toBeLessThanOrEqual(2000);
  });

  it('is stable as text grows: once a message is full it never changes (streaming relies on it)', () => {
    const text = Array.from({ length: 400 }, (_, i) => `token${i}${i % 17 === 0 ? '\n\n' : ' '}`).join('');
    let previous: string[] = [];
    for (let n = 100; n <= text.length; n += 97) {
      const parts = splitMessage(text.slice(0, n), 1900);
      // All but the last piece of the previous render are final.
      expect(parts.slice(0, previous.length - 1)).toEqual(previous.slice(0, -1));
      previous = parts;
    }
  });

  it('tracks fences only at line starts', () => {
    expect(openFenceAfter('use ``` inline')).toBeUndefined();
    expect(openFenceAfter('```ts\ncode')).toBe('```ts');
    expect(openFenceAfter('```ts\ncode\n```')).toBeUndefined();
  });
});

describe('thread names and embeds', () => {
  it('truncates thread names to 100 characters on one line', () => {
    expect(threadName('  hello\n\nworld ')).toBe('hello world');
    const long = threadName('x'.repeat(300));
    expect([...long].length).toBe(100);
    expect(long.endsWith('…')).toBe(true);
    expect(threadName('   ')).toBe('Chat');
  });

  it('truncate cuts to the limit with an ellipsis, never inside a surrogate pair', () => {
    expect(truncate('hello', 5)).toBe('hello');
    expect(truncate('hello world', 8)).toBe('hello w…');
    expect(truncate('ab😀cd', 4)).toBe('ab…');
    expect(threadName('😀'.repeat(80)).length).toBeLessThanOrEqual(100);
  });

  it('/art: a purple embed titled with the topic, within limits', () => {
    const e = artEmbed('a lighthouse at dawn', 'd'.repeat(5000), { model: 'gemini-2.5-flash', latencyMs: 1234 });
    expect(e.color).toBe(0x9b59b6);
    expect(e.title).toBe('a lighthouse at dawn');
    expect(e.description!.length).toBeLessThanOrEqual(4096);
  });
});

function keyStats(n: number): KeyStatsReport {
  const states = ['active', 'cooling', 'disabled'] as const;
  const keys: KeyStats[] = Array.from({ length: n }, (_, i) => ({
    id: `key#${i + 1}`,
    hint: `h${String(i).padStart(3, '0')}`,
    group: 'own',
    state: states[i % 3]!,
    cooldownRemainingMs: i % 3 === 1 ? 42_000 : 0,
    ...(i % 3 === 2 ? { disabledReason: 'API key not valid. Please pass a valid API key. (API_KEY_INVALID)' } : {}),
    usage: 1000 + i,
    errors: i,
    errorRate: i / 1000,
    avgTimeMs: 800 + i,
    requestsToday: 100 + i,
    tokensToday: 5000,
    models: {},
  }));
  return {
    keys,
    totals: { keys: n, active: 17, cooling: 17, disabled: 16, totalRequests: 9, failedRequests: 1, usage: 9, errors: 1, requestsToday: 9, tokensToday: 9 },
  };
}

describe('admin embeds respect Discord limits', () => {
  it.each([1, 12, 50, 300])('%i keys: descriptions <= 4096, messages <= 6000 chars and <= 10 embeds, every key once in order', (n) => {
    const pages = renderKeyStats(keyStats(n));
    const ids: string[] = [];
    for (const page of pages) {
      expect(page.length).toBeLessThanOrEqual(DISCORD_LIMITS.embedsPerMessage);
      expect(page.reduce((s, e) => s + embedChars(e), 0)).toBeLessThanOrEqual(DISCORD_LIMITS.embedsTotalChars);
      for (const e of page) {
        expect(e.description!.length).toBeLessThanOrEqual(DISCORD_LIMITS.embedDescriptionChars);
        ids.push(...[...e.description!.matchAll(/\*\*(key#\d+)\*\*/g)].map((m) => m[1]!));
      }
    }
    expect(ids).toEqual(Array.from({ length: n }, (_, i) => `key#${i + 1}`));
    if (n >= 50) expect(pages.flat().length).toBeGreaterThan(1);
  });

  it('/api-key-stats counts calls everywhere and says what each number counts', () => {
    // As in the demo: 10 user requests, one retried on another key: 11 calls, all today.
    const report: KeyStatsReport = {
      keys: [
        { ...keyStats(1).keys[0]!, state: 'active', usage: 6, errors: 0, errorRate: 0, requestsToday: 6 },
        { ...keyStats(2).keys[1]!, id: 'key#2', state: 'disabled', disabledReason: 'API key not valid', usage: 5, errors: 1, errorRate: 0.2, requestsToday: 5 },
      ],
      totals: { keys: 2, active: 1, cooling: 0, disabled: 1, totalRequests: 10, failedRequests: 0, usage: 11, errors: 1, requestsToday: 11, tokensToday: 1603 },
    };
    const [embed] = renderKeyStats(report).flat();
    const lines = embed!.description!.split('\n');
    expect(lines[1]).toBe('**All keys:** 11 calls · 1 error · today 11 calls, 1603 tokens');
    // The user requests (10) are /pool-stats' number: not a third count here.
    expect(embed!.description).not.toMatch(/\b10\b/);
    expect(lines.find((l) => l.includes('key#1'))).toMatch(/ active · 6 calls · 0 errors \(0%\) · avg .* · today 6 calls$/);
    expect(lines.find((l) => l.includes('key#2'))).toMatch(/ disabled \(API key not valid\) · 5 calls · 1 error \(20%\) · avg .* · today 5 calls$/);
    // A key skipped for a while after 503s of its own says so.
    const soft = keyLine({ ...report.keys[0]!, state: 'cooling', softCooldown: 'overloaded', cooldownRemainingMs: 5_000 });
    expect(soft).toContain(' cooling (overloaded) 5.0 s left · ');
    const legend = embed!.footer!.text;
    expect(legend).toContain('A call is one try with one key');
    expect(legend).toContain('since the last /reset-api-stats');
    expect(legend).toContain('midnight Pacific time');
    expect(legend).toContain('key#N and their last 4 characters');
  });

  it('/api-key-stats totals show what the gateway\'s client tokens used, today and in total', () => {
    const report = keyStats(1);
    const without = renderKeyStats(report).flat()[0]!.description!;
    expect(without).not.toContain('Gateway clients');
    const [embed] = renderKeyStats(report, { clients: 2, today: { requests: 7, tokens: 900, errors: 1 }, total: { requests: 40, tokens: 5000, errors: 3 } }).flat();
    expect(embed!.description!.split('\n')[2]).toBe('**Gateway clients:** 2 active tokens · today 7 requests, 900 tokens, 1 error · in total 40 requests, 5000 tokens');
  });

  it('paginates into several messages when one is not enough', () => {
    const lines = Array.from({ length: 400 }, (_, i) => `line ${i} `.padEnd(150, '.'));
    const pages = paginateLines('Title', lines);
    expect(pages.length).toBeGreaterThan(1);
    expect(pages.flat().map((e) => e.description).join('\n')).toBe(lines.join('\n'));
  });

  it('pool stats list each model with instances and key distribution', () => {
    const pages = renderPoolStats({
      models: {
        'gemini-2.5-flash': { poolSize: 5, activeInstances: 4, errorInstances: 1, totalUsage: 12, usageDistribution: [3, 3, 2, 2, 2], keyDistribution: { 'key#1': 3, 'key#2': 2 } },
        'gemini-2.5-pro': { poolSize: 5, activeInstances: 5, errorInstances: 0, totalUsage: 0, usageDistribution: [0, 0, 0, 0, 0], keyDistribution: { 'key#1': 5 } },
      },
      strategy: 'health',
      totalRequests: 12,
      failedRequests: 1,
      inFlight: 0,
      waiting: 0,
    }, 'gemini-2.5-flash');
    const text = pages[0]!.map((e) => e.description).join('\n');
    expect(text).toContain('gemini-2.5-flash');
    expect(text).not.toContain('gemini-2.5-pro');
    expect(text).toContain('key#1×3');
  });
});

describe('the one table of user texts', () => {
  it('/reset-pool key:N names the keys in use, also when keys removed at runtime left gaps', () => {
    expect(resetPoolKeyText(5, ['key#1', 'key#2', 'key#3'], true)).toBe('There is no key#5: this bot has 3 keys (key#1 to key#3).');
    expect(resetPoolKeyText(2, ['key#1', 'key#3', 'key#4'], true)).toBe('There is no key#2: this bot has 3 keys (key#1, key#3, key#4).');
    const many = Array.from({ length: 12 }, (_, i) => `key#${i + 2}`);
    expect(resetPoolKeyText(1, many, true)).toBe(`There is no key#1: this bot has 12 keys (${many.slice(0, 10).join(', ')} and 2 more).`);
    expect(resetPoolKeyText(1, ['key#1'], false)).toMatch(/use it together with `clear-cooldowns:True`/);
  });

  it('has a friendly text for every pool kind and bot refusal, never "undefined"', () => {
    for (const kind of [...ERROR_KINDS, ...BOT_FAILURE_KINDS]) {
      const text = failureText({ kind });
      expect(text.length).toBeGreaterThan(10);
      expect(text).not.toMatch(/undefined|Error:|\bat .*\.ts/);
    }
  });

  it('rate limits say when to try again', () => {
    expect(poolFailureText({ kind: 'rate_limited', message: 'x', retryAfterMs: 37_200 })).toContain('try again in ~38 s');
    expect(poolFailureText({ kind: 'blocked', message: 'x', reason: 'SAFETY' })).toContain('SAFETY');
    expect(poolFailureText({ kind: 'bad_request', message: 'The input token count exceeds the maximum' })).toContain('token count');
    expect(failureText({ kind: 'auth' })).toMatch(/admin/i);
    expect(formatWait(500)).toBe('~1 s');
    expect(formatWait(3 * 3600_000)).toBe('~3 h');
  });
});
