/**
 * A caller's request checked and turned into what the adapter sends: a value, either the
 * request or the failure to return (an unknown model, an empty prompt, a temperature out of
 * range). No I/O.
 */
import type { AdapterRequest } from '../gemini/adapter.ts';
import { estimateTokens } from './limiter.ts';
import type { GenerateRequest, PoolFailure } from './types.ts';

/** The adapter's request, or the failure to return at once (with no attempt made). */
export function prepareRequest(req: GenerateRequest, models: readonly string[], defaultModel: string): { adapter: AdapterRequest } | { error: PoolFailure } {
  const model = req.model ?? defaultModel;
  const fail = (message: string): { error: PoolFailure } => ({
    error: { ok: false, attempts: 0, model, error: { kind: 'bad_request', message } },
  });
  if (!models.includes(model)) return fail(`model ${model} is not served here (available: ${models.join(', ')})`);
  const contents = req.contents ?? (typeof req.prompt === 'string' ? [{ role: 'user' as const, parts: [{ text: req.prompt }] }] : undefined);
  if (!contents || contents.length === 0 || (req.prompt !== undefined && req.prompt.trim() === '')) return fail('the prompt is empty');
  if (req.temperature !== undefined && !(req.temperature >= 0 && req.temperature <= 2)) return fail('temperature must be between 0 and 2');
  const adapter: AdapterRequest = { model, contents };
  if (req.temperature !== undefined) adapter.temperature = req.temperature;
  if (req.systemInstruction !== undefined) adapter.systemInstruction = req.systemInstruction;
  if (req.maxOutputTokens !== undefined) adapter.maxOutputTokens = req.maxOutputTokens;
  if (req.search) adapter.search = true;
  if (req.thinking !== undefined) adapter.thinking = req.thinking;
  return { adapter };
}

/**
 * What an inline file (an image, a PDF) counts as in the estimate: Gemini bills an image
 * 258 tokens per 768-pixel tile, so a photo of a few tiles is about this much.
 */
export const INLINE_PART_TOKENS = 1_000;

/** The tokens a request will likely use, estimated from its text and files: what the quota check counts. */
export function requestTokens(adapter: AdapterRequest): number {
  let chars = adapter.systemInstruction?.length ?? 0;
  let files = 0;
  for (const c of adapter.contents) {
    for (const p of c.parts) {
      if ('text' in p) chars += p.text.length;
      else files++;
    }
  }
  return estimateTokens(chars) + files * INLINE_PART_TOKENS;
}
