import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { GifError, decodeGifFirstFrame, gifFirstFrameAsPng } from '../../src/bot/gifFrame.ts';

/** A GIF's LZW, written as encoders do it (dictionary growth and code size changes included). */
function lzwEncode(indices: readonly number[], minCodeSize: number): Uint8Array {
  const clear = 1 << minCodeSize;
  const out: number[] = [];
  let bits = 0;
  let count = 0;
  let size = minCodeSize + 1;
  const emit = (code: number): void => {
    bits |= code << count;
    count += size;
    while (count >= 8) {
      out.push(bits & 0xff);
      bits >>>= 8;
      count -= 8;
    }
  };
  let table = new Map<string, number>();
  let next = clear + 2;
  emit(clear);
  let w = String(indices[0]);
  for (const k of indices.slice(1)) {
    const wk = `${w},${k}`;
    if (table.has(wk)) {
      w = wk;
      continue;
    }
    emit(w.includes(',') ? table.get(w)! : Number(w));
    if (next === 4096) {
      emit(clear);
      size = minCodeSize + 1;
      table = new Map();
      next = clear + 2;
    } else {
      if (next >= 1 << size) size++;
      table.set(wk, next++);
    }
    w = String(k);
  }
  emit(w.includes(',') ? table.get(w)! : Number(w));
  emit(clear + 1);
  if (count > 0) out.push(bits & 0xff);
  return Uint8Array.from(out);
}

function subBlocks(data: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < data.length; i += 255) {
    const piece = data.subarray(i, i + 255);
    out.push(piece.length, ...piece);
  }
  return [...out, 0];
}

const u16 = (n: number): number[] => [n & 0xff, n >> 8];

/** A GIF89a: a global table of `colors`, then frames (each with an optional transparent index). */
function gif(width: number, height: number, colors: number[][], frames: Array<{ indices: number[]; transparent?: number; interlaced?: boolean }>): Uint8Array {
  const bytes = [...Buffer.from('GIF89a', 'latin1'), ...u16(width), ...u16(height), 0xf1, 0, 0, ...colors.flat()];
  for (const f of frames) {
    if (f.transparent !== undefined) bytes.push(0x21, 0xf9, 4, 1, 0, 0, f.transparent, 0);
    let rows = f.indices;
    if (f.interlaced) {
      const ys: number[] = [];
      for (const [start, step] of [[0, 8], [4, 8], [2, 4], [1, 2]]) for (let y = start!; y < height; y += step!) ys.push(y);
      rows = ys.flatMap((y) => f.indices.slice(y * width, (y + 1) * width));
    }
    bytes.push(0x2c, ...u16(0), ...u16(0), ...u16(width), ...u16(height), f.interlaced ? 0x40 : 0, 2, ...subBlocks(lzwEncode(rows, 2)));
  }
  bytes.push(0x3b);
  return Uint8Array.from(bytes);
}

/** RGBA pixels of an unfiltered 8-bit RGBA PNG, as `encodePng` writes it. */
function pngPixels(png: Buffer): { width: number; height: number; rgba: Buffer } {
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  const idatLength = png.readUInt32BE(33);
  expect(png.subarray(37, 41).toString('latin1')).toBe('IDAT');
  const raw = inflateSync(png.subarray(41, 41 + idatLength));
  const rgba = Buffer.concat(Array.from({ length: height }, (_, y) => raw.subarray(y * (width * 4 + 1) + 1, (y + 1) * (width * 4 + 1))));
  return { width, height, rgba };
}

const PALETTE = [
  [255, 0, 0],
  [0, 255, 0],
  [0, 0, 255],
  [9, 9, 9],
];

describe('a GIF\'s first frame as a PNG', () => {
  it('reads the smallest real GIF (1x1, transparent)', () => {
    const tiny = Buffer.from('R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==', 'base64');
    expect(decodeGifFirstFrame(tiny)).toEqual({ width: 1, height: 1, rgba: new Uint8Array(4) });
  });

  it('decodes a frame whose LZW dictionary grows past several code sizes, and keeps only the first frame', () => {
    const width = 64;
    const height = 40;
    const first = Array.from({ length: width * height }, (_, i) => (i % 7 === 0 ? 3 : Math.floor(i / 5) % 3));
    const second = first.map(() => 1);
    const frame = decodeGifFirstFrame(gif(width, height, PALETTE, [{ indices: first, transparent: 3 }, { indices: second }]));
    expect([frame.width, frame.height]).toEqual([width, height]);
    for (let i = 0; i < width * height; i++) {
      const px = Array.from(frame.rgba.subarray(i * 4, i * 4 + 4));
      expect(px).toEqual(first[i] === 3 ? [0, 0, 0, 0] : [...PALETTE[first[i]!]!, 255]);
    }
    const png = pngPixels(gifFirstFrameAsPng(gif(width, height, PALETTE, [{ indices: first, transparent: 3 }])));
    expect(png.width).toBe(width);
    expect(png.rgba.equals(Buffer.from(frame.rgba))).toBe(true);
  });

  it('puts the rows of an interlaced frame in their places', () => {
    const width = 3;
    const height = 11;
    const indices = Array.from({ length: width * height }, (_, i) => Math.floor(i / width) % 3);
    const frame = decodeGifFirstFrame(gif(width, height, PALETTE, [{ indices, interlaced: true }]));
    for (let y = 0; y < height; y++) expect(Array.from(frame.rgba.subarray(y * width * 4, y * width * 4 + 3))).toEqual(PALETTE[y % 3]);
  });

  it('refuses what is no GIF, one that ends early, and absurd sizes', () => {
    expect(() => decodeGifFirstFrame(Buffer.from('not a gif at all'))).toThrow(GifError);
    const whole = gif(4, 4, PALETTE, [{ indices: new Array(16).fill(1) }]);
    expect(() => decodeGifFirstFrame(whole.subarray(0, 20))).toThrow(/ends too early/);
    const huge = Buffer.from(whole);
    huge.writeUInt16LE(60_000, 6);
    huge.writeUInt16LE(60_000, 8);
    expect(() => decodeGifFirstFrame(huge)).toThrow(/size 60000x60000/);
  });
});
