/**
 * What the fake Gemini reads from a request and says about models: the route and model of a
 * path, the text of `contents`, token counts (ceil(chars / 4)), deterministic embeddings and
 * the model list.
 */
import type { Json, Route } from './types.ts';

/** Models the fake serves unless told otherwise. */
export const DEFAULT_MODELS = [
  'gemini-2.5-flash',
  'gemini-2.5-pro',
  'gemini-2.0-flash',
  'gemini-2.5-flash-lite',
  'gemini-embedding-001',
  'text-embedding-004',
];

/** Routes that generate text and count against quota. */
export const GENERATE_ROUTES: ReadonlySet<Route> = new Set(['generateContent', 'streamGenerateContent']);
/** Finish reasons that mean a safety block. */
export const SAFETY_LIKE = new Set(['SAFETY', 'PROHIBITED_CONTENT', 'BLOCKLIST', 'SPII', 'IMAGE_SAFETY']);

/** Tokens as the fake counts them: ceil(chars / 4). */
export function tokensOf(chars: number): number {
  return Math.ceil(chars / 4);
}

/** The text of a content (a string, or the text parts of `{ parts }`). */
export function partsText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!content || typeof content !== 'object') return '';
  const parts = (content as { parts?: unknown }).parts;
  if (!Array.isArray(parts)) {
    const text = (content as { text?: unknown }).text;
    return typeof text === 'string' ? text : '';
  }
  return parts
    .map((p) => (p && typeof p === 'object' && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : ''))
    .join('');
}

function contentsList(contents: unknown): unknown[] {
  if (Array.isArray(contents)) return contents;
  if (contents === undefined || contents === null) return [];
  return [contents];
}

/** The text of the last user turn of `contents`: what the default reply echoes. */
export function lastUserTextOf(contents: unknown): string {
  const list = contentsList(contents);
  for (let i = list.length - 1; i >= 0; i--) {
    const c = list[i];
    const role = c && typeof c === 'object' ? (c as { role?: unknown }).role : undefined;
    if (role === undefined || role === 'user') return partsText(c);
  }
  return '';
}

/** Characters of every turn and the system instruction: what input tokens are counted from. */
export function allText(body: unknown): number {
  if (!body || typeof body !== 'object') return 0;
  const b = body as { contents?: unknown; systemInstruction?: unknown; generateContentRequest?: { contents?: unknown } };
  let chars = 0;
  for (const c of contentsList(b.contents ?? b.generateContentRequest?.contents)) chars += partsText(c).length;
  if (b.systemInstruction !== undefined) chars += partsText(b.systemInstruction).length;
  return chars;
}

/** `models/gemini-2.5-flash` -> `gemini-2.5-flash`. */
export function stripModelPrefix(name: string): string {
  let m = name;
  while (m.startsWith('models/')) m = m.slice('models/'.length);
  return m;
}

/** Embedding models serve embedContent, not generateContent. */
export function isEmbeddingModel(model: string): boolean {
  return model.includes('embedding');
}

/** Deterministic unit vector for a text. */
export function embed(text: string, dims: number): number[] {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 16777619) >>> 0;
  }
  let state = h || 1;
  const values: number[] = [];
  let norm = 0;
  for (let i = 0; i < dims; i++) {
    state = (Math.imul(state ^ (state >>> 15), 2246822507) + 0x9e3779b9) >>> 0;
    const v = (state / 0xffffffff) * 2 - 1;
    values.push(v);
    norm += v * v;
  }
  const n = Math.sqrt(norm) || 1;
  return values.map((v) => Number((v / n).toFixed(6)));
}

/** One entry of the model list, as `GET models` returns it. */
export function modelInfo(model: string): Json {
  const embedding = isEmbeddingModel(model);
  return {
    name: `models/${model}`,
    version: '001',
    displayName: model,
    description: `Fake ${model}`,
    inputTokenLimit: embedding ? 2048 : 1_048_576,
    outputTokenLimit: embedding ? 1 : 65_536,
    supportedGenerationMethods: embedding
      ? ['embedContent', 'batchEmbedContents']
      : ['generateContent', 'countTokens', 'createCachedContent', 'batchGenerateContent'],
    ...(embedding ? {} : { temperature: 1, topP: 0.95, topK: 64, maxTemperature: 2 }),
  };
}

/** Safety ratings of a blocked prompt (harassment rated HIGH and blocked). */
export const SAFETY_RATINGS = [
  { category: 'HARM_CATEGORY_HATE_SPEECH', probability: 'NEGLIGIBLE' },
  { category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'NEGLIGIBLE' },
  { category: 'HARM_CATEGORY_HARASSMENT', probability: 'HIGH', blocked: true },
  { category: 'HARM_CATEGORY_SEXUALLY_EXPLICIT', probability: 'NEGLIGIBLE' },
];

/** API version, route and model of a request path (`unknown` for anything the service would 404). */
export function parseRoute(method: string, pathname: string): { apiVersion: string; route: Route; model: string | null } {
  let path: string;
  try {
    path = decodeURIComponent(pathname);
  } catch {
    path = pathname;
  }
  const m = /^\/(v\d+(?:alpha|beta)?\d*)\/(.*)$/.exec(path);
  if (!m) return { apiVersion: '', route: 'unknown', model: null };
  const apiVersion = m[1] ?? '';
  const rest = (m[2] ?? '').replace(/\/+$/, '');
  if (rest === 'models') return { apiVersion, route: method === 'GET' ? 'listModels' : 'unknown', model: null };
  if (!rest.startsWith('models/')) return { apiVersion, route: 'unknown', model: null };
  const name = stripModelPrefix(rest);
  const colon = name.lastIndexOf(':');
  if (colon < 0) return { apiVersion, route: method === 'GET' && name !== '' ? 'getModel' : 'unknown', model: name || null };
  const model = name.slice(0, colon);
  const action = name.slice(colon + 1);
  const routes: Record<string, Route> = {
    generateContent: 'generateContent',
    streamGenerateContent: 'streamGenerateContent',
    countTokens: 'countTokens',
    embedContent: 'embedContent',
    batchEmbedContents: 'batchEmbedContents',
  };
  const route = routes[action];
  if (!route || method !== 'POST') return { apiVersion, route: 'unknown', model: model || null };
  return { apiVersion, route, model };
}

/** Whether a generate request asks for Google Search grounding (`tools: [{ googleSearch: {} }]`). */
export function searchRequested(body: Json): boolean {
  return Array.isArray(body.tools) && body.tools.some((t) => t && typeof t === 'object' && ('googleSearch' in t || 'google_search' in t));
}

/** Two pages named after what was asked: what a grounded answer cites unless a test says otherwise. */
export function defaultGrounding(ctx: { lastUserText: string }): Array<{ title: string; uri: string }> {
  const q = encodeURIComponent(ctx.lastUserText.slice(0, 60));
  return [
    { title: 'example.com', uri: `https://example.com/search?q=${q}` },
    { title: 'en.wikipedia.org', uri: `https://en.wikipedia.org/wiki/Special:Search?search=${q}` },
  ];
}

/** Gemini's `groundingMetadata` for an answer citing `pages`: the query, the chunks, one support per page. */
export function groundingMetadata(pages: ReadonlyArray<{ title: string; uri: string }>, query: string, answer: string): Json {
  return {
    webSearchQueries: [query],
    searchEntryPoint: { renderedContent: '<div class="fake-search-chip"></div>' },
    groundingChunks: pages.map((p) => ({ web: { uri: p.uri, title: p.title } })),
    groundingSupports: pages.map((_, i) => ({ segment: { startIndex: 0, endIndex: answer.length, text: answer }, groundingChunkIndices: [i] })),
  };
}
