import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Attachments, attachmentRefusal, download, fileKind, fileNote } from '../../src/bot/attachments.ts';
import { encodePng } from '../../src/bot/gifFrame.ts';

const PNG = encodePng(1, 1, Uint8Array.from([1, 2, 3, 255]));
const MB = 1024 * 1024;

describe('which files Gemini gets', () => {
  it('reads images, GIFs, PDFs and text or code files; nothing else', () => {
    expect(fileKind({ name: 'a.png', contentType: 'image/png' })).toEqual({ kind: 'inline', mimeType: 'image/png' });
    expect(fileKind({ name: 'a.JPG', contentType: null })).toEqual({ kind: 'inline', mimeType: 'image/jpeg' });
    expect(fileKind({ name: 'anim.gif', contentType: 'image/gif' })).toEqual({ kind: 'gif' });
    expect(fileKind({ name: 'paper.pdf', contentType: 'application/pdf' })).toEqual({ kind: 'inline', mimeType: 'application/pdf' });
    // A TypeScript file often arrives as video/mp2t: its ending says what it is.
    expect(fileKind({ name: 'main.ts', contentType: 'video/mp2t' })).toEqual({ kind: 'text' });
    expect(fileKind({ name: 'Dockerfile', contentType: null })).toEqual({ kind: 'text' });
    expect(fileKind({ name: 'notes', contentType: 'text/plain; charset=utf-8' })).toEqual({ kind: 'text' });
    expect(fileKind({ name: 'song.mp3', contentType: 'audio/mpeg' })).toBeUndefined();
    expect(fileKind({ name: 'archive.zip', contentType: 'application/zip' })).toBeUndefined();
  });

  it('refuses on what Discord says: the types it cannot read, a file over the limit, too much for one request', () => {
    const limits = { maxFileBytes: 15 * MB, maxRequestBytes: 19 * MB };
    expect(attachmentRefusal([{ url: 'u', name: 'a.zip', sizeBytes: 1 }, { url: 'u', name: 'b.exe', sizeBytes: 1 }, { url: 'u', name: 'c.zip', sizeBytes: 1 }], limits)).toEqual({
      kind: 'unsupported_file',
      fileTypes: ['.zip', '.exe'],
    });
    expect(attachmentRefusal([{ url: 'u', name: 'big.png', sizeBytes: 16 * MB }], limits)).toMatchObject({ kind: 'file_too_big', fileName: 'big.png' });
    // Two 8 MB images are 21.3 MB once base64-encoded: more than one request takes.
    expect(attachmentRefusal([{ url: 'u', name: 'a.png', sizeBytes: 8 * MB }, { url: 'u', name: 'b.png', sizeBytes: 8 * MB }], limits)).toMatchObject({ kind: 'files_too_big' });
    // The same in text files is 16 MB as sent: it fits.
    expect(attachmentRefusal([{ url: 'u', name: 'a.txt', sizeBytes: 8 * MB }, { url: 'u', name: 'b.txt', sizeBytes: 8 * MB }], limits)).toBeUndefined();
  });
});

describe('download', () => {
  let server: http.Server;
  let origin = '';
  const hits: string[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      hits.push(req.url ?? '');
      if (req.url === '/redirect') {
        res.writeHead(302, { location: 'http://127.0.0.1:9/elsewhere' });
        res.end();
      } else if (req.url === '/stream') {
        // No Content-Length: only counting what arrives tells the size.
        res.writeHead(200, { 'content-type': 'image/png' });
        const timer = setInterval(() => res.write(Buffer.alloc(64 * 1024)), 1);
        res.on('close', () => clearInterval(timer));
      } else if (req.url === '/slow') {
        res.writeHead(200);
        res.write('x');
      } else res.end(PNG);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('downloads only from the allowed origins', async () => {
    const before = hits.length;
    expect(await download(`${origin}/ok.png`, { allowedOrigins: ['https://cdn.discordapp.com'], maxBytes: MB, timeoutMs: 2000 })).toEqual({ ok: false, reason: 'not_discord' });
    expect(await download('not a url', { allowedOrigins: [origin], maxBytes: MB, timeoutMs: 2000 })).toEqual({ ok: false, reason: 'not_discord' });
    expect(hits.length).toBe(before);
    expect(await download(`${origin}/ok.png`, { allowedOrigins: [origin], maxBytes: MB, timeoutMs: 2000 })).toEqual({ ok: true, bytes: PNG });
  });

  it('follows no redirect, stops at the size cap while reading, and gives up at the timeout', async () => {
    expect(await download(`${origin}/redirect`, { allowedOrigins: [origin], maxBytes: MB, timeoutMs: 2000 })).toEqual({ ok: false, reason: 'failed' });
    expect(await download(`${origin}/stream`, { allowedOrigins: [origin], maxBytes: MB, timeoutMs: 10_000 })).toEqual({ ok: false, reason: 'too_big' });
    expect(await download(`${origin}/slow`, { allowedOrigins: [origin], maxBytes: MB, timeoutMs: 200 })).toEqual({ ok: false, reason: 'failed' });
  });

  it('a conversation\'s earlier files come from memory within the request\'s room, else as notes', async () => {
    const files = new Attachments({ maxFileBytes: MB, allowedOrigins: [origin], cacheBytes: 1000 });
    const meta = { url: `${origin}/ok.png?ex=1`, name: 'ok.png', contentType: 'image/png', sizeBytes: PNG.length };
    const loaded = await files.load([meta]);
    expect(loaded.ok).toBe(true);
    const ref = { url: `${origin}/ok.png?ex=2`, name: 'ok.png', mimeType: 'image/png' };
    const part = { inlineData: { mimeType: 'image/png', data: PNG.toString('base64') } };
    // A newer signature of the same URL is the same file.
    expect(files.remembered([ref], { bytes: 1000 })).toEqual([part]);
    expect(files.remembered([ref], { bytes: 10 })).toEqual([fileNote(ref)]);
    const gone = { url: `${origin}/other.png`, name: 'other.png', mimeType: 'image/png' };
    expect(files.history([{ role: 'user', parts: [{ text: 'Alice: look' }, { fileRef: gone }, { fileRef: ref }] }], { bytes: 1000 })).toEqual([
      { role: 'user', parts: [{ text: 'Alice: look' }, { text: '[other.png: a file shared earlier, no longer at hand]' }, part] },
    ]);
  });

  it('forgets the least recently used files past its size', async () => {
    const files = new Attachments({ maxFileBytes: MB, allowedOrigins: [origin], cacheBytes: 2 * PNG.toString('base64').length });
    const meta = (n: number) => ({ url: `${origin}/f${n}.png`, name: `f${n}.png`, contentType: 'image/png', sizeBytes: PNG.length });
    const ref = (n: number) => ({ url: meta(n).url, name: meta(n).name, mimeType: 'image/png' });
    for (const n of [1, 2, 3]) await files.load([meta(n)]);
    const kept = (n: number) => 'inlineData' in files.remembered([ref(n)], { bytes: MB })[0]!;
    expect([kept(1), kept(2), kept(3)]).toEqual([false, true, true]);
  });
});
