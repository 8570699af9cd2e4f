/**
 * `POST /v1/embeddings` to Gemini's `embedContent` (one input) or `batchEmbedContents`
 * (several), and the answer back in OpenAI's shape.
 *
 * The `openai` package asks for `encoding_format: "base64"` unless told otherwise and decodes
 * it itself, so base64 (little-endian float32, as OpenAI sends) is the common case, not a
 * rarity.
 */
import { z } from 'zod';
import type { CreateEmbeddingResponse } from 'openai/resources/embeddings';
import type { NativeBody } from '../../pool/nativeTypes.ts';
import { check, isUnset, need, quoted, refusalOf, RequestRefusal, servedModel, type TranslationRefusal } from './validate.ts';

/** Inputs Gemini embeds in one `batchEmbedContents` call at most. */
export const MAX_EMBEDDING_INPUTS = 100;

export type EmbeddingEncoding = 'float' | 'base64';

export interface EmbeddingsTranslateOptions {
  /** The embedding models served (without `models/`). */
  models: readonly string[];
}

/** A translated embeddings request, ready for `pool.callNative({ model, method, body })`. */
export interface EmbeddingsRequestTranslation {
  ok: true;
  model: string;
  method: 'embedContent' | 'batchEmbedContents';
  body: NativeBody;
  /** How the answer's vectors are to be written. */
  encoding: EmbeddingEncoding;
}

export type EmbeddingsTranslation = EmbeddingsRequestTranslation | TranslationRefusal;

/** One vector of the answer: numbers, or base64 of little-endian float32 values. */
export interface OpenAIEmbedding {
  object: 'embedding';
  index: number;
  embedding: number[] | string;
}

/** OpenAI's embeddings answer; with base64 encoding each `embedding` is a string. */
export interface OpenAIEmbeddingsResponse extends Omit<CreateEmbeddingResponse, 'data'> {
  data: OpenAIEmbedding[];
}

const ACCEPTED = new Set(['model', 'input', 'dimensions', 'encoding_format', 'user']);

/** Translates an OpenAI embeddings request body; refusals are values naming the field. */
export function embeddingsToGemini(json: unknown, opts: EmbeddingsTranslateOptions): EmbeddingsTranslation {
  try {
    return translate(json, opts);
  } catch (e) {
    return refusalOf(e);
  }
}

function translate(json: unknown, opts: EmbeddingsTranslateOptions): EmbeddingsRequestTranslation {
  need(typeof json === 'object' && json !== null && !Array.isArray(json), null, 'the request body must be a JSON object');
  const req = json as Record<string, unknown>;
  for (const [field, value] of Object.entries(req)) {
    if (!ACCEPTED.has(field) && !isUnset(value)) throw new RequestRefusal(field, `${quoted(field)}: unknown field; it is not supported by this gateway`);
  }
  const model = servedModel(req.model, opts.models);
  const inputs = inputsOf(req.input);
  const dimensions = isUnset(req.dimensions) ? undefined : check(z.number().int().min(1), req.dimensions, 'dimensions');
  const encoding = isUnset(req.encoding_format) ? 'float' : check(z.enum(['float', 'base64']), req.encoding_format, 'encoding_format');

  const content = (text: string): NativeBody => ({ parts: [{ text }] });
  const withDimensions = (body: NativeBody): NativeBody => (dimensions === undefined ? body : { ...body, outputDimensionality: dimensions });
  if (inputs.length === 1) {
    return { ok: true, model, method: 'embedContent', body: withDimensions({ content: content(inputs[0] as string) }), encoding };
  }
  const requests = inputs.map((text) => withDimensions({ model: `models/${model}`, content: content(text) }));
  return { ok: true, model, method: 'batchEmbedContents', body: { requests }, encoding };
}

/** The input texts; token arrays are refused (Gemini takes text, and we have no tokenizer to decode them). */
function inputsOf(input: unknown): string[] {
  need(input !== undefined && input !== null, 'input', 'input: required (a string or an array of strings)');
  if (typeof input === 'string') {
    need(input !== '', 'input', 'input: must not be empty');
    return [input];
  }
  need(Array.isArray(input) && input.length > 0, 'input', 'input: must be a string or a non-empty array of strings');
  need(input.length <= MAX_EMBEDDING_INPUTS, 'input', `input: at most ${MAX_EMBEDDING_INPUTS} inputs per request`);
  return input.map((item, i) => {
    need(typeof item !== 'number' && !Array.isArray(item), `input[${i}]`, `input[${i}]: token arrays are not supported; send text`);
    need(typeof item === 'string' && item !== '', `input[${i}]`, `input[${i}]: must be a non-empty string`);
    return item;
  });
}

/** Float values as OpenAI's base64: little-endian float32 bytes. */
export function encodeFloat32Base64(values: readonly number[]): string {
  const bytes = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => bytes.writeFloatLE(v, i * 4));
  return bytes.toString('base64');
}

const Values = z.object({ values: z.array(z.number()) });

export interface EmbeddingsMeta {
  model: string;
  encoding: EmbeddingEncoding;
  /** Input tokens the pool counted for the call, when it knows them. */
  promptTokens?: number;
}

/**
 * Gemini's embedContent / batchEmbedContents answer in OpenAI's shape. Throws a TypeError
 * on an answer without vectors (a broken upstream, for the caller to answer 502).
 */
export function geminiToEmbeddings(body: NativeBody, meta: EmbeddingsMeta): OpenAIEmbeddingsResponse {
  const list = Array.isArray(body.embeddings) ? body.embeddings : body.embedding !== undefined ? [body.embedding] : undefined;
  if (!list) throw new TypeError('the embeddings answer holds no embedding');
  const data = list.map((raw, index): OpenAIEmbedding => {
    const parsed = Values.safeParse(raw);
    if (!parsed.success) throw new TypeError(`embedding ${index} of the answer has no values`);
    const { values } = parsed.data;
    return { object: 'embedding', index, embedding: meta.encoding === 'base64' ? encodeFloat32Base64(values) : values };
  });
  const usageMetadata = typeof body.usageMetadata === 'object' && body.usageMetadata !== null ? (body.usageMetadata as Record<string, unknown>) : {};
  const counted = typeof usageMetadata.promptTokenCount === 'number' ? usageMetadata.promptTokenCount : 0;
  const promptTokens = meta.promptTokens ?? counted;
  return { object: 'list', data, model: meta.model, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } };
}
