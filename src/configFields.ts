/**
 * The kinds of variable the configuration schema is made of: each turns one string of the
 * environment into a typed value, or into an issue that names what is wrong and shows the
 * value only as `shown()` allows.
 */
import { z } from 'zod';
import { looksLikeGeminiKey, secretKind, shown } from './configEcho.ts';
import type { ModelLimits } from './config.ts';

/** A whole number within bounds, from a string variable, with a default. */
export const int = (min: number, def: number) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return def;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) {
        ctx.addIssue({ code: 'custom', message: `must be a whole number >= ${min} (got ${shown(v)})` });
        return z.NEVER;
      }
      return n;
    });

export const enumOf = <T extends string>(values: readonly T[], def: T) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return def;
      if (!(values as readonly string[]).includes(v)) {
        ctx.addIssue({ code: 'custom', message: `must be one of ${values.join(', ')} (got ${shown(v)})` });
        return z.NEVER;
      }
      return v as T;
    });

export const url = z
  .string()
  .trim()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v === '') return undefined;
    try {
      const u = new URL(v);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('protocol');
      return v.replace(/\/+$/, '');
    } catch {
      ctx.addIssue({ code: 'custom', message: `must be an http(s) URL (got ${shown(v)})` });
      return z.NEVER;
    }
  });

export const optionalInt = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return undefined;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be a whole number from ${min} to ${max} (got ${shown(v)})` });
        return z.NEVER;
      }
      return n;
    });

export const snowflake = z
  .string()
  .trim()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v === '') return undefined;
    if (!/^\d{5,25}$/.test(v)) {
      ctx.addIssue({ code: 'custom', message: `must be a Discord id (digits only; got ${shown(v)})` });
      return z.NEVER;
    }
    return v;
  });

export const snowflakes = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const ids = (v ?? '').split(/[,\s]+/).map((s) => s.trim()).filter(Boolean);
    const bad = ids.filter((id) => !/^\d{5,25}$/.test(id));
    if (bad.length > 0) {
      ctx.addIssue({ code: 'custom', message: `must be Discord user ids separated by commas (got ${bad.map(shown).join(', ')})` });
      return z.NEVER;
    }
    return ids;
  });

/** `model:rpm=10,rpd=250;other:rpm=5`: limits per model. */
export const modelLimits = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const out: Record<string, ModelLimits> = {};
    const entries = (v ?? '').split(';').map((s) => s.trim()).filter(Boolean);
    for (const [i, entry] of entries.entries()) {
      const m = /^([^:\s]+)\s*:\s*(.+)$/.exec(entry);
      const limits: ModelLimits = {};
      const pairs = m ? m[2]!.split(',').map((p) => p.trim()) : [];
      const ok =
        m !== null &&
        pairs.every((p) => {
          const kv = /^(rpm|rpd|tpm)\s*=\s*(\d+)$/.exec(p);
          if (!kv || Number(kv[2]) < 1) return false;
          limits[kv[1] as keyof ModelLimits] = Number(kv[2]);
          return true;
        });
      if (!ok) {
        ctx.addIssue({ code: 'custom', message: `entry ${i + 1} must look like model:rpm=10,rpd=250 (got ${shown(entry)})` });
        return z.NEVER;
      }
      out[m![1]!] = limits;
    }
    return out;
  });

export const shardCount = z
  .string()
  .trim()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v === '' || v === 'auto') return 'auto' as const;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) {
      ctx.addIssue({ code: 'custom', message: `must be "auto" or a whole number >= 1 (got ${shown(v)})` });
      return z.NEVER;
    }
    return n;
  });

/** Model names, comma-separated: they are shown to Discord users, so never a secret. */
export const models = (def: string[]) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      const items = (v ?? '').split(/[,\n]/).map((s) => s.trim()).filter(Boolean);
      for (const [i, item] of items.entries()) {
        if (secretKind(item) || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(item)) {
          ctx.addIssue({ code: 'custom', message: `entry ${i + 1} is not a model name like gemini-2.5-flash (got ${shown(item)})` });
          return z.NEVER;
        }
      }
      return items.length > 0 ? [...new Set(items)] : def;
    });

/** The bot token: free-form, but a Gemini key there is a mix-up worth saying. */
export const discordToken = z
  .string()
  .trim()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v === '') return undefined;
    if (looksLikeGeminiKey(v)) {
      ctx.addIssue({ code: 'custom', message: 'looks like a Gemini API key, not a Discord bot token (Developer Portal -> your application -> Bot -> Reset Token)' });
      return z.NEVER;
    }
    return v;
  });

/** A Redis URL: redis:// or rediss://. */
export const redisUrl = z
  .string()
  .trim()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v === '') return undefined;
    if (!/^rediss?:\/\//.test(v)) {
      ctx.addIssue({ code: 'custom', message: 'must start with redis:// or rediss://' });
      return z.NEVER;
    }
    return v;
  });

/** Shard numbers, comma-separated, without duplicates. */
export const shardIds = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const items = (v ?? '').split(',').map((x) => x.trim()).filter(Boolean);
    if (items.length === 0) return undefined;
    const ids = items.map(Number);
    if (ids.some((n) => !Number.isInteger(n) || n < 0)) {
      ctx.addIssue({ code: 'custom', message: `must be shard numbers separated by commas, e.g. 0,1 (got ${shown(v ?? '')})` });
      return z.NEVER;
    }
    return [...new Set(ids)];
  });

/** Yes or no: true/false, 1/0, yes/no, on/off (any case), with a default. */
export const bool = (def: boolean) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return def;
      const t = v.toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(t)) return true;
      if (['false', '0', 'no', 'off'].includes(t)) return false;
      ctx.addIssue({ code: 'custom', message: `must be true or false (got ${shown(v)})` });
      return z.NEVER;
    });

/** A host name or address to listen on. */
export const host = (def: string) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return def;
      if (!/^[A-Za-z0-9.:_-]+$/.test(v) || secretKind(v)) {
        ctx.addIssue({ code: 'custom', message: `must be a host name or an address such as 127.0.0.1 or 0.0.0.0 (got ${shown(v)})` });
        return z.NEVER;
      }
      return v;
    });

/**
 * `token:web-app=3,discord:guild:123=2,cli=0.5`: fair-share weights of clients, keyed by the
 * pool's client names (a gateway token's client is its bare name).
 */
export const clientWeights = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const out: Record<string, number> = {};
    const entries = (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    for (const [i, entry] of entries.entries()) {
      const m = /^(token:[A-Za-z0-9._-]{1,64}|discord:(?:user|guild):\d{5,25}|cli)\s*=\s*(\d+(?:\.\d+)?)$/.exec(entry);
      const weight = m ? Number(m[2]) : NaN;
      if (!m || !(weight > 0) || secretKind(entry)) {
        ctx.addIssue({ code: 'custom', message: `entry ${i + 1} must look like token:NAME=3, discord:guild:ID=2, discord:user:ID=2 or cli=1, with a weight > 0 (got ${shown(entry)})` });
        return z.NEVER;
      }
      out[m[1]!.startsWith('token:') ? m[1]!.slice('token:'.length) : m[1]!] = weight;
    }
    return out;
  });

/**
 * A password of the dashboard: at least 12 characters. Never shown in a message, not even
 * its length (a short one is one step from guessed).
 */
export const dashboardPassword = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v === '') return undefined;
    if (v.length < 12) {
      ctx.addIssue({ code: 'custom', message: 'must be at least 12 characters (a longer passphrase is better; or set DASHBOARD_PASSWORD_HASH, made by `npm run cli -- dashboard hash-password`)' });
      return z.NEVER;
    }
    return v;
  });

/** A scrypt hash as `npm run cli -- dashboard hash-password` prints it: `scrypt$LOGN$R$P$SALT$HASH` (base64url). */
export const PASSWORD_HASH_SHAPE = /^scrypt\$(1[0-9]|2[0-2])\$([1-9][0-9]?)\$([1-9][0-9]?)\$([A-Za-z0-9_-]{22,})\$([A-Za-z0-9_-]{43,})$/;

export const dashboardPasswordHash = z
  .string()
  .trim()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v === '') return undefined;
    if (!PASSWORD_HASH_SHAPE.test(v)) {
      ctx.addIssue({ code: 'custom', message: 'is not a hash made by `npm run cli -- dashboard hash-password` (it looks like scrypt$15$8$1$...$...)' });
      return z.NEVER;
    }
    return v;
  });

/** The secret the keys added at runtime are encrypted with: at least 16 characters, never shown. */
export const stateSecret = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v.trim() === '') return undefined;
    if (v.trim().length < 16) {
      ctx.addIssue({ code: 'custom', message: 'must be at least 16 characters (for example the output of `openssl rand -base64 32`)' });
      return z.NEVER;
    }
    return v.trim();
  });
