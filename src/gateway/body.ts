/**
 * Reading a request's JSON body. The size limit is Hono's `bodyLimit` (server.ts); this
 * only says, in the dialect's words, what is wrong with what arrived.
 */
import type { Context } from 'hono';
import type { NativeBody } from '../pool/nativeTypes.ts';

/** The body as a JSON object, or why not. */
export async function readJsonObject(c: Context): Promise<{ ok: true; body: NativeBody } | { ok: false; status: 400; message: string }> {
  let text: string;
  try {
    text = await c.req.text();
  } catch {
    return { ok: false, status: 400, message: 'the request body could not be read' };
  }
  if (text.trim() === '') return { ok: false, status: 400, message: 'the request body is empty: a JSON object is required' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, status: 400, message: 'the request body is not valid JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { ok: false, status: 400, message: 'the request body must be a JSON object' };
  return { ok: true, body: parsed as NativeBody };
}
