/**
 * OpenAI chat messages as Gemini `contents` and `systemInstruction`.
 *
 * - system and developer messages join the system instruction (one part each);
 * - user is `user`, assistant is `model`; its tool calls become functionCall parts carrying
 *   their thought signatures again;
 * - tool results become functionResponse parts of a user turn, named after the call they
 *   answer;
 * - consecutive turns of one role are merged, as Gemini wants them to alternate.
 */
import { z } from 'zod';
import type { NativeBody } from '../../pool/nativeTypes.ts';
import { SKIP_SIGNATURE, type SignatureStore } from './signatures.ts';
import { check, isUnset, need, quoted, RequestRefusal } from './validate.ts';

/** An image fetched from a URL a client sent. */
export interface FetchedImage {
  mimeType: string;
  data: Uint8Array;
}

export interface MessageTranslateOptions {
  /** Fetch `image_url` http(s) URLs (GATEWAY_FETCH_URLS). @default false: such parts are refused */
  fetchUrls?: boolean;
  /** Fetches one image; required with `fetchUrls`. Its error messages reach the client. */
  fetchImage?: (url: string) => Promise<FetchedImage>;
  /** Where the thought signatures of earlier tool calls are kept. */
  signatures?: SignatureStore;
}

type Part = Record<string, unknown>;
interface Content {
  role: 'user' | 'model';
  parts: Part[];
}

const TextPart = z.object({ type: z.literal('text'), text: z.string() });
const RefusalPart = z.object({ type: z.literal('refusal'), refusal: z.string() });
const ImagePart = z.object({
  type: z.literal('image_url'),
  image_url: z.object({ url: z.string(), detail: z.enum(['auto', 'low', 'high']).nullish() }),
});
const AnyPart = z.looseObject({ type: z.string() });
const Message = z.looseObject({ role: z.string() });
const ToolCall = z.object({
  id: z.string().min(1),
  type: z.literal('function'),
  function: z.object({ name: z.string().min(1), arguments: z.string() }),
});
const TextContent = z.union([z.string(), z.array(AnyPart)]);

/** The text of a message whose content may only be text (system, developer, tool). */
function textOnly(content: unknown, param: string): string {
  const value = check(TextContent, content, param);
  if (typeof value === 'string') return value;
  return value
    .map((part, i) => {
      need(part.type === 'text', `${param}[${i}]`, `${param}[${i}]: only text parts are accepted here, not '${quoted(part.type)}'`);
      return check(TextPart, part, `${param}[${i}]`).text;
    })
    .join('');
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** An image part as inlineData: a data URL, or a fetched http(s) URL when allowed. */
async function imagePart(part: unknown, param: string, options: MessageTranslateOptions): Promise<Part> {
  const { url } = check(ImagePart, part, param).image_url;
  const at = `${param}.image_url.url`;
  if (/^data:/i.test(url)) {
    const comma = url.indexOf(',');
    need(comma > 0, at, `${at}: a data URL needs a comma before its data`);
    const [mime = '', ...flags] = url.slice('data:'.length, comma).split(';');
    const mimeType = mime.trim().toLowerCase();
    need(mimeType.startsWith('image/'), at, `${at}: only image data URLs are accepted, not '${mimeType || 'no type'}'`);
    need(flags.some((f) => f.trim().toLowerCase() === 'base64'), at, `${at}: the data URL must be base64 (data:${mimeType};base64,...)`);
    const data = url.slice(comma + 1).replace(/\s+/g, '');
    need(data.length > 0 && BASE64.test(data), at, `${at}: the data URL's data is not valid base64`);
    return { inlineData: { mimeType, data } };
  }
  if (/^https?:\/\//i.test(url)) {
    need(options.fetchUrls === true, at, `${at}: image URLs are not fetched by this gateway; send the image as a data URL (data:image/png;base64,...)`);
    if (!options.fetchImage) throw new TypeError('fetchUrls is set but no fetchImage function was given');
    let image: FetchedImage;
    try {
      image = await options.fetchImage(url);
    } catch (e) {
      const why = e instanceof Error && (e as { brand?: string }).brand === 'ImageFetchError' ? e.message : 'the image could not be fetched';
      throw new RequestRefusal(at, `${at}: ${why}`);
    }
    return { inlineData: { mimeType: image.mimeType, data: Buffer.from(image.data).toString('base64') } };
  }
  throw new RequestRefusal(at, `${at}: only data: and http(s): image URLs are accepted`);
}

/** The parts of a user message. */
async function userParts(content: unknown, param: string, options: MessageTranslateOptions): Promise<Part[]> {
  const value = check(TextContent, content, param);
  if (typeof value === 'string') return value === '' ? [] : [{ text: value }];
  const parts: Part[] = [];
  for (const [i, part] of value.entries()) {
    const at = `${param}[${i}]`;
    if (part.type === 'text') {
      const { text } = check(TextPart, part, at);
      if (text !== '') parts.push({ text });
    } else if (part.type === 'image_url') {
      parts.push(await imagePart(part, at, options));
    } else {
      throw new RequestRefusal(at, `${at}: content parts of type '${quoted(part.type)}' are not supported (text and image_url are)`);
    }
  }
  return parts;
}

/** Parsed tool call arguments: a JSON object, as Gemini's `args` must be. */
function parseArguments(text: string, param: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  let args: unknown;
  try {
    args = JSON.parse(text);
  } catch {
    throw new RequestRefusal(param, `${param}: not valid JSON`);
  }
  need(typeof args === 'object' && args !== null && !Array.isArray(args), param, `${param}: must be a JSON object`);
  return args as Record<string, unknown>;
}

/** A tool's answer as Gemini's functionResponse `response` object. */
function toolResponse(text: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // Plain text: wrapped below.
  }
  return { result: text };
}

/** What a list of OpenAI messages becomes in a Gemini request. */
export interface TranslatedMessages {
  contents: Content[];
  systemInstruction?: NativeBody;
}

/** Translates `messages` (already known to be an array). */
export async function translateMessages(messages: unknown[], options: MessageTranslateOptions): Promise<TranslatedMessages> {
  const system: Part[] = [];
  const contents: Content[] = [];
  /** Function names by tool call id, from the assistant messages seen so far. */
  const callNames = new Map<string, string>();
  const add = (role: Content['role'], parts: Part[]): void => {
    if (parts.length === 0) return;
    const last = contents.at(-1);
    if (last && last.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  };

  for (const [i, raw] of messages.entries()) {
    const param = `messages[${i}]`;
    const message = check(Message, raw, param);
    switch (message.role) {
      case 'system':
      case 'developer': {
        const text = textOnly(message.content, `${param}.content`);
        if (text !== '') system.push({ text });
        break;
      }
      case 'user':
        add('user', await userParts(message.content, `${param}.content`, options));
        break;
      case 'assistant':
        add('model', await assistantParts(message, param, callNames, options));
        break;
      case 'tool': {
        const id = check(z.string().min(1), message.tool_call_id, `${param}.tool_call_id`);
        const name = callNames.get(id);
        need(name !== undefined, `${param}.tool_call_id`, `${param}.tool_call_id: no earlier assistant message has a tool call with this id`);
        const text = textOnly(message.content, `${param}.content`);
        add('user', [{ functionResponse: { name, response: toolResponse(text) } }]);
        break;
      }
      case 'function':
        throw new RequestRefusal(`${param}.role`, `${param}.role: 'function' messages are deprecated and not supported; use tool messages`);
      default:
        throw new RequestRefusal(`${param}.role`, `${param}.role: unknown role '${quoted(message.role)}'`);
    }
  }

  need(contents.length > 0, 'messages', 'messages: at least one user or assistant message with content is required');
  markFirstCalls(contents);
  const out: TranslatedMessages = { contents };
  if (system.length > 0) out.systemInstruction = { parts: system };
  return out;
}

/** The parts of an assistant message: its text, then its tool calls with their signatures. */
async function assistantParts(
  message: Record<string, unknown>,
  param: string,
  callNames: Map<string, string>,
  options: MessageTranslateOptions,
): Promise<Part[]> {
  for (const field of ['function_call', 'audio'] as const) {
    need(isUnset(message[field]), `${param}.${field}`, `${param}.${field}: not supported in assistant messages`);
  }
  const parts: Part[] = [];
  if (!isUnset(message.content)) {
    const value = check(TextContent, message.content, `${param}.content`);
    if (typeof value === 'string') {
      if (value !== '') parts.push({ text: value });
    } else {
      for (const [j, part] of value.entries()) {
        const at = `${param}.content[${j}]`;
        if (part.type === 'refusal') {
          check(RefusalPart, part, at);
          continue; // A refusal was OpenAI's own note to the user, not model text to continue from.
        }
        need(part.type === 'text', at, `${at}: assistant content parts must be text or refusal, not '${quoted(part.type)}'`);
        const { text } = check(TextPart, part, at);
        if (text !== '') parts.push({ text });
      }
    }
  }
  if (!isUnset(message.tool_calls)) {
    const calls = check(z.array(z.unknown()), message.tool_calls, `${param}.tool_calls`);
    for (const [j, raw] of calls.entries()) {
      const at = `${param}.tool_calls[${j}]`;
      const call = check(ToolCall, raw, at);
      callNames.set(call.id, call.function.name);
      const part: Part = { functionCall: { name: call.function.name, args: parseArguments(call.function.arguments, `${at}.function.arguments`) } };
      const signature = await options.signatures?.get(call.id);
      if (signature !== undefined) part.thoughtSignature = signature;
      parts.push(part);
    }
  }
  return parts;
}

/**
 * Gemini checks the signature of the first function call of each model turn. When we no
 * longer hold it, the documented placeholder goes there instead, so the turn is accepted.
 */
function markFirstCalls(contents: Content[]): void {
  for (const content of contents) {
    if (content.role !== 'model') continue;
    const first = content.parts.find((p) => p.functionCall !== undefined);
    if (first && first.thoughtSignature === undefined) first.thoughtSignature = SKIP_SIGNATURE;
  }
}
