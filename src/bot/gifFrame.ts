/**
 * The first frame of a GIF as a PNG: Gemini reads PNG, JPEG and WebP but not GIF, and an
 * animated GIF's first frame is what people mean by "this image". A small decoder (GIF87a
 * and GIF89a, LZW, interlacing, transparency) and a plain PNG encoder over node:zlib; no
 * image library needed.
 */
import { deflateSync } from 'node:zlib';

/** Frames larger than this many pixels are refused (RGBA: 4 bytes each), so a tiny file cannot ask for gigabytes. */
export const MAX_GIF_PIXELS = 16_777_216;

/** A GIF that cannot be read. */
export class GifError extends Error {
  readonly brand = 'GifError' as const;
  constructor(problem: string) {
    super(`not a readable GIF: ${problem}`);
    this.name = 'GifError';
  }
}

/** Reads the bytes of a GIF in order. */
class Reader {
  #at = 0;
  constructor(readonly bytes: Uint8Array) {}
  byte(): number {
    if (this.#at >= this.bytes.length) throw new GifError('it ends too early');
    return this.bytes[this.#at++]!;
  }
  u16(): number {
    const lo = this.byte();
    return lo | (this.byte() << 8);
  }
  take(n: number): Uint8Array {
    if (this.#at + n > this.bytes.length) throw new GifError('it ends too early');
    const out = this.bytes.subarray(this.#at, this.#at + n);
    this.#at += n;
    return out;
  }
  /** Data sub-blocks (length byte, then that many bytes) up to the empty one, joined. */
  subBlocks(): Uint8Array {
    const parts: Uint8Array[] = [];
    for (let n = this.byte(); n > 0; n = this.byte()) parts.push(this.take(n));
    return Buffer.concat(parts);
  }
}

/** GIF's variable-width LZW: `pixels` colour indices from `data`. */
function lzwDecode(data: Uint8Array, minCodeSize: number, pixels: number): Uint8Array {
  if (minCodeSize < 2 || minCodeSize > 8) throw new GifError(`LZW code size ${minCodeSize}`);
  const out = new Uint8Array(pixels);
  const clear = 1 << minCodeSize;
  const end = clear + 1;
  const prefix = new Int16Array(4096);
  const suffix = new Uint8Array(4096);
  const first = new Uint8Array(4096);
  const length = new Uint16Array(4096);
  for (let i = 0; i < clear; i++) {
    suffix[i] = i;
    first[i] = i;
    length[i] = 1;
  }
  let codeSize = minCodeSize + 1;
  let next = end + 1;
  let previous = -1;
  let written = 0;
  let bits = 0;
  let bitCount = 0;
  let at = 0;
  /** Writes the string of `code` at `written` (clipped to the frame). */
  const emit = (code: number): void => {
    const n = length[code]!;
    for (let i = n - 1, c = code; i >= 0; i--, c = prefix[c]!) if (written + i < pixels) out[written + i] = suffix[c]!;
    written += n;
  };
  while (written < pixels) {
    while (bitCount < codeSize) {
      if (at >= data.length) return out; // a short frame: the rest stays colour 0
      bits |= data[at++]! << bitCount;
      bitCount += 8;
    }
    const code = bits & ((1 << codeSize) - 1);
    bits >>>= codeSize;
    bitCount -= codeSize;
    if (code === clear) {
      codeSize = minCodeSize + 1;
      next = end + 1;
      previous = -1;
      continue;
    }
    if (code === end) break;
    if (previous === -1) {
      if (code >= clear) throw new GifError('bad first LZW code');
      emit(code);
      previous = code;
      continue;
    }
    if (code > next) throw new GifError('bad LZW code');
    const firstOfCode = code < next ? first[code]! : first[previous]!;
    if (next < 4096) {
      prefix[next] = previous;
      suffix[next] = firstOfCode;
      first[next] = first[previous]!;
      length[next] = length[previous]! + 1;
      next++;
      if (next === 1 << codeSize && codeSize < 12) codeSize++;
    }
    emit(code);
    previous = code;
  }
  return out;
}

/** Row order of an interlaced frame: rows 0, 8, 16 ...; 4, 12 ...; 2, 6 ...; 1, 3 .... */
function interlacedRows(height: number): number[] {
  const rows: number[] = [];
  for (const [start, step] of [[0, 8], [4, 8], [2, 4], [1, 2]] as const) for (let y = start; y < height; y += step) rows.push(y);
  return rows;
}

/** The first frame of a GIF, composed on its transparent canvas: width, height and RGBA bytes. */
export function decodeGifFirstFrame(bytes: Uint8Array): { width: number; height: number; rgba: Uint8Array } {
  const r = new Reader(bytes);
  const signature = Buffer.from(r.take(6)).toString('latin1');
  if (signature !== 'GIF87a' && signature !== 'GIF89a') throw new GifError('no GIF signature');
  const width = r.u16();
  const height = r.u16();
  const flags = r.byte();
  r.byte(); // background colour index: the canvas stays transparent, as browsers show it
  r.byte(); // pixel aspect ratio
  if (width === 0 || height === 0 || width * height > MAX_GIF_PIXELS) throw new GifError(`size ${width}x${height}`);
  const globalColors: Uint8Array | undefined = flags & 0x80 ? r.take(3 * (1 << ((flags & 7) + 1))) : undefined;
  let transparent = -1;
  for (;;) {
    const block = r.byte();
    if (block === 0x3b) throw new GifError('it has no image');
    if (block === 0x21) {
      const label = r.byte();
      const data = r.subBlocks();
      // Graphic Control Extension: flag bit 0 says byte 3 is the transparent colour index.
      if (label === 0xf9 && data.length >= 4 && data[0]! & 1) transparent = data[3]!;
      continue;
    }
    if (block !== 0x2c) throw new GifError(`unknown block 0x${block.toString(16)}`);
    const left = r.u16();
    const top = r.u16();
    const frameWidth = r.u16();
    const frameHeight = r.u16();
    const frameFlags = r.byte();
    const colors = frameFlags & 0x80 ? r.take(3 * (1 << ((frameFlags & 7) + 1))) : globalColors;
    if (!colors) throw new GifError('no colour table');
    if (frameWidth * frameHeight > MAX_GIF_PIXELS) throw new GifError(`frame size ${frameWidth}x${frameHeight}`);
    const minCodeSize = r.byte();
    const indices = lzwDecode(r.subBlocks(), minCodeSize, frameWidth * frameHeight);
    const rows = frameFlags & 0x40 ? interlacedRows(frameHeight) : Array.from({ length: frameHeight }, (_, y) => y);
    const rgba = new Uint8Array(width * height * 4);
    for (let i = 0; i < frameHeight; i++) {
      const y = top + rows[i]!;
      if (y >= height) continue;
      for (let x = 0; x < frameWidth && left + x < width; x++) {
        const index = indices[i * frameWidth + x]!;
        if (index === transparent || 3 * index + 2 >= colors.length) continue;
        const o = (y * width + left + x) * 4;
        rgba[o] = colors[3 * index]!;
        rgba[o + 1] = colors[3 * index + 1]!;
        rgba[o + 2] = colors[3 * index + 2]!;
        rgba[o + 3] = 255;
      }
    }
    return { width, height, rgba };
  }
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(parts: readonly Uint8Array[]): number {
  let c = 0xffffffff;
  for (const bytes of parts) for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32([head.subarray(4), data]), 0);
  return Buffer.concat([head, data, crc]);
}

/** RGBA pixels as a PNG (8-bit RGBA, no filtering: zlib does the work). */
export function encodePng(width: number, height: number, rgba: Uint8Array): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bits per channel
  header[9] = 6; // RGBA
  const rows = Buffer.alloc(height * (width * 4 + 1));
  for (let y = 0; y < height; y++) rows.set(rgba.subarray(y * width * 4, (y + 1) * width * 4), y * (width * 4 + 1) + 1);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/** A GIF's first frame as PNG bytes. @throws GifError when the bytes are no readable GIF */
export function gifFirstFrameAsPng(gif: Uint8Array): Buffer {
  const frame = decodeGifFirstFrame(gif);
  return encodePng(frame.width, frame.height, frame.rgba);
}
