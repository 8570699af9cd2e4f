/**
 * `GET /v1/models` and `GET /v1/models/{model}` in OpenAI's shape, from the names of the
 * models the gateway serves.
 */
import type { Model } from 'openai/resources/models';

/** OpenAI's model list. */
export interface OpenAIModelList {
  object: 'list';
  data: Model[];
}

/** `owned_by` of every model we serve. */
const OWNER = 'google';

/** A model name without Gemini's `models/` prefix. */
export function bareModelName(name: string): string {
  return name.startsWith('models/') ? name.slice('models/'.length) : name;
}

/**
 * One model object. Gemini does not say when a model was made, so `created` is what the
 * caller passes (the gateway's start time, say), 0 by default.
 */
export function openaiModel(name: string, created = 0): Model {
  return { id: bareModelName(name), object: 'model', created, owned_by: OWNER };
}

/** The list of served models, each once, in the order given (chat models, then embedding models). */
export function openaiModelList(names: readonly string[], created = 0): OpenAIModelList {
  const seen = new Set<string>();
  const data: Model[] = [];
  for (const name of names) {
    const id = bareModelName(name);
    if (seen.has(id)) continue;
    seen.add(id);
    data.push(openaiModel(id, created));
  }
  return { object: 'list', data };
}
