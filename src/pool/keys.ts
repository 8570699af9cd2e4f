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
  /** `config`: given to the pool when it was built (the environment); `added`: added while it runs. */
  source: 'config' | 'added';
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
  /**
   * Every key the pool ever had, by index: a removed key keeps its index (and its secret,
   * for requests still on it and for redaction) but is never picked again.
   */
  readonly keys: readonly PoolKey[];
  readonly #keys: PoolKey[] = [];
  readonly #secrets: string[] = [];
  /** Indexes of removed keys. */
  readonly #retired = new Set<number>();
  /** Secret -> index, of the keys in use. */
  readonly #bySecret = new Map<string, number>();
  /** The keys in use, rebuilt on the first read after a change. */
  #live: readonly PoolKey[] | undefined;

  constructor(specs: ReadonlyArray<KeySpec | string>) {
    this.keys = this.#keys;
    for (const raw of specs) {
      const spec = typeof raw === 'string' ? parseKeySpec(raw) : raw;
      const key = spec.key.trim();
      if (!key || this.find(key) !== undefined) continue;
      this.#push({ key, ...(spec.group !== undefined ? { group: spec.group } : {}) }, 'config');
    }
    if (this.#keys.length === 0) throw new TypeError('GeminiAPIPool: `keys` must hold at least one API key');
  }

  #push(spec: KeySpec, source: PoolKey['source']): PoolKey {
    const index = this.#keys.length;
    const group = spec.group?.trim();
    const k: PoolKey = {
      index,
      id: `key#${index + 1}`,
      hint: spec.key.slice(-4),
      // Stable across processes and restarts: shared stores report usage by group.
      group: group ? `project:${group}` : `own:${hashKey(spec.key)}`,
      groupLabel: group || 'own',
      hash: hashKey(spec.key),
      source,
    };
    this.#keys.push(k);
    this.#secrets.push(spec.key);
    this.#bySecret.set(spec.key, index);
    this.#live = undefined;
    return k;
  }

  /** The keys in use (removed ones left out), in index order. */
  get live(): readonly PoolKey[] {
    return (this.#live ??= this.#keys.filter((x) => !this.#retired.has(x.index)));
  }

  /** Whether the key at `index` was removed. */
  isRetired(index: number): boolean {
    return this.#retired.has(index);
  }

  /** The key in use whose secret is `key`, if any. */
  find(key: string): PoolKey | undefined {
    const index = this.#bySecret.get(key.trim());
    return index === undefined ? undefined : this.#keys[index];
  }

  /**
   * Appends a key (a new index, even for a secret that was removed before).
   * @throws TypeError when the key is empty or already in use (naming its `key#N`).
   */
  add(spec: KeySpec): PoolKey {
    const key = spec.key.trim();
    if (!key) throw new TypeError('GeminiAPIPool: an empty key cannot be added');
    const there = this.find(key);
    if (there) throw new TypeError(`GeminiAPIPool: that key is already in the pool as ${there.id}`);
    return this.#push({ key, ...(spec.group !== undefined ? { group: spec.group } : {}) }, 'added');
  }

  /** Marks a key removed: it keeps its index and is never picked again. */
  retire(index: number): void {
    if (!this.#keys[index]) throw new RangeError(`no key at index ${index}`);
    if (this.#retired.has(index)) return;
    this.#retired.add(index);
    this.#bySecret.delete(this.#secrets[index]!);
    this.#live = undefined;
  }

  secret(index: number): string {
    const s = this.#secrets[index];
    if (s === undefined) throw new RangeError(`no key at index ${index}`);
    return s;
  }

  /** Replaces every key the pool ever had (and any 8+ character tail of one) in `text` by its id. */
  redact(text: string): string {
    let out = text;
    for (let i = 0; i < this.#secrets.length; i++) {
      const s = this.#secrets[i]!;
      if (out.includes(s)) out = out.split(s).join(this.#keys[i]!.id);
      const tail = s.slice(-8);
      if (s.length > 8 && out.includes(tail)) out = out.split(tail).join(this.#keys[i]!.id);
    }
    return out;
  }
}
