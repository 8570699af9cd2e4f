/**
 * End to end: files sent with a question. Images, GIFs (first frame), PDFs and text files
 * reach the fake Gemini as parts; other types, oversize files and files that lie about
 * their size are refused in one line; only the URL Discord gives is downloaded, from the
 * fake's CDN route, never a URL written in the message.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePng } from '../../src/bot/gifFrame.ts';
import { APP_ID, CHANNEL_ID, alice, bob, expectWorldInvariants, replyAnswer, startWorld, str, waitForAnswer, type World } from './harness.ts';

type Part = { text?: string; inlineData?: { mimeType: string; data: string } };
type Turns = Array<{ role: string; parts: Part[] }>;

/** A real 2x2 PNG. */
const PNG = encodePng(2, 2, Uint8Array.from({ length: 16 }, (_, i) => (i % 4 === 3 ? 255 : i * 16)));
/** The smallest real GIF (1x1, transparent). */
const GIF = Buffer.from('R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==', 'base64');
const FOOTER = /\n-# \S+ · /;

const lastRequest = (w: World) => w.gemini.requests.filter((r) => r.route === 'streamGenerateContent').at(-1)!;
const lastTurn = (w: World): Part[] => (lastRequest(w).body.contents as Turns).at(-1)!.parts;

describe('files with a question', () => {
  let w: World;
  let elsewhere: http.Server;
  let elsewhereHits = 0;
  let elsewhereUrl = '';
  beforeAll(async () => {
    w = await startWorld({ env: { MAX_ATTACHMENT_MB: '1' } });
    elsewhere = http.createServer((_req, res) => {
      elsewhereHits++;
      res.end('secret');
    });
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
    elsewhereUrl = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}/image.png`;
  });
  afterAll(async () => {
    await new Promise((resolve) => elsewhere?.close(resolve));
    if (!w) return;
    expectWorldInvariants(w);
    await w.close();
  });

  it('an image on a mention reaches Gemini as inlineData, downloaded once from the URL Discord gave', async () => {
    const cdnBefore = w.discord.cdnRequests.length;
    const asked = w.discord.sendUserMessage({
      channelId: CHANNEL_ID,
      content: `<@${APP_ID}> what is in this picture?`,
      author: alice,
      attachments: [{ filename: 'photo.png', contentType: 'image/png', data: PNG }],
    });
    const [answer] = await replyAnswer(w, asked);
    expect(answer!.content).toContain('echo: Alice: what is in this picture?');
    expect(lastTurn(w)).toEqual([{ text: 'Alice: what is in this picture?' }, { inlineData: { mimeType: 'image/png', data: PNG.toString('base64') } }]);
    expect(w.discord.cdnRequests.slice(cdnBefore)).toEqual([`/attachments/${CHANNEL_ID}/${w.discord.userMessages.get(asked.id)!.attachments[0]!.id}/photo.png`]);

    // A reply to the answer sends the image again from memory, not from a second download.
    const followUp = w.discord.sendUserMessage({ channelId: CHANNEL_ID, content: 'and the colours?', author: bob, replyTo: answer!.id });
    await replyAnswer(w, followUp);
    const contents = lastRequest(w).body.contents as Turns;
    expect(contents[0]!.parts[1]).toEqual({ inlineData: { mimeType: 'image/png', data: PNG.toString('base64') } });
    expect(w.discord.cdnRequests.length).toBe(cdnBefore + 1);
  });

  it('an image with no words is described; a GIF goes as its first frame in PNG; a text file as text', async () => {
    const gif = w.discord.sendUserMessage({ channelId: CHANNEL_ID, content: `<@${APP_ID}>`, author: alice, attachments: [{ filename: 'cat.gif', contentType: 'image/gif', data: GIF }] });
    await replyAnswer(w, gif);
    const [text, image] = lastTurn(w);
    expect(text).toEqual({ text: 'Alice: Describe this.' });
    expect(image!.inlineData!.mimeType).toBe('image/png');
    expect(Buffer.from(image!.inlineData!.data, 'base64').subarray(1, 4).toString('latin1')).toBe('PNG');

    const code = w.discord.sendUserMessage({
      channelId: CHANNEL_ID,
      content: `<@${APP_ID}> review this`,
      author: alice,
      attachments: [{ filename: 'main.py', contentType: 'text/x-python; charset=utf-8', data: 'print("hi")\n' }],
    });
    await replyAnswer(w, code);
    expect(lastTurn(w)).toEqual([{ text: 'Alice: review this' }, { text: 'File main.py:\n```\nprint("hi")\n\n```' }]);
  });

  it('refuses an unsupported type, an oversize file and a file that lies about its size, in one line each, without calling Gemini', async () => {
    const before = w.gemini.requests.length;
    const zip = w.discord.sendUserMessage({ channelId: CHANNEL_ID, content: `<@${APP_ID}> unzip`, author: alice, attachments: [{ filename: 'stuff.xyz', data: 'PK' }] });
    const [refusedZip] = await replyAnswer(w, zip, { done: () => true });
    expect(refusedZip!.content).toBe("📎 I can't read .xyz files (I read images, PDFs and text or code files).");

    const cdnBefore = w.discord.cdnRequests.length;
    const big = Buffer.alloc(2 * 1024 * 1024, 1);
    const huge = w.discord.sendUserMessage({ channelId: CHANNEL_ID, content: `<@${APP_ID}> look`, author: alice, attachments: [{ filename: 'huge.png', contentType: 'image/png', data: big }] });
    const [refusedHuge] = await replyAnswer(w, huge, { done: () => true });
    expect(refusedHuge!.content).toBe('📎 huge.png is too big (2 MB): the limit is 1 MB a file.');
    // Refused on what Discord says: nothing was downloaded.
    expect(w.discord.cdnRequests.length).toBe(cdnBefore);

    const liar = w.discord.sendUserMessage({
      channelId: CHANNEL_ID,
      content: `<@${APP_ID}> look again`,
      author: alice,
      attachments: [{ filename: 'small.png', contentType: 'image/png', data: Buffer.concat([PNG, big]), declaredSize: 1000, omitLength: true }],
    });
    const [refusedLiar] = await replyAnswer(w, liar, { done: () => true });
    expect(refusedLiar!.content).toBe('📎 small.png is too big: the limit is 1 MB a file.');
    expect(w.discord.cdnRequests.length).toBe(cdnBefore + 1);
    expect(w.gemini.requests.length).toBe(before);

    // The bot is fine: the next question is answered.
    const after = w.discord.sendUserMessage({ channelId: CHANNEL_ID, content: `<@${APP_ID}> still there?`, author: alice });
    expect((await replyAnswer(w, after))[0]!.content).toContain('echo: Alice: still there?');
  });

  it('never fetches a URL written in the message, even one of the fake CDN', async () => {
    const other = w.discord.upload({ filename: 'other.png', contentType: 'image/png', data: PNG });
    const cdnBefore = w.discord.cdnRequests.length;
    const asked = w.discord.sendUserMessage({
      channelId: CHANNEL_ID,
      content: `<@${APP_ID}> what is at ${elsewhereUrl} and ${w.discord.attachmentUrl(CHANNEL_ID, other)} ?`,
      author: alice,
    });
    await replyAnswer(w, asked);
    expect(lastTurn(w)).toHaveLength(1);
    expect(w.discord.cdnRequests.length).toBe(cdnBefore);
    expect(elsewhereHits).toBe(0);
  });

  it('/ask and /chat take an attachment option; a chat keeps the file as a reference and sends it again from memory', async () => {
    const pdf = w.discord.upload({ filename: 'paper.pdf', contentType: 'application/pdf', data: '%PDF-1.4 fake' });
    const asked = await w.discord.sendCommand({ name: 'ask', options: [str('prompt', 'summarize'), { name: 'attachment', type: 11, value: pdf.id }], user: alice, channelId: CHANNEL_ID });
    await waitForAnswer(w, asked);
    expect(lastTurn(w)).toEqual([{ text: 'summarize' }, { inlineData: { mimeType: 'application/pdf', data: Buffer.from('%PDF-1.4 fake').toString('base64') } }]);

    const photo = w.discord.upload({ filename: 'trip.png', contentType: 'image/png', data: PNG });
    await w.discord.sendCommand({ name: 'chat', options: [str('prompt', 'look at my trip'), { name: 'attachment', type: 11, value: photo.id }], user: bob, channelId: CHANNEL_ID });
    const thread = await w.discord.waitFor(() => [...w.discord.threads.values()].find((t) => t.name === 'look at my trip'));
    await w.discord.waitFor(() => w.discord.channelMessages(thread.id).some((m) => FOOTER.test(m.content)), 5000);
    await w.discord.waitFor(() => w.bot.gate.inFlight === 0, 2000);
    const stored = (await w.bot.store.getConversation(thread.id))!;
    expect(stored.history[0]!.parts).toEqual([{ text: 'Bob: look at my trip' }, { fileRef: { url: expect.stringContaining(`/${photo.id}/trip.png`), mimeType: 'image/png', name: 'trip.png' } }]);
    expect(JSON.stringify(stored)).not.toContain(PNG.toString('base64'));

    const cdnBefore = w.discord.cdnRequests.length;
    const next = w.discord.sendUserMessage({ channelId: thread.id, content: 'where was it?', author: bob });
    await replyAnswer(w, next);
    const contents = lastRequest(w).body.contents as Turns;
    expect(contents[0]!.parts[1]).toEqual({ inlineData: { mimeType: 'image/png', data: PNG.toString('base64') } });
    expect(w.discord.cdnRequests.length).toBe(cdnBefore);
  });
});
