/**
 * `POST /v1/chat/completions` bodies translated to Gemini-native `generateContent` bodies.
 *
 * Every field either changes the Gemini request, is harmless and accepted (`user`,
 * `metadata`, `store: false` ...), or is refused with a 400 naming it: a client asking for
 * something we cannot do (`n: 3`, audio, logprobs) learns so instead of getting less than it
 * asked for.
 *
 * `reasoning_effort` is sent as `thinkingConfig.thinkingBudget`, not `thinkingLevel`: Gemini
 * 2.5 models refuse `thinkingLevel`, while Gemini 3 models still take a budget.
 */
import { z } from 'zod';
import type { NativeBody } from '../../pool/nativeTypes.ts';
import { translateMessages, type MessageTranslateOptions } from './messages.ts';
import { check, isUnset, need, quoted, refusalOf, RequestRefusal, servedModel, type TranslationRefusal } from './validate.ts';

export type { FetchedImage } from './messages.ts';

export interface ChatTranslateOptions extends MessageTranslateOptions {
  /** The chat models served (without `models/`). */
  models: readonly string[];
}

/** A translated chat request, ready for `pool.callNative` / `pool.streamNative` with method `generateContent`. */
export interface ChatRequestTranslation {
  ok: true;
  /** The served model asked for, without `models/`. */
  model: string;
  body: NativeBody;
  /** `stream: true`: answer with SSE chunks. */
  stream: boolean;
  /** `stream_options.include_usage`: end the stream with a usage chunk. */
  includeUsage: boolean;
}

export type ChatTranslation = ChatRequestTranslation | TranslationRefusal;

/** Thinking budgets (tokens) per `reasoning_effort`: Google's own mapping for its OpenAI endpoint, with `minimal` below `low`. */
export const THINKING_BUDGETS = { none: 0, minimal: 512, low: 1024, medium: 8192, high: 24_576 } as const;

/** Fields that ask nothing of the model: accepted and not forwarded. */
const HARMLESS = new Set(['user', 'metadata', 'safety_identifier', 'prompt_cache_key', 'prompt_cache_retention', 'prompt_cache_options']);

/**
 * Fields we cannot honour, accepted only with the value that asks for nothing more than
 * the default; any other value is refused.
 */
const DEFAULT_ONLY: Record<string, { ok: (v: unknown) => boolean; why: string }> = {
  n: { ok: (v) => v === 1, why: 'only one choice (n: 1) is supported' },
  logprobs: { ok: (v) => v === false, why: 'log probabilities are not supported' },
  top_logprobs: { ok: () => false, why: 'log probabilities are not supported' },
  logit_bias: { ok: (v) => typeof v === 'object' && v !== null && Object.keys(v).length === 0, why: 'logit_bias is not supported' },
  audio: { ok: () => false, why: 'audio output is not supported' },
  modalities: { ok: (v) => Array.isArray(v) && v.every((m) => m === 'text'), why: 'only text output is supported' },
  prediction: { ok: () => false, why: 'predicted outputs are not supported' },
  web_search_options: { ok: () => false, why: 'web search is not supported' },
  functions: { ok: () => false, why: 'functions is deprecated and not supported; use tools' },
  function_call: { ok: () => false, why: 'function_call is deprecated and not supported; use tool_choice' },
  moderation: { ok: () => false, why: 'moderation is not supported' },
  verbosity: { ok: (v) => v === 'medium', why: 'verbosity is not supported' },
  store: { ok: (v) => v === false, why: 'stored completions are not supported' },
  service_tier: { ok: (v) => v === 'auto' || v === 'default', why: 'only the auto and default service tiers exist here' },
};

const Probability = (max: number) => z.number().min(0).max(max);
const Penalty = z.number().min(-2).max(2);
const MaxTokens = z.number().int().min(1);
const Stop = z.union([z.string(), z.array(z.string()).max(5)]);
const StreamOptions = z.looseObject({ include_usage: z.boolean().nullish() });
const ResponseFormat = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
  z.object({
    type: z.literal('json_schema'),
    json_schema: z.object({
      name: z.string(),
      description: z.string().nullish(),
      schema: z.record(z.string(), z.unknown()).nullish(),
      strict: z.boolean().nullish(),
    }),
  }),
]);
const FunctionTool = z.object({
  type: z.literal('function'),
  function: z.object({
    name: z.string().min(1),
    description: z.string().nullish(),
    parameters: z.record(z.string(), z.unknown()).nullish(),
    strict: z.boolean().nullish(),
  }),
});
const NamedFunction = z.object({ type: z.literal('function'), function: z.object({ name: z.string().min(1) }) });
const ToolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  NamedFunction,
  z.object({
    type: z.literal('allowed_tools'),
    allowed_tools: z.object({ mode: z.enum(['auto', 'required']), tools: z.array(NamedFunction).min(1) }),
  }),
]);
const ReasoningEffort = z.enum(Object.keys(THINKING_BUDGETS) as [keyof typeof THINKING_BUDGETS]);

/**
 * Translates an OpenAI chat completion request body to a Gemini `generateContent` body.
 * Refusals are values (`ok: false`, status 400, the field in `param`), never throws.
 */
export async function chatToGemini(json: unknown, opts: ChatTranslateOptions): Promise<ChatTranslation> {
  try {
    return await translate(json, opts);
  } catch (e) {
    return refusalOf(e);
  }
}

async function translate(json: unknown, opts: ChatTranslateOptions): Promise<ChatRequestTranslation> {
  need(typeof json === 'object' && json !== null && !Array.isArray(json), null, 'the request body must be a JSON object');
  const req = json as Record<string, unknown>;
  refuseUnsupported(req);
  const model = servedModel(req.model, opts.models);
  const messages = check(z.array(z.unknown()).min(1), req.messages, 'messages');
  const stream = isUnset(req.stream) ? false : check(z.boolean(), req.stream, 'stream');
  const streamOptions = isUnset(req.stream_options) ? {} : check(StreamOptions, req.stream_options, 'stream_options');

  const body: NativeBody = {};
  const translated = await translateMessages(messages, opts);
  body.contents = translated.contents;
  if (translated.systemInstruction) body.systemInstruction = translated.systemInstruction;

  const config = generationConfig(req);
  const tools = toolsOf(req);
  if (tools) {
    body.tools = [{ functionDeclarations: tools.declarations }];
    if (tools.toolConfig) body.toolConfig = tools.toolConfig;
  }
  if (Object.keys(config).length > 0) body.generationConfig = config;
  return { ok: true, model, body, stream, includeUsage: stream && streamOptions.include_usage === true };
}

/** Refuses fields we cannot honour and fields we do not know; accepts harmless ones. */
function refuseUnsupported(req: Record<string, unknown>): void {
  for (const [field, value] of Object.entries(req)) {
    if (KNOWN.has(field) || HARMLESS.has(field) || isUnset(value)) continue;
    const rule = DEFAULT_ONLY[field];
    if (rule) need(rule.ok(value), field, `${field}: ${rule.why}`);
    else throw new RequestRefusal(field, `${quoted(field)}: unknown field; it is not supported by this gateway`);
  }
}

/** Fields translated below. */
const KNOWN = new Set([
  'model', 'messages', 'stream', 'stream_options', 'temperature', 'top_p', 'max_tokens', 'max_completion_tokens', 'stop',
  'seed', 'presence_penalty', 'frequency_penalty', 'response_format', 'tools', 'tool_choice', 'reasoning_effort',
  'parallel_tool_calls',
]);

/** Gemini's generationConfig from the sampling, length, format and reasoning fields. */
function generationConfig(req: Record<string, unknown>): NativeBody {
  const config: NativeBody = {};
  const set = (key: string, value: unknown): void => {
    if (value !== undefined) config[key] = value;
  };
  const opt = <S extends z.ZodType>(field: string, schema: S): z.output<S> | undefined =>
    isUnset(req[field]) ? undefined : check(schema, req[field], field);

  set('temperature', opt('temperature', Probability(2)));
  set('topP', opt('top_p', Probability(1)));
  const maxTokens = opt('max_tokens', MaxTokens);
  const maxCompletionTokens = opt('max_completion_tokens', MaxTokens);
  need(
    maxTokens === undefined || maxCompletionTokens === undefined,
    'max_tokens',
    'max_tokens: send either max_tokens or max_completion_tokens, not both',
  );
  set('maxOutputTokens', maxCompletionTokens ?? maxTokens);
  const stop = opt('stop', Stop);
  if (stop !== undefined) {
    const sequences = (typeof stop === 'string' ? [stop] : stop).filter((s) => s !== '');
    if (sequences.length > 0) config.stopSequences = sequences;
  }
  set('seed', opt('seed', z.number().int()));
  set('presencePenalty', opt('presence_penalty', Penalty));
  set('frequencyPenalty', opt('frequency_penalty', Penalty));

  const format = opt('response_format', ResponseFormat);
  if (format && format.type !== 'text') {
    config.responseMimeType = 'application/json';
    if (format.type === 'json_schema' && format.json_schema.schema) config.responseJsonSchema = format.json_schema.schema;
  }

  const effort = opt('reasoning_effort', ReasoningEffort);
  if (effort !== undefined) config.thinkingConfig = { thinkingBudget: THINKING_BUDGETS[effort] };
  return config;
}

/** Function declarations and the tool config, when the request has tools. */
function toolsOf(req: Record<string, unknown>): { declarations: NativeBody[]; toolConfig?: NativeBody } | undefined {
  const list = isUnset(req.tools) ? [] : check(z.array(z.looseObject({ type: z.string() })), req.tools, 'tools');
  const declarations: NativeBody[] = [];
  for (const [i, raw] of list.entries()) {
    need(raw.type === 'function', `tools[${i}].type`, `tools[${i}].type: only function tools are supported, not '${quoted(raw.type)}'`);
    const { function: fn } = check(FunctionTool, raw, `tools[${i}]`);
    const declaration: NativeBody = { name: fn.name };
    if (fn.description) declaration.description = fn.description;
    // JSON Schema as OpenAI clients write it goes in parametersJsonSchema; Gemini's
    // `parameters` takes only its OpenAPI subset.
    if (fn.parameters) declaration.parametersJsonSchema = fn.parameters;
    declarations.push(declaration);
  }
  const names = new Set(declarations.map((d) => d.name as string));

  if (!isUnset(req.parallel_tool_calls)) {
    const parallel = check(z.boolean(), req.parallel_tool_calls, 'parallel_tool_calls');
    need(parallel || declarations.length === 0, 'parallel_tool_calls', 'parallel_tool_calls: Gemini may always call several tools at once; false is not supported');
  }

  const choice = isUnset(req.tool_choice) ? undefined : check(ToolChoice, req.tool_choice, 'tool_choice');
  if (declarations.length === 0) {
    need(choice === undefined || choice === 'none' || choice === 'auto', 'tool_choice', 'tool_choice: needs tools');
    return undefined;
  }
  const known = (name: string, param: string): void =>
    need(names.has(name), param, `${param}: no tool named '${quoted(name)}' is in tools`);

  let toolConfig: NativeBody | undefined;
  if (choice === 'none') toolConfig = { functionCallingConfig: { mode: 'NONE' } };
  else if (choice === 'auto') toolConfig = { functionCallingConfig: { mode: 'AUTO' } };
  else if (choice === 'required') toolConfig = { functionCallingConfig: { mode: 'ANY' } };
  else if (choice?.type === 'function') {
    known(choice.function.name, 'tool_choice.function.name');
    toolConfig = { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [choice.function.name] } };
  } else if (choice?.type === 'allowed_tools') {
    const allowed = choice.allowed_tools.tools.map((t, i) => {
      known(t.function.name, `tool_choice.allowed_tools.tools[${i}].function.name`);
      return t.function.name;
    });
    if (choice.allowed_tools.mode === 'required') {
      toolConfig = { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: allowed } };
    } else {
      // Gemini takes allowedFunctionNames only with mode ANY; offering only the allowed
      // declarations in AUTO mode asks the same.
      const keep = new Set(allowed);
      return { declarations: declarations.filter((d) => keep.has(d.name as string)), toolConfig: { functionCallingConfig: { mode: 'AUTO' } } };
    }
  }
  return toolConfig ? { declarations, toolConfig } : { declarations };
}
