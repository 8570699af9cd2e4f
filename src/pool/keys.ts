/**
 * Keys as the pool sees them: an id (`key#N`), a four-character hint, a quota group and a
 * hash for persistence. The secret itself lives only in {@link KeyRing}.
 */
import { createHash } from 'node:crypto';

/** A key as configured: the secret and, optionally, its Google Cloud project. */
export interface KeySpec {
  key: string;
  group?: string;
}

/** Public face of a key: safe to log, show and persist. */
export interface PoolKey {
  /** 0-based position in the configured order. */
  index: number;
  /** `key#N`, 1-based. */
  id: string;
  /** Last four characters. */
  hint: string;
  /** Quota group: keys of one project share one quota. */
  group: string;
  /** Group as shown to operators: the configured project name, or `own`. */
  groupLabel: string;
  /** SHA-256 of the key (hex, 32 chars): the only form persisted. */
  hash: string;
}

/**
 * Parses `group:key` (a key with its project) or a bare key. Gemini keys never contain a
 * colon, so the last colon separates the group.
 */
export function parseKeySpec(raw: string): KeySpec {
  const s = raw.trim();
  const colon = s.lastIndexOf(':');
  if (colon > 0 && colon < s.length - 1) return { key: s.slice(colon + 1).trim(), group: s.slice(0, colon).trim() };
  return { key: s };
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 32);
}

/**
 * Replaces every secret (a key, the bot token) in `text` by `[redacted]`: a last line of
 * defence for text that leaves the process. Secrets shorter than 8 characters are left
 * alone, as they could be ordinary words.
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 8 && out.includes(s)) out = out.split(s).join('[redacted]');
  return out;
}

/** `key#3 (...abcd)`: the only way a key is ever written out. */
export function describeKey(k: PoolKey): string {
  return `${k.id} (...${k.hint})`;
}

/** Holds the secrets and removes them from any text that might echo one. */
export class KeyRing {
  readonly keys: readonly PoolKey[];
  readonly #secrets: readonly string[];

  constructor(specs: ReadonlyArray<KeySpec | string>) {
    const seen = new Set<string>();
    const keys: PoolKey[] = [];
    const secrets: string[] = [];
    for (const raw of specs) {
      const spec = typeof raw === 'string' ? parseKeySpec(raw) : raw;
      const key = spec.key.trim();
      if (!key || seen.has(key)) continue;
      seen.add(key);
      const index = keys.length;
      const group = spec.group?.trim();
      keys.push({
        index,
        id: `key#${index + 1}`,
        hint: key.slice(-4),
        // Stable across processes and restarts: shared stores report usage by group.
        group: group ? `project:${group}` : `own:${hashKey(key)}`,
        groupLabel: group || 'own',
        hash: hashKey(key),
      });
      secrets.push(key);
    }
    if (keys.length === 0) throw new TypeError('GeminiAPIPool: `keys` must hold at least one API key');
    this.keys = keys;
    this.#secrets = secrets;
  }

  secret(index: number): string {
    const s = this.#secrets[index];
    if (s === undefined) throw new RangeError(`no key at index ${index}`);
    return s;
  }

  /** Replaces every configured key (and any 8+ character tail of one) in `text` by its id. */
  redact(text: string): string {
    let out = text;
    for (let i = 0; i < this.#secrets.length; i++) {
      const s = this.#secrets[i]!;
      if (out.includes(s)) out = out.split(s).join(this.keys[i]!.id);
      const tail = s.slice(-8);
      if (s.length > 8 && out.includes(tail)) out = out.split(tail).join(this.keys[i]!.id);
    }
    return out;
  }
}
