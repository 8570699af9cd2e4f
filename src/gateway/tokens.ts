/**
 * Client tokens of the gateway: made here, shown once, stored only as their SHA-256 and a
 * short prefix, checked in constant time. Tokens live in the store, so with Redis every
 * process sees a new or revoked token within a second (the lookup cache is at most
 * `cacheMs` old, failed lookups included).
 */
import { createHash, randomBytes as cryptoRandomBytes, timingSafeEqual } from 'node:crypto';
import { looksLikeGeminiKey, shown } from '../configEcho.ts';
import { pacificDay } from '../pool/time.ts';
import type { ClientUsage, GatewayStore, StoredToken, TokenLimits } from '../store/gatewayTypes.ts';

/** Every token starts with this, so people (and secret scanners) know what it is. */
export const TOKEN_PREFIX = 'gp-';
/** Random bytes in a token: 256 bits. */
const TOKEN_BYTES = 32;
/** A whole token: the prefix and 32 bytes in base64url (43 characters). */
const TOKEN_SHAPE = /^gp-[A-Za-z0-9_-]{43}$/;
/** Characters of a token kept to recognise it in a list (`gp-` and 4 more). */
const SHOWN_PREFIX_CHARS = 7;
const NAME = /^[A-Za-z0-9._-]{1,64}$/;
const LIMIT_NAMES = ['rpm', 'rpd', 'tpd'] as const;

/** What {@link TokenRegistry.authenticate} found. */
export type AuthResult = { ok: true; token: StoredToken } | { ok: false; reason: 'unknown' | 'revoked' | 'expired' };

/** A token to make. */
export interface NewToken {
  name: string;
  /** Models it may use; absent: every served model. */
  models?: string[];
  limits?: TokenLimits;
  /** It stops working this long after it is made; absent: never. */
  expiresInMs?: number;
}

/** A change of a token: absent fields stay, `null` clears (every model, no limit, no expiry). */
export interface TokenChange {
  models?: string[] | null;
  limits?: { [L in keyof TokenLimits]?: number | null };
  expiresInMs?: number | null;
}

/** A token as `list` shows it: never its hash. */
export interface TokenListing {
  name: string;
  prefix: string;
  models?: string[];
  limits: TokenLimits;
  createdAt: number;
  expiresAt?: number;
  revokedAt?: number;
  status: 'active' | 'revoked' | 'expired';
  /** Usage of the current Pacific day. */
  today: ClientUsage;
  total: ClientUsage;
}

/** Options of {@link TokenRegistry}. */
export interface TokenRegistryOptions {
  /**
   * The clock.
   * @default Date.now
   */
  now?: () => number;
  /**
   * How long a lookup (found or not) is reused before the store is asked again.
   * @default 1000
   */
  cacheMs?: number;
  /**
   * Lookups kept at most, so random tokens cannot grow the cache without bound.
   * @default 10000
   */
  maxCached?: number;
  /**
   * Where the token's randomness comes from.
   * @default crypto.randomBytes
   */
  randomBytes?: (size: number) => Buffer;
}

/** SHA-256 of a token, hex: what the store keeps. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * A token name, checked: 1-64 characters of A-Z a-z 0-9 . _ -, and not a key or a token.
 * @throws TypeError saying what is wrong (never echoing a value that looks like a secret).
 */
export function validateTokenName(name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    const got = typeof name === 'string' ? (name === '' ? 'an empty name' : shown(name)) : typeof name;
    throw new TypeError(`token name must be 1-64 characters of A-Z a-z 0-9 . _ - (got ${got})`);
  }
  if (looksLikeGeminiKey(name) || TOKEN_SHAPE.test(name)) {
    throw new TypeError('token name looks like a key or a token: choose a name that says who uses it (for example web-app)');
  }
  return name;
}

function validateLimit(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new TypeError(`${name} must be a whole number >= 1 (got ${String(v)})`);
  return v;
}

function validateModels(models: unknown): string[] {
  if (!Array.isArray(models) || models.length === 0 || !models.every((m) => typeof m === 'string' && m.trim() !== '')) {
    throw new TypeError('models must be a non-empty list of model names');
  }
  return [...new Set(models.map((m: string) => m.trim()))];
}

function validateDurationMs(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new TypeError(`${name} must be a number of ms > 0 (got ${String(v)})`);
  return v;
}

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/**
 * A duration as people write it: `90s`, `90m`, `12h`, `30d`, `2w`, in ms.
 * @throws TypeError naming the accepted forms.
 */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$/.exec(text);
  const ms = m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : Number.NaN;
  if (!(ms > 0) || !Number.isFinite(ms)) {
    throw new TypeError(`a duration is a number and a unit s, m, h, d or w, such as 90m, 12h or 30d (got ${shown(text)})`);
  }
  return Math.round(ms);
}

/** Whether a token is revoked or expired at `now`, or active. */
export function tokenStatus(t: StoredToken, now: number): TokenListing['status'] {
  if (t.revokedAt !== undefined) return 'revoked';
  if (t.expiresAt !== undefined && now >= t.expiresAt) return 'expired';
  return 'active';
}

/** Client tokens over a {@link GatewayStore}. */
export class TokenRegistry {
  private readonly now: () => number;
  private readonly cacheMs: number;
  private readonly maxCached: number;
  private readonly randomBytes: (size: number) => Buffer;
  /** hash -> the last lookup; Map order is the order of lookups, oldest first. */
  private readonly cache = new Map<string, { at: number; token: StoredToken | undefined }>();

  constructor(
    private readonly store: GatewayStore,
    options: TokenRegistryOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.cacheMs = options.cacheMs ?? 1_000;
    this.maxCached = options.maxCached ?? 10_000;
    this.randomBytes = options.randomBytes ?? cryptoRandomBytes;
    if (!(this.cacheMs >= 0 && this.cacheMs <= 1_000)) throw new TypeError(`TokenRegistry: \`cacheMs\` must be 0-1000 (got ${this.cacheMs})`);
    if (!(Number.isInteger(this.maxCached) && this.maxCached >= 1)) throw new TypeError(`TokenRegistry: \`maxCached\` must be an integer >= 1 (got ${this.maxCached})`);
  }

  /**
   * Makes a token and stores its hash. The token itself is in the result only: show it
   * once, it cannot be recovered.
   * @throws TypeError for a bad name, model list, limit or expiry; StoreRejectedError when
   *   a token of that name exists (a revoked one keeps its name).
   */
  async create(input: NewToken): Promise<{ token: string; record: StoredToken }> {
    const name = validateTokenName(input.name);
    const limits: TokenLimits = {};
    for (const l of LIMIT_NAMES) if (input.limits?.[l] !== undefined) limits[l] = validateLimit(l, input.limits[l]);
    const createdAt = this.now();
    const token = TOKEN_PREFIX + this.randomBytes(TOKEN_BYTES).toString('base64url');
    const record: StoredToken = { name, hash: hashToken(token), prefix: token.slice(0, SHOWN_PREFIX_CHARS), limits, createdAt };
    if (input.models !== undefined) record.models = validateModels(input.models);
    if (input.expiresInMs !== undefined) record.expiresAt = createdAt + validateDurationMs('expiresInMs', input.expiresInMs);
    await this.store.createToken(record);
    return { token, record };
  }

  /**
   * The stored token a client presented, or why it does not work. The store is asked at
   * most once per `cacheMs` per token; when it cannot be reached, the last answer known for
   * that token stands.
   * @throws the store's error when it cannot be reached and this token was never looked up.
   */
  async authenticate(presented: string): Promise<AuthResult> {
    // Not a token of ours at all: no lookup, no cache entry.
    if (typeof presented !== 'string' || !TOKEN_SHAPE.test(presented)) return { ok: false, reason: 'unknown' };
    const hash = hashToken(presented);
    const token = await this.lookup(hash);
    if (!token) return { ok: false, reason: 'unknown' };
    // The store found it by hash; the comparison that decides takes the same time whatever it holds.
    const stored = Buffer.from(token.hash, 'hex');
    const given = Buffer.from(hash, 'hex');
    if (stored.length !== given.length || !timingSafeEqual(stored, given)) return { ok: false, reason: 'unknown' };
    const status = tokenStatus(token, this.now());
    return status === 'active' ? { ok: true, token } : { ok: false, reason: status };
  }

  private async lookup(hash: string): Promise<StoredToken | undefined> {
    const now = this.now();
    const cached = this.cache.get(hash);
    if (cached && now - cached.at < this.cacheMs) return cached.token;
    let token: StoredToken | undefined;
    try {
      token = await this.store.tokenByHash(hash);
    } catch (e) {
      if (cached) return cached.token;
      throw e;
    }
    this.cache.delete(hash);
    this.cache.set(hash, { at: now, token });
    for (const oldest of this.cache.keys()) {
      if (this.cache.size <= this.maxCached) break;
      this.cache.delete(oldest);
    }
    return token;
  }

  /** Forgets what was looked up for a token of this name, so this process sees its own change at once. */
  private forget(name: string): void {
    for (const [hash, entry] of this.cache) if (entry.token?.name === name) this.cache.delete(hash);
  }

  /** Whether a token may use a model. */
  allows(token: StoredToken, model: string): boolean {
    return token.models === undefined || token.models.includes(model);
  }

  /** Every token, revoked ones included, with its usage today (Pacific day) and in total; never a hash. */
  async list(): Promise<TokenListing[]> {
    const now = this.now();
    const day = pacificDay(now);
    const tokens = await this.store.listTokens();
    return Promise.all(
      tokens.map(async (t) => {
        const usage = await this.store.clientUsage(t.name, day);
        const out: TokenListing = {
          name: t.name,
          prefix: t.prefix,
          status: tokenStatus(t, now),
          ...(t.models ? { models: [...t.models] } : {}),
          limits: { ...t.limits },
          createdAt: t.createdAt,
          ...(t.expiresAt !== undefined ? { expiresAt: t.expiresAt } : {}),
          ...(t.revokedAt !== undefined ? { revokedAt: t.revokedAt } : {}),
          today: usage.day,
          total: usage.total,
        };
        return out;
      }),
    );
  }

  /** Revokes a token for good; false when there is no live token of that name. */
  async revoke(name: string): Promise<boolean> {
    const done = await this.store.revokeToken(name, this.now());
    this.forget(name);
    return done;
  }

  /**
   * Changes a token's models, limits or expiry (an expiry counts from now); false when
   * there is no token of that name.
   * @throws TypeError for a bad model list, limit or expiry.
   */
  async update(name: string, change: TokenChange): Promise<boolean> {
    const stored: Parameters<GatewayStore['updateToken']>[1] = {};
    if (change.models !== undefined) stored.models = change.models === null ? undefined : validateModels(change.models);
    if (change.expiresInMs !== undefined) {
      stored.expiresAt = change.expiresInMs === null ? undefined : this.now() + validateDurationMs('expiresInMs', change.expiresInMs);
    }
    const limits = change.limits;
    if (limits !== undefined) for (const l of LIMIT_NAMES) if (limits[l] !== undefined && limits[l] !== null) validateLimit(l, limits[l]);
    const current = await this.store.tokenByName(name);
    if (!current) return false;
    if (limits !== undefined) {
      const next: TokenLimits = { ...current.limits };
      for (const l of LIMIT_NAMES) {
        const v = limits[l];
        if (v === null) delete next[l];
        else if (v !== undefined) next[l] = v;
      }
      stored.limits = next;
    }
    const done = await this.store.updateToken(name, stored);
    this.forget(name);
    return done;
  }
}
