/**
 * Scripted stand-ins for the gateway's collaborators, to test the HTTP layer on its own:
 * a pool that answers what a test scripts, tokens from a list, limits that refuse on demand,
 * and a log that keeps its rows.
 */
import { createHash } from 'node:crypto';
import pino from 'pino';
import type { NativeBody, NativeRequest, NativeResult, NativeStream } from '../../src/pool/nativeTypes.ts';
import type { RequestLogRow, StoredToken, TokenLimits } from '../../src/store/gatewayTypes.ts';
import type { GatewayDeps, GatewayLimits, GatewayPool, GatewayTokens, TokenCheck } from '../../src/gateway/deps.ts';

/** What the scripted pool does with the next request. */
export type Script = { result: NativeResult; chunks?: NativeBody[]; holdAfterFirst?: Promise<void> };

export class ScriptedPool implements GatewayPool {
  readonly calls: NativeRequest[] = [];
  readonly scripts: Script[] = [];
  /** Signals of streams, to see a client's disconnect reach the pool. */
  readonly signals: AbortSignal[] = [];

  async callNative(req: NativeRequest): Promise<NativeResult> {
    this.calls.push(req);
    const s = this.scripts.shift();
    if (!s) throw new Error('no scripted answer');
    return s.result;
  }

  streamNative(req: Omit<NativeRequest, 'method'>): NativeStream {
    this.calls.push({ ...req, method: 'generateContent' });
    if (req.signal) this.signals.push(req.signal);
    const next = this.scripts.shift();
    if (!next) throw new Error('no scripted answer');
    const s: Script = next;
    const chunks = s.chunks ?? [];
    let settle!: (r: NativeResult) => void;
    const result = new Promise<NativeResult>((r) => (settle = r));
    const signal = req.signal;
    async function* run(): AsyncGenerator<NativeBody> {
      try {
        for (const [i, c] of chunks.entries()) {
          yield c;
          if (i === 0 && s.holdAfterFirst) {
            await Promise.race([s.holdAfterFirst, new Promise((r) => signal?.addEventListener('abort', r, { once: true }))]);
            if (signal?.aborted) {
              settle({ ok: false, error: { kind: 'timeout', message: 'the request was cancelled' }, attempts: 1, model: s.result.model });
              return;
            }
          }
        }
        settle(s.result);
      } finally {
        settle(s.result);
      }
    }
    const gen = run();
    return { result, [Symbol.asyncIterator]: () => gen };
  }
}

export const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

export class ListTokens implements GatewayTokens {
  constructor(readonly tokens: Map<string, StoredToken>) {}
  async authenticate(presented: string): Promise<TokenCheck> {
    const t = this.tokens.get(sha256(presented));
    if (!t) return { ok: false, reason: 'unknown' };
    if (t.revokedAt !== undefined) return { ok: false, reason: 'revoked' };
    return { ok: true, token: t };
  }
  allows(token: StoredToken, model: string): boolean {
    return !token.models || token.models.includes(model);
  }
}

export class SwitchLimits implements GatewayLimits {
  refuse: { limit: 'rpm' | 'rpd' | 'tpd'; retryAfterMs: number } | undefined;
  readonly recorded: Array<{ client: string; requests: number; tokens: number; errors: number }> = [];
  async admit(_client: string, _limits: TokenLimits, _now: number) {
    return this.refuse ? { ok: false as const, ...this.refuse } : { ok: true as const };
  }
  record(client: string, usage: { requests: number; tokens: number; errors: number }): void {
    this.recorded.push({ client, ...usage });
  }
}

export function token(name: string, secret: string, extra: Partial<StoredToken> = {}): [string, StoredToken] {
  return [sha256(secret), { name, hash: sha256(secret), prefix: secret.slice(0, 7), limits: {}, createdAt: 0, ...extra }];
}

/** Deps around a scripted pool. */
export function deps(pool: GatewayPool, over: Partial<GatewayDeps> = {}): GatewayDeps & { rows: RequestLogRow[]; limits: SwitchLimits } {
  const rows: RequestLogRow[] = [];
  const limits = new SwitchLimits();
  return {
    pool,
    chatModels: ['gemini-2.5-flash', 'gemini-2.5-pro'],
    embeddingModels: ['gemini-embedding-001'],
    tokens: undefined,
    limits,
    log: { append: (row) => rows.push(row) },
    logger: pino({ level: 'silent' }),
    now: () => 1_000,
    maxBodyBytes: 1024 * 1024,
    fetchUrls: false,
    logBodies: false,
    rows,
    ...over,
  } as GatewayDeps & { rows: RequestLogRow[]; limits: SwitchLimits };
}
