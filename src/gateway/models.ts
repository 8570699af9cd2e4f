/**
 * The model list, in one body both dialects read: Gemini's (`models`, each with `name` and
 * `supportedGenerationMethods`) and OpenAI's (`object: "list"`, `data`), since both ask
 * `GET /v1/models`.
 */
import type { GatewayDeps } from './deps.ts';

const CHAT_METHODS = ['generateContent', 'streamGenerateContent', 'countTokens'];
const EMBED_METHODS = ['embedContent', 'batchEmbedContents'];

/** One model in both shapes; undefined when it is not served. */
export function modelEntry(deps: Pick<GatewayDeps, 'chatModels' | 'embeddingModels'>, model: string): Record<string, unknown> | undefined {
  const name = model.replace(/^models\//, '');
  const chat = deps.chatModels.includes(name);
  if (!chat && !deps.embeddingModels.includes(name)) return undefined;
  return {
    name: `models/${name}`,
    displayName: name,
    supportedGenerationMethods: chat ? CHAT_METHODS : EMBED_METHODS,
    id: name,
    object: 'model',
    created: 0,
    owned_by: 'google',
  };
}

/** Every served model, in both shapes. */
export function modelList(deps: Pick<GatewayDeps, 'chatModels' | 'embeddingModels'>): Record<string, unknown> {
  const names = [...new Set([...deps.chatModels, ...deps.embeddingModels])];
  const entries = names.map((n) => modelEntry(deps, n)!);
  return { models: entries, object: 'list', data: entries };
}
