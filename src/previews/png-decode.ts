import { nodeZlib } from "../lib/lazy-modules.ts";

/** RGBA pixels. */
export interface Pixels {
  width: number;
  height: number;
  data: Uint8Array;
}

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

/**
 * Decodes the PNGs previews come as (8-bit gray, gray+alpha, RGB or RGBA, not interlaced: what PIL writes
 * for a preview). Returns undefined for anything else; the caller then passes the frame on as it is.
 */
export function decodePng(bytes: Uint8Array): Pixels | undefined {
  if (!SIGNATURE.every((b, i) => bytes[i] === b)) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Uint8Array[] = [];
  for (let at = 8; at + 8 <= bytes.length; ) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    const body = bytes.subarray(at + 8, at + 8 + length);
    if (type === "IHDR") {
      width = view.getUint32(at + 8);
      height = view.getUint32(at + 12);
      const [depth, color, , , interlace] = body.subarray(8, 13);
      channels = depth === 8 && interlace === 0 ? (CHANNELS[color ?? -1] ?? 0) : 0;
      if (channels === 0) return undefined;
    } else if (type === "IDAT") idat.push(body);
    else if (type === "IEND") break;
    at += 12 + length;
  }
  if (width === 0 || height === 0 || idat.length === 0) return undefined;
  try {
    return {
      width,
      height,
      data: _rgba(_unfilter(nodeZlib().inflateSync(Buffer.concat(idat)), width, height, channels), channels),
    };
  } catch {
    return undefined;
  }
}

// PNG filter types 0–4 (None, Sub, Up, Average, Paeth), row by row
function _unfilter(raw: Uint8Array, width: number, height: number, bpp: number): Uint8Array {
  const stride = width * bpp;
  const out = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)] ?? 0;
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? (out[row + x - bpp] ?? 0) : 0;
      const b = y > 0 ? (out[row - stride + x] ?? 0) : 0;
      const c = x >= bpp && y > 0 ? (out[row - stride + x - bpp] ?? 0) : 0;
      const value = raw[src + x] ?? 0;
      out[row + x] = (value + _predict(filter, a, b, c)) & 0xff;
    }
  }
  return out;
}

function _predict(filter: number, a: number, b: number, c: number): number {
  if (filter === 1) return a;
  if (filter === 2) return b;
  if (filter === 3) return (a + b) >> 1;
  if (filter !== 4) return 0;
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

function _rgba(pixels: Uint8Array, channels: number): Uint8Array {
  if (channels === 4) return pixels;
  const count = pixels.length / channels;
  const out = new Uint8Array(count * 4);
  for (let i = 0; i < count; i++) {
    const gray = channels <= 2;
    const p = i * channels;
    out[i * 4] = pixels[p] ?? 0;
    out[i * 4 + 1] = pixels[gray ? p : p + 1] ?? 0;
    out[i * 4 + 2] = pixels[gray ? p : p + 2] ?? 0;
    out[i * 4 + 3] = channels === 2 ? (pixels[p + 1] ?? 255) : 255;
  }
  return out;
}
