/**
 * Checking what clients send: a refusal names the field at fault in OpenAI's `param` form
 * (`messages[2].content[1]`), so a client learns exactly what to change.
 */
import type { z } from 'zod';

/** A refusal of a request: the translation stops and answers 400 naming `param`. */
export class RequestRefusal extends Error {
  readonly brand = 'RequestRefusal' as const;
  constructor(
    readonly param: string | null,
    message: string,
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = 'RequestRefusal';
  }
}

export const isRequestRefusal = (e: unknown): e is RequestRefusal =>
  e instanceof Error && (e as { brand?: string }).brand === 'RequestRefusal';

/** A translation that failed: always a 400, with the field at fault when there is one. */
export interface TranslationRefusal {
  ok: false;
  status: 400;
  message: string;
  param: string | null;
  code: string | null;
}

/** The refusal value for a thrown {@link RequestRefusal}; anything else is rethrown. */
export function refusalOf(e: unknown): TranslationRefusal {
  if (!isRequestRefusal(e)) throw e;
  return { ok: false, status: 400, message: e.message, param: e.param, code: e.code };
}

/** `base` followed by a path of keys and indexes: `messages` + [2, 'content'] -> `messages[2].content`. */
export function paramPath(base: string, path: readonly PropertyKey[]): string {
  let out = base;
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** `value` checked against `schema`; a mismatch is refused naming the exact field inside `param`. */
export function check<S extends z.ZodType>(schema: S, value: unknown, param: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const at = issue ? paramPath(param, issue.path) : param;
  throw new RequestRefusal(at, `${at}: ${issue?.message ?? 'invalid value'}`);
}

/** Throws a refusal of `param` unless `ok`. */
export function need(ok: boolean, param: string | null, message: string, code: string | null = null): asserts ok {
  if (!ok) throw new RequestRefusal(param, message, code);
}

/** Client text quoted in a message, cut short: it is echoed back, and a name or type is short. */
export function quoted(value: unknown, maxChars = 80): string {
  const text = String(value);
  return text.length > maxChars ? `${text.slice(0, maxChars)}...` : text;
}

/** True for values that ask for nothing: absent or null. */
export const isUnset = (v: unknown): boolean => v === undefined || v === null;

/**
 * The served model for a requested name (a leading `models/` stripped), or a refusal with
 * code `model_not_found` saying which are served.
 */
export function servedModel(requested: unknown, served: readonly string[]): string {
  need(typeof requested === 'string' && requested !== '', 'model', 'model: a model name is required');
  const name = requested.startsWith('models/') ? requested.slice('models/'.length) : requested;
  need(
    served.includes(name),
    'model',
    `The model '${quoted(name)}' is not served here. Served: ${served.join(', ') || '(none)'}`,
    'model_not_found',
  );
  return name;
}
