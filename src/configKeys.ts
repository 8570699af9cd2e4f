/**
 * The Gemini keys of the configuration, from GEMINI_API_KEYS, GEMINI_API_KEY(_N) and
 * GEMINI_KEYS_FILE, and the near-misses around them. A key that cannot be right (quotes,
 * spaces, characters a key never has) would otherwise fail as a network error forever, so
 * it is refused, naming where it came from (`GEMINI_API_KEYS entry 3`, `GEMINI_KEYS_FILE
 * line 4`) and never the key itself.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { shown, shownPath } from './configEcho.ts';
import { parseKeySpec, type KeySpec } from './pool/keys.ts';

type Env = Record<string, string | undefined>;

/** One key as written, and where. */
interface KeyEntry {
  /** `GEMINI_API_KEYS entry 3`, `GEMINI_API_KEY_2`, `GEMINI_KEYS_FILE line 4`. */
  where: string;
  raw: string;
}

/** Opening quote -> the closing quotes that match it (editors turn " into “ ” or ” ”). */
const QUOTE_PAIRS: Record<string, string> = {
  '"': '"',
  "'": "'",
  '“': '”“',
  '”': '”',
  '„': '“”',
  '‘': '’‘',
  '’': '’',
  '‚': '‘’',
};
const QUOTES = /["'“”„‘’‚`]/;

/** Removes one pair of matching quotes around a value (ASCII or typographic). */
export function stripQuotes(value: string): string {
  const v = value.trim();
  if (v.length >= 2 && QUOTE_PAIRS[v[0]!]?.includes(v[v.length - 1]!)) return v.slice(1, -1).trim();
  return v;
}

/** What is wrong with a key, in words that never include it; undefined when it can be a key. */
export function keyProblem(key: string): string | undefined {
  if (/^[A-Za-z0-9_-]+$/.test(key)) return undefined;
  if (/\s/.test(key)) return 'has whitespace inside (a key is one word)';
  if (QUOTES.test(key)) return 'has a quote character in it (write the key without quotes, or with matching quotes around it)';
  if (/^[A-Za-z0-9_-]{18,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}$/.test(key)) {
    return 'looks like a Discord bot token, not a Gemini API key (that belongs in DISCORD_TOKEN)';
  }
  return 'has characters a Gemini API key never has (keys are letters, digits, - and _)';
}

/** Entries of a list variable: comma- or newline-separated. */
function listEntries(name: string, value: string | undefined): KeyEntry[] {
  const items = (value ?? '').split(/[,\n\r]/).map((s) => s.trim()).filter(Boolean);
  return items.map((raw, i) => ({ where: items.length > 1 || name === 'GEMINI_API_KEYS' ? `${name} entry ${i + 1}` : name, raw }));
}

/** GEMINI_API_KEY, then GEMINI_API_KEY_2 ... GEMINI_API_KEY_N in numeric order (any N). */
function numberedEntries(env: Env): KeyEntry[] {
  const numbered = Object.keys(env)
    .map((name) => ({ name, m: /^GEMINI_API_KEY_(\d+)$/.exec(name) }))
    .filter((x): x is { name: string; m: RegExpExecArray } => x.m !== null)
    .sort((a, b) => Number(a.m[1]) - Number(b.m[1]));
  return [...listEntries('GEMINI_API_KEY', env.GEMINI_API_KEY), ...numbered.flatMap((x) => listEntries(x.name, env[x.name]))];
}

function fileEntries(path: string, problems: string[]): KeyEntry[] {
  const full = resolve(path);
  if (!existsSync(full)) {
    problems.push(`GEMINI_KEYS_FILE: no such file: ${shownPath(path, full)}`);
    return [];
  }
  if (!statSync(full).isFile()) {
    problems.push(`GEMINI_KEYS_FILE: not a file: ${shownPath(path, full)}`);
    return [];
  }
  return readFileSync(full, 'utf8')
    .split(/\r?\n/)
    .map((line, i) => ({ where: `GEMINI_KEYS_FILE line ${i + 1}`, raw: line.replace(/#.*$/, '').trim() }))
    .filter((e) => e.raw !== '');
}

/**
 * Reads the keys from GEMINI_API_KEYS, GEMINI_API_KEY(_N) and GEMINI_KEYS_FILE, in that
 * order, dropping duplicates. A key may carry its quota group as `group:key`; quotes around
 * the entry, the group or the key are removed. Problems go to `problems`.
 */
export function collectKeys(env: Env, problems: string[]): KeySpec[] {
  const entries = [...listEntries('GEMINI_API_KEYS', env.GEMINI_API_KEYS), ...numberedEntries(env)];
  if (env.GEMINI_KEYS_FILE?.trim()) entries.push(...fileEntries(env.GEMINI_KEYS_FILE.trim(), problems));
  const seen = new Set<string>();
  const keys: KeySpec[] = [];
  for (const { where, raw } of entries) {
    const whole = stripQuotes(raw);
    if (whole === '') continue;
    const parsed = parseKeySpec(whole);
    const key = stripQuotes(parsed.key);
    const group = parsed.group === undefined ? undefined : stripQuotes(parsed.group);
    const problem = keyProblem(key);
    if (problem) {
      problems.push(`${where}: ${problem}`);
      continue;
    }
    if (group !== undefined && !/^[\w.-]+$/.test(group)) {
      problems.push(`${where}: the project before ':' may only have letters, digits, '.', '-' and '_' (got ${shown(group)})`);
      continue;
    }
    if (seen.has(key)) continue;
    seen.add(key);
    keys.push(group === undefined ? { key } : { key, group });
  }
  return keys;
}

/** Names other bots and tools use for what is called differently here. */
const OTHER_NAMES: Record<string, string> = {
  GEMINI_APIKEY: 'GEMINI_API_KEY',
  GEMINI_APIKEYS: 'GEMINI_API_KEYS',
  GEMINI_KEY: 'GEMINI_API_KEY',
  GEMINI_KEYS: 'GEMINI_API_KEYS',
  GEMINI_TOKEN: 'GEMINI_API_KEY',
  GEMINI_API_TOKEN: 'GEMINI_API_KEY',
  GOOGLE_GEMINI_API_KEY: 'GEMINI_API_KEY',
  GEMINI_KEY_FILE: 'GEMINI_KEYS_FILE',
  GEMINI_API_KEYS_FILE: 'GEMINI_KEYS_FILE',
  GEMINI_MODEL: 'GEMINI_MODELS',
  DISCORD_BOT_TOKEN: 'DISCORD_TOKEN',
  BOT_TOKEN: 'DISCORD_TOKEN',
  DISCORD_CLIENT_ID: 'DISCORD_APPLICATION_ID',
  DISCORD_APP_ID: 'DISCORD_APPLICATION_ID',
  CLIENT_ID: 'DISCORD_APPLICATION_ID',
  DISCORD_SERVER_ID: 'DISCORD_GUILD_ID',
  GUILD_ID: 'DISCORD_GUILD_ID',
};

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * Warnings about variables that are set but not read, though they were surely meant for
 * us (`GEMINI_API_KEY3`, `GEMINI_APIKEY`, `GEMINI_API_KEYS_2`, `gemini_api_key`, a typo of
 * a setting), and about variables of @google/genai that would change where requests go.
 * Never a value. `ours` is every variable the configuration reads.
 */
export function configWarnings(env: Env, ours: ReadonlySet<string>, keysFound: number): string[] {
  const warnings: string[] = [];
  const set = (name: string): boolean => (env[name]?.trim() ?? '') !== '';
  for (const name of Object.keys(env).sort()) {
    if (!set(name) || ours.has(name) || /^GEMINI_API_KEY_\d+$/.test(name)) continue;
    const upper = name.toUpperCase();
    let hint: string | undefined;
    let m: RegExpExecArray | null;
    if ((m = /^GEMINI_API_KEY(\d+)$/.exec(upper))) hint = `did you mean GEMINI_API_KEY_${m[1]}?`;
    else if ((m = /^GEMINI_API_KEYS_?(\d+)$/.exec(upper))) hint = `did you mean GEMINI_API_KEY_${m[1]} (or one more entry in GEMINI_API_KEYS)?`;
    else if (/^GEMINI_API_KEY_/.test(upper) && !/^GEMINI_API_KEY_\d+$/.test(upper)) hint = 'numbered keys are GEMINI_API_KEY_2, GEMINI_API_KEY_3 ... (digits only)';
    else if (ours.has(upper) || /^GEMINI_API_KEY_\d+$/.test(upper)) hint = `names are case-sensitive: did you mean ${upper}?`;
    else if (OTHER_NAMES[upper]) hint = `did you mean ${OTHER_NAMES[upper]}?`;
    else if (/^(GEMINI|DISCORD)_/.test(upper)) {
      const close = [...ours].map((o) => ({ o, d: distance(upper, o) })).filter((x) => x.d <= 2).sort((a, b) => a.d - b.d)[0];
      if (close) hint = `did you mean ${close.o}?`;
    }
    if (hint) warnings.push(`${name} is set but not read: ${hint}`);
  }
  if (keysFound === 0 && set('GOOGLE_API_KEY')) warnings.push('GOOGLE_API_KEY is set but not read: put the key in GEMINI_API_KEY (or GEMINI_API_KEYS)');
  for (const name of ['GOOGLE_GENAI_USE_VERTEXAI', 'GOOGLE_GENAI_USE_ENTERPRISE']) {
    if (env[name]?.trim().toLowerCase() === 'true') {
      warnings.push(`${name}=true makes @google/genai send requests to Vertex AI, not to the Gemini API these keys are for: unset it`);
    }
  }
  if (set('GOOGLE_GEMINI_BASE_URL') && !set('GEMINI_BASE_URL')) {
    warnings.push('GOOGLE_GEMINI_BASE_URL is set: @google/genai sends every request there; set GEMINI_BASE_URL instead, or unset it');
  }
  return warnings;
}
