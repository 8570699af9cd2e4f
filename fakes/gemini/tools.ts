/**
 * What the fake Gemini does with tools and structured output: function calls answered
 * instead of text, Gemini 3's thought signatures on them (and its 400 when a signature does
 * not come back), and JSON text for `responseMimeType: application/json`.
 */
import { googleError } from './errorBodies.ts';
import type { FakeGeminiOptions, FunctionCallReply, Json, Outcome, ReplyContext } from './types.ts';

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const objects = (v: unknown): Json[] => (Array.isArray(v) ? v.filter(isObject) : []);

/** Names of the functions a request declares (`tools[].functionDeclarations[].name`). */
export function declaredFunctions(body: Json): string[] {
  return objects(body.tools).flatMap((t) => objects(t.functionDeclarations).map((d) => (typeof d.name === 'string' ? d.name : '')).filter(Boolean));
}

/** Whether the last turn hands back function results (a `functionResponse` part). */
function answersFunctions(contents: unknown): boolean {
  const last = objects(contents).at(-1);
  return objects(last?.parts).some((p) => p.functionResponse !== undefined);
}

/**
 * The function calls to answer with, or undefined for a text answer. Only a request that
 * declares functions gets calls. `true`: the first declared function, with no arguments,
 * unless the last turn hands back function results (then the model answers in text).
 */
export function functionCallsFor(option: FakeGeminiOptions['functionCallReply'], ctx: ReplyContext): FunctionCallReply[] | undefined {
  const body = isObject(ctx.requestBody) ? ctx.requestBody : {};
  const declared = declaredFunctions(body);
  if (!option || declared.length === 0) return undefined;
  if (option === true) return answersFunctions(body.contents) ? undefined : [{ name: declared[0]!, args: {} }];
  const calls = option(ctx);
  if (calls === undefined) return undefined;
  return Array.isArray(calls) ? calls : [calls];
}

/**
 * The parts of a function-call answer. With signatures (Gemini 3), the first call carries a
 * `thoughtSignature`, as Gemini puts one on the first function call of each step.
 */
export function functionCallParts(calls: FunctionCallReply[], signatures: boolean, seq: number): Json[] {
  return calls.map((c, i) => ({
    functionCall: { name: c.name, args: c.args ?? {} },
    ...(signatures && i === 0 ? { thoughtSignature: Buffer.from(`fake-signature:${c.name}:${seq}`).toString('base64') } : {}),
  }));
}

/**
 * Gemini 3's check: in the current turn (the model's steps after the last user text), the
 * first function call of each step must carry its thought signature; otherwise a 400.
 */
export function missingSignature(body: Json): Outcome | undefined {
  const contents = objects(body.contents);
  let from = 0;
  contents.forEach((c, i) => {
    if (c.role !== 'model' && objects(c.parts).some((p) => typeof p.text === 'string')) from = i + 1;
  });
  for (let i = from; i < contents.length; i++) {
    const c = contents[i]!;
    if (c.role !== 'model') continue;
    const first = objects(c.parts).find((p) => p.functionCall !== undefined);
    if (!first || typeof first.thoughtSignature === 'string') continue;
    const name = isObject(first.functionCall) && typeof first.functionCall.name === 'string' ? first.functionCall.name : '';
    return {
      kind: 'json',
      status: 400,
      body: googleError(
        400,
        'INVALID_ARGUMENT',
        `Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call \`default_api:${name}\` , position ${i + 1}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.`,
      ),
    };
  }
  return undefined;
}

/** Whether the request asks for JSON text (`generationConfig.responseMimeType`). */
export function wantsJson(body: Json): boolean {
  const config = body.generationConfig;
  return isObject(config) && config.responseMimeType === 'application/json';
}

/** The reply as JSON text: kept when it already is JSON, else `{"text": reply}`. */
export function asJsonText(reply: string): string {
  try {
    JSON.parse(reply);
    return reply;
  } catch {
    return JSON.stringify({ text: reply });
  }
}
