import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { createPool, poolOptions } from '../../src/services.ts';

describe('the pool the configuration builds', () => {
  it('serves the embedding models after the chat models: the default stays the first chat model', async () => {
    const config = loadConfig({ GEMINI_API_KEY: 'test-key-1', GEMINI_MODELS: 'gemini-2.5-pro,gemini-2.5-flash' });
    expect(poolOptions(config).models).toEqual(['gemini-2.5-pro', 'gemini-2.5-flash', 'gemini-embedding-001']);
    const pool = createPool(config, { timers: false });
    expect(pool.models).toEqual(['gemini-2.5-pro', 'gemini-2.5-flash', 'gemini-embedding-001']);
    expect(pool.defaultModel).toBe('gemini-2.5-pro');
    await pool.close();
    // A model named in both lists is served once.
    const both = loadConfig({ GEMINI_API_KEY: 'test-key-1', EMBEDDING_MODELS: 'text-embedding-004,gemini-2.5-flash' });
    expect(poolOptions(both).models).toEqual(['gemini-2.5-flash', 'text-embedding-004']);
  });
});
