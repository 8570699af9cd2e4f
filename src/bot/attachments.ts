/**
 * Files people send with a question: images (PNG, JPEG, WebP, HEIC; a GIF as its first
 * frame), PDFs, and text or code files go to Gemini with the prompt, as inline parts (text
 * files as text); any other type is refused in one line. A file is downloaded only from
 * the URL Discord gives for it, only from Discord's attachment hosts, with a timeout, and
 * its size is counted while reading (a wrong or missing Content-Length changes nothing).
 * What was downloaded stays a while in a small memory cache, so a conversation's earlier
 * files go to Gemini again without a second download; once gone from it, a file is a
 * one-line note in the history. Stored conversations keep references, never the bytes.
 */
import type { ChatPart, ChatTurn } from '../pool/types.ts';
import type { StoredFileRef, StoredTurn } from '../store/types.ts';
import { gifFirstFrameAsPng } from './gifFrame.ts';
import type { Failure } from './userText.ts';

/** A file as Discord describes it: where it is, its name, type and size. */
export interface AttachmentMeta {
  url: string;
  name: string;
  contentType?: string | null | undefined;
  /** What Discord says; the download counts for itself. */
  sizeBytes: number;
}

/** Discord's attachment hosts: the only places files are downloaded from (besides a configured test server). */
export const DISCORD_ATTACHMENT_ORIGINS = ['https://cdn.discordapp.com', 'https://media.discordapp.net'] as const;

/**
 * Gemini refuses a request over 20 MB; files travel base64-encoded (4 bytes for 3), and
 * the text of the conversation needs room too.
 */
export const GEMINI_REQUEST_BYTES = 20 * 1024 * 1024;
const TEXT_ROOM_BYTES = 1024 * 1024;

/** What the model reads when a message has files and no words. */
export const DESCRIBE_THIS_TEXT = 'Describe this.';

/** Image types Gemini reads inline. */
const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/webp', 'image/heic', 'image/heif']);

/** File name endings read as text (code and data files often come with no useful content type). */
const TEXT_EXTENSIONS = new Set(
  ('txt md markdown rst csv tsv json jsonl ndjson yaml yml toml ini cfg conf log xml html htm css scss less js mjs cjs ts tsx jsx ' +
    'py rb go rs java kt kts c h cc cpp hpp cs php sh bash zsh fish ps1 bat sql swift lua r pl scala dart vue svelte tex diff patch ' +
    'gradle properties env dockerfile makefile cmake graphql proto').split(' '),
);

/** Content types read as text besides `text/*`. */
const TEXT_TYPES = new Set(['application/json', 'application/xml', 'application/javascript', 'application/x-yaml', 'application/yaml', 'application/x-sh', 'application/sql', 'application/toml']);

/** How a file goes to Gemini. */
export type FileKind = { kind: 'inline'; mimeType: string } | { kind: 'gif' } | { kind: 'text' };

/** `.zip`, or '' for a name without an ending. */
export function extensionOf(name: string): string {
  const m = /\.([A-Za-z0-9]{1,12})$/.exec(name);
  return m ? `.${m[1]!.toLowerCase()}` : '';
}

/** How Gemini gets this file, or undefined when it cannot read it. */
export function fileKind(meta: Pick<AttachmentMeta, 'name' | 'contentType'>): FileKind | undefined {
  const type = (meta.contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const ext = extensionOf(meta.name);
  if (TEXT_EXTENSIONS.has(ext.slice(1)) || TEXT_EXTENSIONS.has(meta.name.toLowerCase())) return { kind: 'text' };
  if (type === 'image/gif' || ext === '.gif') return { kind: 'gif' };
  if (IMAGE_TYPES.has(type)) return { kind: 'inline', mimeType: type };
  if (type === 'application/pdf' || ext === '.pdf') return { kind: 'inline', mimeType: 'application/pdf' };
  const byExt: Record<string, string> = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp', '.heic': 'image/heic', '.heif': 'image/heif' };
  if (byExt[ext]) return { kind: 'inline', mimeType: byExt[ext] };
  if (type.startsWith('text/') || TEXT_TYPES.has(type)) return { kind: 'text' };
  return undefined;
}

/** Bytes a part adds to a Gemini request: base64 for a file, UTF-8 for text. */
export function requestBytesOf(part: ChatPart): number {
  return 'text' in part ? Buffer.byteLength(part.text) : part.inlineData.data.length;
}

/** Bytes a file of `sizeBytes` adds once encoded (a text file goes as it is). */
const encodedBytes = (sizeBytes: number, kind: FileKind): number => (kind.kind === 'text' ? sizeBytes : Math.ceil(sizeBytes / 3) * 4);

/** The limits files are held to. */
export interface AttachmentLimits {
  /** MAX_ATTACHMENT_MB, in bytes: the largest file downloaded. */
  maxFileBytes: number;
  /** What the files of one request may add to it, encoded. @default 19 MB (Gemini's 20 MB, less room for text) */
  maxRequestBytes?: number;
}

/**
 * Why these files cannot go with a request, from what Discord says of them: a type Gemini
 * cannot read, a file over MAX_ATTACHMENT_MB, or more than one request carries. Undefined
 * when they can (the download still counts for itself).
 */
export function attachmentRefusal(metas: readonly AttachmentMeta[], limits: AttachmentLimits): Failure | undefined {
  const unreadable = metas.filter((m) => !fileKind(m));
  if (unreadable.length > 0) {
    const types = [...new Set(unreadable.map((m) => extensionOf(m.name) || (m.contentType ?? '').split(';')[0]!.trim() || 'these'))];
    return { kind: 'unsupported_file', fileTypes: types };
  }
  const big = metas.find((m) => m.sizeBytes > limits.maxFileBytes);
  if (big) return { kind: 'file_too_big', fileName: big.name, sizeBytes: big.sizeBytes, maxBytes: limits.maxFileBytes };
  const maxRequestBytes = limits.maxRequestBytes ?? GEMINI_REQUEST_BYTES - TEXT_ROOM_BYTES;
  const total = metas.reduce((n, m) => n + encodedBytes(m.sizeBytes, fileKind(m)!), 0);
  if (total > maxRequestBytes) return { kind: 'files_too_big', sizeBytes: total, maxBytes: maxRequestBytes };
  return undefined;
}

/** The outcome of a download. */
export type Download = { ok: true; bytes: Buffer } | { ok: false; reason: 'not_discord' | 'too_big' | 'failed' };

/** Options of {@link download}. */
export interface DownloadOptions {
  /** Origins (`https://cdn.discordapp.com`) a file may come from. */
  allowedOrigins: readonly string[];
  maxBytes: number;
  timeoutMs: number;
  /** Cancels the download (the bot is stopping). */
  signal?: AbortSignal;
  /** @default globalThis.fetch */
  fetch?: typeof globalThis.fetch;
}

/**
 * Downloads a file Discord serves: only from `allowedOrigins`, no redirects, within
 * `timeoutMs`, and never more than `maxBytes` (counted as the bytes arrive).
 */
export async function download(url: string, options: DownloadOptions): Promise<Download> {
  let origin: string;
  try {
    origin = new URL(url).origin;
  } catch {
    return { ok: false, reason: 'not_discord' };
  }
  if (!options.allowedOrigins.includes(origin)) return { ok: false, reason: 'not_discord' };
  const signals = [AbortSignal.timeout(options.timeoutMs), ...(options.signal ? [options.signal] : [])];
  const signal = AbortSignal.any(signals);
  try {
    const res = await (options.fetch ?? globalThis.fetch)(url, { redirect: 'error', signal });
    if (!res.ok || !res.body) {
      await res.body?.cancel().catch(() => undefined);
      return { ok: false, reason: 'failed' };
    }
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > options.maxBytes) {
      await res.body.cancel().catch(() => undefined);
      return { ok: false, reason: 'too_big' };
    }
    const chunks: Uint8Array[] = [];
    let received = 0;
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.byteLength;
      if (received > options.maxBytes) {
        await reader.cancel().catch(() => undefined);
        return { ok: false, reason: 'too_big' };
      }
      chunks.push(value);
    }
    return { ok: true, bytes: Buffer.concat(chunks) };
  } catch {
    return { ok: false, reason: 'failed' };
  }
}

/** Signatures of the inline types, to trust the bytes over the name. */
function sniff(bytes: Buffer): string | undefined {
  if (bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.subarray(0, 4).toString('latin1') === 'RIFF' && bytes.subarray(8, 12).toString('latin1') === 'WEBP') return 'image/webp';
  if (bytes.subarray(0, 4).toString('latin1') === 'GIF8') return 'image/gif';
  if (bytes.subarray(0, 5).toString('latin1') === '%PDF-') return 'application/pdf';
  if (bytes.subarray(4, 8).toString('latin1') === 'ftyp') return 'image/heic';
  return undefined;
}

/** A text file as the model reads it: its name, then its content in a fence longer than any inside it. */
export function textFilePart(name: string, content: string): ChatPart {
  const longest = Math.max(2, ...[...content.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return { text: `File ${name}:\n${fence}\n${content}\n${fence}` };
}

/** The bytes of a downloaded file as the part Gemini gets, or undefined when they are not what the file claims. */
export function partOf(meta: AttachmentMeta, bytes: Buffer): ChatPart | undefined {
  const kind = fileKind(meta);
  if (!kind) return undefined;
  if (kind.kind === 'text') {
    if (bytes.includes(0)) return undefined;
    try {
      return textFilePart(meta.name, new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    } catch {
      return undefined;
    }
  }
  const actual = sniff(bytes);
  if (actual === 'image/gif') {
    try {
      return { inlineData: { mimeType: 'image/png', data: gifFirstFrameAsPng(bytes).toString('base64') } };
    } catch {
      return undefined;
    }
  }
  if (!actual) return undefined;
  return { inlineData: { mimeType: actual, data: bytes.toString('base64') } };
}

/** A file of the history no longer at hand: what the model reads instead of it. */
export function fileNote(ref: Pick<StoredFileRef, 'name'>): ChatPart {
  return { text: `[${ref.name}: a file shared earlier, no longer at hand]` };
}

/** What {@link Attachments.load} gives: the parts for Gemini and the references to keep, or why not. */
export type Loaded = { ok: true; parts: ChatPart[]; refs: StoredFileRef[] } | { ok: false; failure: Failure };

/** Options of {@link Attachments}. */
export interface AttachmentsOptions extends AttachmentLimits {
  /** Origins files may come from. @default Discord's attachment hosts */
  allowedOrigins?: readonly string[];
  /** @default 15_000 */
  timeoutMs?: number;
  /** Bytes the memory cache keeps (encoded parts). @default 64 MB */
  cacheBytes?: number;
  /** @default globalThis.fetch */
  fetch?: typeof globalThis.fetch;
}

/** The key of a file: its URL without the query (Discord signs URLs with parameters that change). */
const cacheKey = (url: string): string => url.replace(/[?#].*$/, '');

/** Downloads, converts and remembers files; see the module comment. */
export class Attachments {
  readonly limits: Required<AttachmentLimits>;
  readonly #allowedOrigins: readonly string[];
  readonly #timeoutMs: number;
  readonly #cacheBytes: number;
  readonly #fetch: typeof globalThis.fetch | undefined;
  /** Least recently used first. */
  readonly #cache = new Map<string, { part: ChatPart; bytes: number }>();
  #cachedBytes = 0;

  constructor(options: AttachmentsOptions) {
    this.limits = { maxFileBytes: options.maxFileBytes, maxRequestBytes: options.maxRequestBytes ?? GEMINI_REQUEST_BYTES - TEXT_ROOM_BYTES };
    this.#allowedOrigins = options.allowedOrigins ?? DISCORD_ATTACHMENT_ORIGINS;
    this.#timeoutMs = options.timeoutMs ?? 15_000;
    this.#cacheBytes = options.cacheBytes ?? 64 * 1024 * 1024;
    this.#fetch = options.fetch;
  }

  /** {@link attachmentRefusal} with these limits. */
  refusal(metas: readonly AttachmentMeta[]): Failure | undefined {
    return attachmentRefusal(metas, this.limits);
  }

  /** Downloads (or takes from the cache) and converts each file; one that fails fails them all. */
  async load(metas: readonly AttachmentMeta[], signal?: AbortSignal): Promise<Loaded> {
    const refused = this.refusal(metas);
    if (refused) return { ok: false, failure: refused };
    const parts: ChatPart[] = [];
    const refs: StoredFileRef[] = [];
    let total = 0;
    for (const meta of metas) {
      const key = cacheKey(meta.url);
      let part = this.#take(key);
      if (!part) {
        const got = await download(meta.url, {
          allowedOrigins: this.#allowedOrigins,
          maxBytes: this.limits.maxFileBytes,
          timeoutMs: this.#timeoutMs,
          ...(signal ? { signal } : {}),
          ...(this.#fetch ? { fetch: this.#fetch } : {}),
        });
        if (!got.ok && got.reason === 'too_big') {
          return { ok: false, failure: { kind: 'file_too_big', fileName: meta.name, maxBytes: this.limits.maxFileBytes } };
        }
        part = got.ok ? partOf(meta, got.bytes) : undefined;
        if (!part) return { ok: false, failure: { kind: 'file_unreadable', fileName: meta.name } };
        this.#remember(key, part);
      }
      total += requestBytesOf(part);
      if (total > this.limits.maxRequestBytes) return { ok: false, failure: { kind: 'files_too_big', sizeBytes: total, maxBytes: this.limits.maxRequestBytes } };
      parts.push(part);
      refs.push({ url: meta.url, name: meta.name, mimeType: 'inlineData' in part ? part.inlineData.mimeType : 'text/plain' });
    }
    return { ok: true, parts, refs };
  }

  /**
   * Earlier files of a conversation: each as its part while the cache still has it and the
   * request has room (newest first), else as a one-line note. Nothing is downloaded.
   */
  remembered(refs: readonly StoredFileRef[], budget: { bytes: number }): ChatPart[] {
    const out: ChatPart[] = [];
    for (let i = refs.length - 1; i >= 0; i--) {
      const part = this.#take(cacheKey(refs[i]!.url));
      const bytes = part ? requestBytesOf(part) : 0;
      if (part && bytes <= budget.bytes) {
        budget.bytes -= bytes;
        out.unshift(part);
      } else out.unshift(fileNote(refs[i]!));
    }
    return out;
  }

  /** A stored history as Gemini's turns: its files from the cache within `budget` (newest first), or notes. */
  history(turns: readonly StoredTurn[], budget: { bytes: number }): ChatTurn[] {
    const out: ChatTurn[] = [];
    for (let t = turns.length - 1; t >= 0; t--) {
      const turn = turns[t]!;
      const refs = turn.parts.flatMap((p) => ('fileRef' in p ? [p.fileRef] : []));
      const files = this.remembered(refs, budget);
      let f = 0;
      out.unshift({ role: turn.role, parts: turn.parts.map((p) => ('fileRef' in p ? files[f++]! : p)) });
    }
    return out;
  }

  /** What the files of a request still leave for earlier ones. */
  budgetAfter(parts: readonly ChatPart[]): { bytes: number } {
    return { bytes: Math.max(0, this.limits.maxRequestBytes - parts.reduce((n, p) => n + requestBytesOf(p), 0)) };
  }

  #take(key: string): ChatPart | undefined {
    const hit = this.#cache.get(key);
    if (!hit) return undefined;
    this.#cache.delete(key);
    this.#cache.set(key, hit);
    return hit.part;
  }

  #remember(key: string, part: ChatPart): void {
    const bytes = requestBytesOf(part);
    if (bytes > this.#cacheBytes) return;
    const before = this.#cache.get(key);
    if (before) this.#cachedBytes -= before.bytes;
    this.#cache.delete(key);
    this.#cache.set(key, { part, bytes });
    this.#cachedBytes += bytes;
    for (const [k, v] of this.#cache) {
      if (this.#cachedBytes <= this.#cacheBytes) break;
      this.#cache.delete(k);
      this.#cachedBytes -= v.bytes;
    }
  }
}

/** The files of a discord.js message or option, as {@link AttachmentMeta}. */
export function attachmentMetas(list: Iterable<{ url: string; name: string; contentType: string | null; size: number }>): AttachmentMeta[] {
  return [...list].map((a) => ({ url: a.url, name: a.name, contentType: a.contentType, sizeBytes: a.size }));
}

/** The `attachment` option of a slash command, as {@link AttachmentMeta} (none or one). */
export function attachmentOption(interaction: { options: { getAttachment(name: string): { url: string; name: string; contentType: string | null; size: number } | null } }): AttachmentMeta[] {
  const a = interaction.options.getAttachment('attachment');
  return a ? attachmentMetas([a]) : [];
}
