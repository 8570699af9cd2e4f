/**
 * Fetching an image a client named by URL (only with GATEWAY_FETCH_URLS=true), without
 * letting the client reach anything private through us (SSRF).
 *
 * - http and https only, no credentials in the URL;
 * - every address a host resolves to must be public unicast: loopback, private, link-local,
 *   unique-local, multicast, unspecified, CGNAT, reserved and IPv4-mapped or -embedding
 *   forms of those are refused;
 * - the check runs inside the connection's own DNS lookup, on the very addresses it then
 *   connects to, so a name that resolves to a public address once and a private one the
 *   next time (DNS rebinding) cannot slip through; literal addresses are checked before;
 * - redirects are followed by hand, at most 3, each target checked again;
 * - the body must be `image/*` and is cut off past `maxBytes` while it is read;
 * - one timeout covers the whole fetch, redirects and body included.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { Agent, fetch } from 'undici';

/** Why a fetch was refused; the message is safe to show to the client who sent the URL. */
export type ImageFetchReason = 'url' | 'address' | 'redirect' | 'status' | 'type' | 'size' | 'timeout' | 'cancelled' | 'network';

export class ImageFetchError extends Error {
  readonly brand = 'ImageFetchError' as const;
  constructor(
    readonly reason: ImageFetchReason,
    message: string,
  ) {
    super(message);
    this.name = 'ImageFetchError';
  }
}

export const isImageFetchError = (e: unknown): e is ImageFetchError =>
  e instanceof Error && (e as { brand?: string }).brand === 'ImageFetchError';

export interface FetchImageOptions {
  /** Largest image read, in bytes. */
  maxBytes: number;
  /** The whole fetch, redirects and body included, must end within this. */
  timeoutMs: number;
  /** @default 3 */
  maxRedirects?: number;
  /**
   * Whether an address may be connected to. @default {@link isPublicAddress}. Tests, which
   * can only reach 127.0.0.1, allow their own server through this on purpose.
   */
  allowAddress?: (address: string) => boolean;
  /** Resolves host names. @default node:dns lookup */
  lookup?: LookupFunction;
  /** Cancels the fetch (a client that went away). */
  signal?: AbortSignal;
}

export interface FetchedImage {
  /** The `Content-Type` without parameters, lower case, e.g. `image/png`. */
  mimeType: string;
  data: Buffer;
}

/**
 * Whether `address` is a public unicast address. IPv4-mapped IPv6 addresses are judged as
 * the IPv4 address they carry; IPv4-compatible ones (`::a.b.c.d`, deprecated) and the
 * NAT64, 6to4 and Teredo ranges, which can lead to any IPv4 address, are refused.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  const ip = ipaddr.process(address);
  if (ip.kind() === 'ipv6') {
    const bytes = ip.toByteArray();
    if (bytes.slice(0, 12).every((b) => b === 0)) return false;
  }
  return ip.range() === 'unicast';
}

/** The host of a URL as an IP address, when it is one (IPv6 without its brackets). */
function literalAddress(hostname: string): string | undefined {
  const host = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return ipaddr.isValid(host) ? host : undefined;
}

/** Refuses a URL we would not fetch, before any connection. */
function checkUrl(url: URL, allow: (address: string) => boolean): void {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ImageFetchError('url', 'only http and https image URLs are fetched');
  if (url.username !== '' || url.password !== '') throw new ImageFetchError('url', 'image URLs with credentials are not fetched');
  const literal = literalAddress(url.hostname);
  if (literal !== undefined && !allow(literal)) refuseAddress(url.hostname);
}

function refuseAddress(host: string): never {
  throw new ImageFetchError('address', `the image host ${host} is a private, loopback or otherwise non-public address`);
}

/**
 * A DNS lookup for the connection that fails unless every address the name resolves to is
 * allowed; it hands the connection exactly the addresses it checked.
 */
function checkedLookup(resolve: LookupFunction, allow: (address: string) => boolean): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 4);
      const list = (Array.isArray(addresses) ? addresses : [{ address: addresses, family: 4 }]) as LookupAddress[];
      if (list.length === 0) return callback(new ImageFetchError('network', `the image host ${hostname} has no address`), '', 4);
      if (!list.every((a) => allow(a.address))) return callback(new ImageFetchError('address', `the image host ${hostname} resolves to a non-public address`), '', 4);
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
      const first = list[0] as LookupAddress;
      return callback(null, first.address, first.family);
    });
  };
}

/** The first ImageFetchError in an error's cause chain (undici wraps connection errors). */
function ownCause(e: unknown): ImageFetchError | undefined {
  for (let cur: unknown = e, depth = 0; cur instanceof Error && depth < 5; cur = (cur as { cause?: unknown }).cause, depth++) {
    if (isImageFetchError(cur)) return cur;
  }
  return undefined;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Fetches one image under the rules above; every refusal is an {@link ImageFetchError}. */
export async function fetchImage(url: string, options: FetchImageOptions): Promise<FetchedImage> {
  const allow = options.allowAddress ?? isPublicAddress;
  const maxRedirects = options.maxRedirects ?? 3;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new ImageFetchError('timeout', `the image did not arrive within ${options.timeoutMs} ms`)), options.timeoutMs);
  const onCancel = (): void => controller.abort(new ImageFetchError('cancelled', 'the image fetch was cancelled'));
  options.signal?.addEventListener('abort', onCancel, { once: true });
  if (options.signal?.aborted) onCancel();
  const agent = new Agent({ connect: { lookup: checkedLookup(options.lookup ?? dnsLookup, allow) } });
  try {
    let current: URL;
    try {
      current = new URL(url);
    } catch {
      throw new ImageFetchError('url', 'the image URL is not a valid URL');
    }
    for (let redirects = 0; ; redirects++) {
      checkUrl(current, allow);
      const response = await fetch(current, {
        dispatcher: agent,
        redirect: 'manual',
        signal: controller.signal,
        headers: { accept: 'image/*' },
      });
      if (REDIRECTS.has(response.status)) {
        await response.body?.cancel().catch(() => undefined);
        if (redirects >= maxRedirects) throw new ImageFetchError('redirect', `the image URL redirects more than ${maxRedirects} times`);
        const location = response.headers.get('location');
        if (!location) throw new ImageFetchError('redirect', 'the image URL redirects without a Location');
        try {
          current = new URL(location, current);
        } catch {
          throw new ImageFetchError('redirect', 'the image URL redirects to an invalid URL');
        }
        continue;
      }
      if (response.status !== 200) {
        await response.body?.cancel().catch(() => undefined);
        throw new ImageFetchError('status', `the image URL answered HTTP ${response.status}`);
      }
      const mimeType = (response.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
      if (!mimeType.startsWith('image/')) {
        await response.body?.cancel().catch(() => undefined);
        throw new ImageFetchError('type', `the image URL is not an image (Content-Type: ${mimeType || 'none'})`);
      }
      return { mimeType, data: await readCapped(response.body, Number(response.headers.get('content-length') ?? NaN), options.maxBytes) };
    }
  } catch (e) {
    const own = ownCause(e) ?? ownCause(controller.signal.reason);
    if (own) throw own;
    throw new ImageFetchError('network', 'the image could not be fetched');
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onCancel);
    void agent.destroy().catch(() => undefined);
  }
}

/** The whole body, refused as soon as it passes `maxBytes` (announced or counted). */
async function readCapped(body: ReadableStream<Uint8Array> | null, announced: number, maxBytes: number): Promise<Buffer> {
  const tooBig = (): ImageFetchError => new ImageFetchError('size', `the image is larger than ${maxBytes} bytes`);
  if (Number.isFinite(announced) && announced > maxBytes) {
    await body?.cancel().catch(() => undefined);
    throw tooBig();
  }
  if (!body) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooBig();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}
