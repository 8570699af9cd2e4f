import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { gatewayUsage } from '../../src/bot/admin.ts';
import type { BotContext } from '../../src/bot/types.ts';
import { TokenRegistry } from '../../src/gateway/tokens.ts';
import { pacificDay } from '../../src/pool/time.ts';
import { MemoryStore } from '../../src/store/index.ts';

describe('/api-key-stats: the gateway clients\' usage', () => {
  it('sums every token\'s usage today and in total, counting only live tokens as clients', async () => {
    const store = new MemoryStore();
    const ctx = { store, logger: pino({ level: 'silent' }) } as unknown as BotContext;
    expect(await gatewayUsage(ctx)).toBeUndefined();
    const registry = new TokenRegistry(store);
    await registry.create({ name: 'web' });
    await registry.create({ name: 'old' });
    await registry.revoke('old');
    const day = pacificDay(Date.now());
    await store.addClientUsage('web', day, { requests: 3, tokens: 30, errors: 1 });
    await store.addClientUsage('old', '2020-01-01', { requests: 5, tokens: 50, errors: 0 });
    expect(await gatewayUsage(ctx)).toEqual({ clients: 1, today: { requests: 3, tokens: 30, errors: 1 }, total: { requests: 8, tokens: 80, errors: 1 } });
  });

  it('says nothing, rather than failing the command, when the store cannot answer', async () => {
    const store = new MemoryStore();
    store.listTokens = () => Promise.reject(new Error('store down'));
    expect(await gatewayUsage({ store, logger: pino({ level: 'silent' }) } as unknown as BotContext)).toBeUndefined();
  });
});
