/**
 * The image fetcher refuses every address a client could use to reach something private
 * through the gateway. Refusals of non-loopback addresses happen before any connection, so
 * these tests send nothing anywhere but 127.0.0.1.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchImage, isImageFetchError, isPublicAddress, type FetchImageOptions, type ImageFetchReason } from '../../src/gateway/fetchImage.ts';

const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
let server: Server;
let port = 0;
const hits: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? '/';
    hits.push(path);
    const hop = /^\/hop\/(\d+)$/.exec(path);
    if (path === '/cat.png') {
      res.writeHead(200, { 'content-type': 'image/png; charset=binary', 'content-length': PNG.length });
      res.end(PNG);
    } else if (hop) {
      const left = Number(hop[1]);
      res.writeHead(302, { location: left <= 1 ? '/cat.png' : `/hop/${left - 1}` });
      res.end();
    } else if (path.startsWith('/redirect?to=')) {
      res.writeHead(307, { location: decodeURIComponent(path.slice('/redirect?to='.length)) });
      res.end();
    } else if (path === '/page') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html></html>');
    } else if (path === '/big') {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': 5000 });
      res.end(Buffer.alloc(5000));
    } else if (path === '/big-chunked') {
      res.writeHead(200, { 'content-type': 'image/png' });
      // Bounded: 64 chunks of 1 KiB, far past the cap, then the end.
      let sent = 0;
      const next = (): void => {
        if (sent++ >= 64 || res.destroyed) return void res.end();
        res.write(Buffer.alloc(1024), () => setImmediate(next));
      };
      next();
    } else if (path === '/hang') {
      // Never answers; the client's timeout ends it, the server's close cleans up.
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const base = { maxBytes: 1000, timeoutMs: 5000 } satisfies FetchImageOptions;
/** The test's own server, allowed on purpose; every other address stays refused. */
const onlyOurServer = { ...base, allowAddress: (address: string) => address === '127.0.0.1' } satisfies FetchImageOptions;
const local = (path: string, host = '127.0.0.1') => `http://${host}:${port}${path}`;

async function refusal(url: string, options: FetchImageOptions): Promise<ImageFetchReason> {
  try {
    await fetchImage(url, options);
  } catch (e) {
    if (isImageFetchError(e)) return e.reason;
    throw e;
  }
  throw new Error(`fetched ${url}`);
}

describe('fetchImage refuses non-public addresses (default policy)', () => {
  it.each([
    ['127.0.0.1', () => local('/cat.png')],
    ['::1', () => local('/cat.png', '[::1]')],
    ['10.x', () => 'http://10.0.0.1/cat.png'],
    ['172.16.x', () => 'http://172.16.5.4/cat.png'],
    ['192.168.x', () => 'http://192.168.1.1/cat.png'],
    ['169.254.x (cloud metadata)', () => 'http://169.254.169.254/latest/meta-data/'],
    ['CGNAT 100.64.x', () => 'http://100.64.0.1/x.png'],
    ['unspecified 0.0.0.0', () => `http://0.0.0.0:${port}/cat.png`],
    ['multicast', () => 'http://224.0.0.1/x.png'],
    ['IPv4-mapped loopback', () => local('/cat.png', '[::ffff:127.0.0.1]')],
    ['IPv4-mapped private, hex form', () => 'http://[::ffff:a00:1]/x.png'],
    ['IPv4-compatible loopback', () => 'http://[::127.0.0.1]/x.png'],
    ['link-local IPv6', () => 'http://[fe80::1]/x.png'],
    ['unique-local IPv6', () => 'http://[fd00::1]/x.png'],
    ['NAT64 of a private address', () => 'http://[64:ff9b::a00:1]/x.png'],
    ['decimal loopback', () => `http://2130706433:${port}/cat.png`],
    ['short-form loopback', () => `http://127.1:${port}/cat.png`],
  ])('%s', async (_name, url) => {
    const before = hits.length;
    expect(await refusal(url(), base)).toBe('address');
    expect(hits.length).toBe(before);
  });

  it('a host name that resolves to loopback (localhost)', async () => {
    const before = hits.length;
    expect(await refusal(local('/cat.png', 'localhost'), base)).toBe('address');
    expect(hits.length).toBe(before);
  });

  it('a name that resolves to an allowed and a refused address is refused as a whole', async () => {
    const lookup = ((_host: string, _opts: unknown, cb: (e: null, a: Array<{ address: string; family: number }>) => void) =>
      cb(null, [{ address: '127.0.0.1', family: 4 }, { address: '127.0.0.2', family: 4 }])) as unknown as LookupFunction;
    const before = hits.length;
    expect(await refusal(local('/cat.png', 'images.test'), { ...onlyOurServer, lookup })).toBe('address');
    expect(hits.length).toBe(before);
  });

  it('checks the addresses of the lookup the connection itself makes (no rebinding between check and connect)', async () => {
    const answers = ['127.0.0.1', '127.0.0.2'];
    let lookups = 0;
    const lookup = ((_host: string, _opts: unknown, cb: (e: null, a: Array<{ address: string; family: number }>) => void) =>
      cb(null, [{ address: answers[Math.min(lookups++, 1)] as string, family: 4 }])) as unknown as LookupFunction;
    // The first (and only) lookup is the connection's own: it answers our server, and that is where the bytes come from.
    const image = await fetchImage(local('/cat.png', 'images.test'), { ...onlyOurServer, lookup });
    expect(image.data).toEqual(PNG);
    expect(lookups).toBe(1);
  });
});

describe('fetchImage follows the rules on the way', () => {
  it('fetches an image from an allowed address', async () => {
    expect(await fetchImage(local('/cat.png'), onlyOurServer)).toEqual({ mimeType: 'image/png', data: PNG });
  });

  it('follows up to 3 redirects, no more', async () => {
    expect((await fetchImage(local('/hop/3'), onlyOurServer)).data).toEqual(PNG);
    expect(await refusal(local('/hop/4'), onlyOurServer)).toBe('redirect');
  });

  it.each([
    ['another loopback address', () => local('/cat.png', '127.0.0.2')],
    ['::1', () => local('/cat.png', '[::1]')],
    ['a private address', () => 'http://10.0.0.1/cat.png'],
  ])('refuses a redirect to %s', async (_name, target) => {
    const before = hits.length;
    expect(await refusal(local(`/redirect?to=${encodeURIComponent(target())}`), onlyOurServer)).toBe('address');
    // Only the redirecting URL was requested.
    expect(hits.slice(before)).toHaveLength(1);
  });

  it('refuses a redirect to another scheme', async () => {
    expect(await refusal(local(`/redirect?to=${encodeURIComponent('file:///etc/passwd')}`), onlyOurServer)).toBe('url');
  });

  it.each<[string, string, ImageFetchReason]>([
    ['not an image', '/page', 'type'],
    ['announced larger than the cap', '/big', 'size'],
    ['larger than the cap while read', '/big-chunked', 'size'],
    ['an error status', '/missing', 'status'],
  ])('refuses %s', async (_name, path, reason) => {
    expect(await refusal(local(path), onlyOurServer)).toBe(reason);
  });

  it('gives up after its timeout', async () => {
    expect(await refusal(local('/hang'), { ...onlyOurServer, timeoutMs: 200 })).toBe('timeout');
  });

  it('stops when the caller cancels', async () => {
    const controller = new AbortController();
    const pending = refusal(local('/hang'), { ...onlyOurServer, signal: controller.signal });
    controller.abort();
    expect(await pending).toBe('cancelled');
  });

  it.each([
    ['ftp', 'ftp://127.0.0.1/x.png'],
    ['file', 'file:///etc/passwd'],
    ['credentials', `http://user:pass@127.0.0.1:1/x.png`],
    ['not a URL', 'not a url'],
  ])('refuses a %s URL', async (_name, url) => {
    expect(await refusal(url, onlyOurServer)).toBe('url');
  });
});

describe('isPublicAddress', () => {
  it.each([
    ['8.8.8.8', true],
    ['2001:4860:4860::8888', true],
    ['::ffff:8.8.8.8', true],
    ['127.0.0.1', false],
    ['::1', false],
    ['10.1.2.3', false],
    ['169.254.1.1', false],
    ['100.64.0.1', false],
    ['0.0.0.0', false],
    ['255.255.255.255', false],
    ['::ffff:127.0.0.1', false],
    ['::127.0.0.1', false],
    ['::7f00:1', false],
    ['::a00:1', false],
    ['fe80::1', false],
    ['fc00::1', false],
    ['ff02::1', false],
    ['2002:a00:1::', false],
    ['not an address', false],
  ])('%s -> %s', (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected);
  });
});
