import type { EmbeddingCreateParams } from 'openai/resources/embeddings';
import { describe, expect, it } from 'vitest';
import { embeddingsToGemini, encodeFloat32Base64, geminiToEmbeddings, MAX_EMBEDDING_INPUTS } from '../../src/gateway/openai/embeddings.ts';

const opts = { models: ['gemini-embedding-001'] };
const req = (extra: Partial<EmbeddingCreateParams> = {}): EmbeddingCreateParams => ({ model: 'gemini-embedding-001', input: 'hello', ...extra });

/** What the `openai` package does with a base64 embedding: little-endian float32. */
const decode = (b64: string): number[] => {
  const bytes = Buffer.from(b64, 'base64');
  return Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
};

describe('embeddingsToGemini', () => {
  it('one input: embedContent', () => {
    expect(embeddingsToGemini(req(), opts)).toEqual({
      ok: true,
      model: 'gemini-embedding-001',
      method: 'embedContent',
      body: { content: { parts: [{ text: 'hello' }] } },
      encoding: 'float',
    });
  });

  it('several inputs: batchEmbedContents, each request naming the model; dimensions -> outputDimensionality', () => {
    expect(embeddingsToGemini(req({ model: 'models/gemini-embedding-001', input: ['a', 'b'], dimensions: 256, encoding_format: 'base64', user: 'u' }), opts)).toEqual({
      ok: true,
      model: 'gemini-embedding-001',
      method: 'batchEmbedContents',
      body: {
        requests: [
          { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'a' }] }, outputDimensionality: 256 },
          { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'b' }] }, outputDimensionality: 256 },
        ],
      },
      encoding: 'base64',
    });
  });

  it.each<[string, unknown, string, string?]>([
    ['token array', req({ input: [1, 2, 3] }), 'input[0]'],
    ['arrays of token arrays', req({ input: [[1, 2]] }), 'input[0]'],
    ['an empty string', req({ input: '' }), 'input'],
    ['an empty array', req({ input: [] }), 'input'],
    ['an empty string in the list', req({ input: ['a', ''] }), 'input[1]'],
    ['no input', { model: 'gemini-embedding-001' }, 'input'],
    ['too many inputs', req({ input: Array.from({ length: MAX_EMBEDDING_INPUTS + 1 }, () => 'x') }), 'input'],
    ['a bad dimensions', req({ dimensions: 0 }), 'dimensions'],
    ['an unknown encoding', { ...req(), encoding_format: 'int8' }, 'encoding_format'],
    ['an unknown field', { ...req(), truncate: 'END' }, 'truncate'],
    ['a chat model', req({ model: 'gemini-2.5-flash' }), 'model', 'model_not_found'],
  ])('refuses %s', (_name, json, param, code) => {
    const t = embeddingsToGemini(json, opts);
    expect(t).toMatchObject({ ok: false, status: 400, param });
    if (code) expect(t).toMatchObject({ code });
  });
});

describe('geminiToEmbeddings', () => {
  it('embedContent answer, floats', () => {
    expect(geminiToEmbeddings({ embedding: { values: [0.5, -1, 2] } }, { model: 'gemini-embedding-001', encoding: 'float', promptTokens: 3 })).toEqual({
      object: 'list',
      data: [{ object: 'embedding', index: 0, embedding: [0.5, -1, 2] }],
      model: 'gemini-embedding-001',
      usage: { prompt_tokens: 3, total_tokens: 3 },
    });
  });

  it('batchEmbedContents answer, base64 decodes to the same values', () => {
    const answer = geminiToEmbeddings({ embeddings: [{ values: [0.25, 1.5] }, { values: [-3, 0] }] }, { model: 'gemini-embedding-001', encoding: 'base64' });
    expect(answer.data.map((d) => d.index)).toEqual([0, 1]);
    expect(answer.data.map((d) => decode(d.embedding as string))).toEqual([[0.25, 1.5], [-3, 0]]);
    expect(answer.usage).toEqual({ prompt_tokens: 0, total_tokens: 0 });
    expect(encodeFloat32Base64([1])).toBe(Buffer.from([0, 0, 0x80, 0x3f]).toString('base64'));
  });

  it('usage from usageMetadata when the pool did not count it', () => {
    expect(geminiToEmbeddings({ embedding: { values: [1] }, usageMetadata: { promptTokenCount: 7 } }, { model: 'm', encoding: 'float' }).usage).toEqual({ prompt_tokens: 7, total_tokens: 7 });
  });

  it('an answer without vectors is an error, not an empty list', () => {
    expect(() => geminiToEmbeddings({}, { model: 'm', encoding: 'float' })).toThrow(TypeError);
    expect(() => geminiToEmbeddings({ embeddings: [{ nope: 1 }] }, { model: 'm', encoding: 'float' })).toThrow(TypeError);
  });
});
