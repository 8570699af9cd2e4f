/**
 * How a configuration value may appear in an error or a warning. People paste secrets into
 * the wrong variable (a bot token as DISCORD_APPLICATION_ID, a key as DISCORD_GUILD_ID), and
 * errors end up in terminals, CI logs and issue reports: a message quotes a value only when
 * it is short and does not look like a secret, and otherwise says what the value looks like.
 */

/** Longest value a message quotes. */
export const MAX_QUOTED_CHARS = 20;

/** A Gemini API key: `AIza` and 35 more characters of [A-Za-z0-9_-] (allowing some slack). */
const GEMINI_KEY = /^AIza[0-9A-Za-z_-]{30,}$/;
/** A Discord bot token: three base64url parts joined by dots (id, timestamp, HMAC). */
const DISCORD_TOKEN = /^[A-Za-z0-9_-]{18,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}$/;

/** Whether a value has the shape of a real Gemini API key. */
export const looksLikeGeminiKey = (value: string): boolean => GEMINI_KEY.test(value.trim());

/** What a value looks like, when it looks like a secret; undefined otherwise. */
export function secretKind(value: string): string | undefined {
  const v = value.trim().replace(/^["'“”‘’]+|["'“”‘’]+$/g, '');
  if (GEMINI_KEY.test(v)) return 'a Gemini API key (those belong in GEMINI_API_KEY or GEMINI_API_KEYS)';
  if (DISCORD_TOKEN.test(v)) return 'a Discord bot token (that belongs in DISCORD_TOKEN)';
  // Random-looking: long, no spaces, upper and lower case letters and digits mixed.
  if (v.length >= 16 && /^[A-Za-z0-9_\-+/=]+$/.test(v) && /[a-z]/.test(v) && /[A-Z]/.test(v) && /\d/.test(v)) return 'a key or token';
  return undefined;
}

/**
 * A value as a message may show it: `"ten"` when it is short and harmless, else what it
 * looks like (`a value that looks like a Gemini API key ...`, `a 64-character value`).
 */
export function shown(value: string): string {
  const kind = secretKind(value);
  if (kind) return `a value that looks like ${kind}`;
  const v = value.trim();
  if (v.length > MAX_QUOTED_CHARS || /[\r\n]/.test(v)) return `a ${v.length}-character value`;
  return `"${v}"`;
}

/**
 * A file path as a message may show it: resolved and in full when the value looks like a
 * path (it has a slash or a file extension; the operator needs to see which file was
 * meant), unless a part of it looks like a secret; any other value as {@link shown} shows it.
 */
export function shownPath(raw: string, resolved: string): string {
  const kind = raw.split(/[\\/]/).map(secretKind).find((k) => k !== undefined);
  if (kind) return `a value that looks like ${kind}`;
  return /[\\/]/.test(raw) || /\.[A-Za-z0-9]{1,5}$/.test(raw.trim()) ? resolved : shown(raw);
}
