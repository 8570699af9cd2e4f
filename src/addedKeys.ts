/**
 * Keys operators add while the bot runs (the dashboard, `npm run cli -- keys add`): checked
 * with a cheap call before they join, sealed with AES-256-GCM under a key derived from
 * STATE_SECRET, kept in the store (so they survive restarts and every process sharing the
 * store uses them), and followed by every pool through `watchKeys`. Keys of the
 * configuration are never stored here and never removed here.
 *
 * A key never leaves this module in clear except to the pool: results name keys by `key#N`
 * and their last four characters only.
 */
import { createCipheriv, createDecipheriv, randomBytes, scrypt as scryptCb } from 'node:crypto';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { keyProblem, stripQuotes } from './configKeys.ts';
import { isNetworkFailure } from './endpoint.ts';
import type { Classified } from './gemini/classify.ts';
import type { GeminiAPIPool, KeyList } from './pool/GeminiAPIPool.ts';
import { hashKey, parseKeySpec, type KeySpec } from './pool/keys.ts';
import type { DashboardStore } from './store/dashboardTypes.ts';
import { isStoreRejectedError } from './store/errors.ts';

const scrypt = promisify(scryptCb) as (password: string, salt: string, keylen: number, options: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;

/** How often every process reads the added keys: a key added or removed anywhere is used or dropped within it. */
export const ADDED_KEYS_POLL_MS = 500;
/** Keys checked at once while adding. */
const CHECK_CONCURRENCY = 4;
/** Most keys one paste may hold. */
export const MAX_KEYS_PER_ADD = 100;
/** Fixed salt: one STATE_SECRET must give the same key in every process. */
const KDF_SALT = 'gemini-pool: keys added at runtime, v1';
const SEALED = /^v1\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/;

/** The message of every refusal to add or remove keys without STATE_SECRET. */
export const NO_STATE_SECRET =
  'STATE_SECRET is not set: keys added at runtime are stored encrypted with it. Set STATE_SECRET (16 characters or more, for example `openssl rand -base64 32`) in every process that shares the store, then add the keys again';

/** Seals and opens keys with AES-256-GCM under a key derived from STATE_SECRET (scrypt). */
export class KeyVault {
  readonly #key: Buffer;

  private constructor(key: Buffer) {
    this.#key = key;
  }

  /** Derives the vault's key from the secret (about 0.1 s of CPU, once per process). */
  static async open(stateSecret: string): Promise<KeyVault> {
    if (typeof stateSecret !== 'string' || stateSecret.trim().length < 16) throw new TypeError('KeyVault: the secret must be at least 16 characters');
    return new KeyVault(await scrypt(stateSecret.trim(), KDF_SALT, 32, { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }));
  }

  /** The key sealed, bound to its hash (a sealed key copied onto another record does not open). A fresh IV every time. */
  seal(key: string, hash: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(hash, 'utf8'));
    const data = Buffer.concat([cipher.update(key, 'utf8'), cipher.final()]);
    return `v1.${iv.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}.${data.toString('base64url')}`;
  }

  /**
   * The key a record holds.
   * @throws Error (naming no key) when it was sealed with another secret or was changed.
   */
  unseal(sealed: string, hash: string): string {
    const m = SEALED.exec(sealed);
    if (!m) throw new Error('not a sealed key');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(m[1]!, 'base64url'));
    decipher.setAAD(Buffer.from(hash, 'utf8'));
    decipher.setAuthTag(Buffer.from(m[2]!, 'base64url'));
    try {
      return Buffer.concat([decipher.update(Buffer.from(m[3]!, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new Error('cannot be opened with this STATE_SECRET (it was sealed with another one, or changed)');
    }
  }
}

/**
 * The stored added keys as `pool.watchKeys` reads them: each opened once. A record that does
 * not open (another STATE_SECRET) is left out, with one warning per record.
 */
export function storedKeyList(store: DashboardStore, vault: KeyVault, log: Logger): KeyList {
  const opened = new Map<string, KeySpec>();
  const warned = new Set<string>();
  return async () => {
    const records = await store.listApiKeys();
    const specs: KeySpec[] = [];
    for (const r of records) {
      let spec = opened.get(r.hash);
      if (!spec) {
        try {
          const key = vault.unseal(r.sealed, r.hash);
          spec = { key, ...(r.group !== undefined ? { group: r.group } : {}) };
          opened.set(r.hash, spec);
        } catch (err) {
          if (!warned.has(r.hash)) log.warn({ key: `...${r.hint}`, err: (err as Error).message }, 'a key added at runtime is not used');
          warned.add(r.hash);
          continue;
        }
      }
      specs.push(spec);
    }
    return specs;
  };
}

/** What a key check found, in words an operator knows. */
export function keyVerdict(error: Classified | undefined): string {
  if (!error) return 'valid';
  if (isNetworkFailure(error)) return 'unreachable';
  if (error.kind === 'auth') return error.reason === 'API_KEY_INVALID' || error.status === 400 || error.status === 401 ? 'invalid' : 'suspended';
  if (error.kind === 'billing') return 'billing';
  if (error.kind === 'rate_limited' || error.kind === 'quota_exhausted') return 'rate-limited';
  return `error (${error.kind})`;
}

/** One line of a paste: a key (with its project) or why it cannot be one. */
export type KeyLine = { line: number; spec: KeySpec } | { line: number; problem: string };

/**
 * Keys as people paste them: one per line or comma-separated, `project:key` or a bare key
 * (which gets `project`, when given); quotes around a key are removed, `#` lines skipped.
 */
export function parseKeyInput(text: string, project?: string): KeyLine[] {
  const group = project?.trim() || undefined;
  const out: KeyLine[] = [];
  const entries = text.split(/\r?\n/).flatMap((l, i) => l.split(',').map((part) => ({ line: i + 1, raw: part.trim() })));
  for (const { line, raw } of entries) {
    if (!raw || raw.startsWith('#')) continue;
    const spec = parseKeySpec(stripQuotes(raw));
    const key = stripQuotes(spec.key);
    const problem = keyProblem(key);
    if (problem) out.push({ line, problem: `line ${line}: ${problem}` });
    else if (spec.group !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(spec.group)) out.push({ line, problem: `line ${line}: the project before the key must be 1-64 characters of A-Z a-z 0-9 . _ -` });
    else out.push({ line, spec: { key, ...((spec.group ?? group) !== undefined ? { group: spec.group ?? group! } : {}) } });
  }
  return out;
}

/** What happened to each key of an add. */
export interface AddKeysResult {
  /** Keys now in the store (and in this process's pool when it follows the store). */
  added: Array<{ hint: string; group: string; keyId?: string }>;
  /** Keys not added, each with why: a line that is no key, a duplicate, or the check's verdict. */
  refused: Array<{ hint?: string; reason: string }>;
}

/** What adding and removing keys works on. */
export interface AddedKeysDeps {
  pool: GeminiAPIPool;
  store: DashboardStore;
  /** Undefined without STATE_SECRET: then nothing is added or removed. */
  vault: KeyVault | undefined;
  now: () => number;
}

/** Runs `work` over `items`, at most `limit` at once, results in order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i]!);
    }
  });
  await Promise.all(lanes);
  return out;
}

/**
 * Adds pasted keys: each is checked with a cheap call (`probeKey`) and only a key that
 * answers (a rate-limited answer counts: the key works) is sealed and stored; then this
 * process's pool reads the store at once (`syncKeys`), and the others within
 * {@link ADDED_KEYS_POLL_MS}.
 * @throws Error with {@link NO_STATE_SECRET} when there is no vault; the store's errors.
 */
export async function addKeys(deps: AddedKeysDeps, text: string, project?: string): Promise<AddKeysResult> {
  if (!deps.vault) throw new Error(NO_STATE_SECRET);
  const vault = deps.vault;
  const result: AddKeysResult = { added: [], refused: [] };
  const lines = parseKeyInput(text, project);
  if (lines.length > MAX_KEYS_PER_ADD) {
    result.refused.push({ reason: `at most ${MAX_KEYS_PER_ADD} keys at once (got ${lines.length})` });
    return result;
  }
  const stored = new Set((await deps.store.listApiKeys()).map((k) => k.hash));
  const seen = new Set<string>();
  const candidates: KeySpec[] = [];
  for (const l of lines) {
    if ('problem' in l) {
      result.refused.push({ reason: l.problem });
      continue;
    }
    const hint = l.spec.key.slice(-4);
    const hash = hashKey(l.spec.key);
    const inPool = deps.pool.keys.find((k) => k.hash === hash);
    if (seen.has(hash)) result.refused.push({ hint, reason: 'given twice' });
    else if (inPool) result.refused.push({ hint, reason: `already in the pool as ${inPool.id}${inPool.source === 'config' ? ' (from the configuration)' : ''}` });
    else if (stored.has(hash)) result.refused.push({ hint, reason: 'added already' });
    else candidates.push(l.spec);
    seen.add(hash);
  }
  const checks = await mapLimited(candidates, CHECK_CONCURRENCY, (spec) => deps.pool.probeKey(spec.key));
  for (const [i, spec] of candidates.entries()) {
    const check = checks[i]!;
    const verdict = keyVerdict(check.ok ? undefined : check.error);
    const hint = spec.key.slice(-4);
    if (verdict !== 'valid' && verdict !== 'rate-limited') {
      const why = verdict === 'unreachable' && !check.ok ? `Gemini could not be reached to check it (${check.error.message})` : `the check says: ${verdict}`;
      result.refused.push({ hint, reason: why });
      continue;
    }
    const hash = hashKey(spec.key);
    try {
      await deps.store.addApiKey({ hash, hint, ...(spec.group !== undefined ? { group: spec.group } : {}), sealed: vault.seal(spec.key, hash), addedAt: deps.now() });
    } catch (err) {
      if (!isStoreRejectedError(err)) throw err;
      result.refused.push({ hint, reason: 'added already' });
      continue;
    }
    result.added.push({ hint, group: spec.group ?? 'own' });
  }
  if (result.added.length > 0) {
    await deps.pool.syncKeys();
    for (const a of result.added) {
      const k = deps.pool.keys.find((p) => p.source === 'added' && p.hint === a.hint && p.groupLabel === a.group);
      if (k) a.keyId = k.id;
    }
  }
  return result;
}

/**
 * Removes a key an operator added, named by its `key#N` in this process or by its last four
 * characters (unique among the added keys): from the store, then from this process's pool
 * at once and from the others within {@link ADDED_KEYS_POLL_MS}.
 * @returns the removed key's hint, or why nothing was removed.
 * @throws Error with {@link NO_STATE_SECRET} when there is no vault; the store's errors.
 */
export async function removeAddedKey(deps: AddedKeysDeps, which: string): Promise<{ ok: true; hint: string } | { ok: false; reason: string }> {
  if (!deps.vault) throw new Error(NO_STATE_SECRET);
  const name = which.trim();
  const records = await deps.store.listApiKeys();
  const poolKey = deps.pool.keys.find((k) => k.id === name);
  let hash: string | undefined;
  if (poolKey) {
    if (poolKey.source !== 'added') return { ok: false, reason: `${poolKey.id} comes from the configuration (the environment): change GEMINI_API_KEYS and restart to remove it` };
    hash = poolKey.hash;
  } else {
    const hint = name.replace(/^\.\.\./, '');
    const matches = records.filter((r) => r.hint === hint);
    if (matches.length > 1) return { ok: false, reason: `${matches.length} added keys end in ${hint}: name it by its key#N` };
    hash = matches[0]?.hash;
  }
  const record = records.find((r) => r.hash === hash);
  if (!record) return { ok: false, reason: `no added key ${/^key#\d+$/.test(name) ? name : `ending in ${name.replace(/^\.\.\./, '').slice(-4)}`}` };
  await deps.store.removeApiKey(record.hash);
  await deps.pool.syncKeys();
  return { ok: true, hint: record.hint };
}

/**
 * Makes `pool` follow the added keys of `store` (when STATE_SECRET is set): read now, then
 * every {@link ADDED_KEYS_POLL_MS} until the pool closes. Without STATE_SECRET, stored keys
 * cannot be opened: one warning says how many are not used. Returns the vault, if any.
 */
export async function followAddedKeys(pool: GeminiAPIPool, store: DashboardStore, stateSecret: string | undefined, log: Logger): Promise<KeyVault | undefined> {
  if (!stateSecret) {
    const stored = await store.listApiKeys().catch(() => []);
    if (stored.length > 0) log.warn({ keys: stored.length }, 'keys added at runtime are not used: STATE_SECRET is not set');
    return undefined;
  }
  const vault = await KeyVault.open(stateSecret);
  await pool.watchKeys(storedKeyList(store, vault, log), ADDED_KEYS_POLL_MS).catch((err: unknown) => {
    // The store being away at start is not fatal: the pool serves the configured keys and reads again.
    log.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not read the keys added at runtime; trying again');
  });
  return vault;
}
