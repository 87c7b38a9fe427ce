import { nodeZlib } from "../lib/lazy-modules.ts";

/** An 8-bit RGB raster, rows top to bottom, 3 bytes per pixel. */
export interface RgbImage {
  width: number;
  height: number;
  pixels: Uint8Array;
}

const PNG_SIGNATURE = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]);
const COLOR_TYPE_RGB = 2;
const CRC_TABLE = _crcTable();

/** CRC-32 (IEEE, as PNG and zlib use it) of the given bytes. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (const byte of bytes) c = (CRC_TABLE[(c ^ byte) & 0xff] ?? 0) ^ (c >>> 8);
  return ~c >>> 0;
}

/** A diagonal gradient whose hue depends on `seed`, so consecutive outputs differ visibly. */
export function gradientImage(width: number, height: number, seed: number): RgbImage {
  const pixels = new Uint8Array(width * height * 3);
  const base = (seed * 67) % 256;
  for (let y = 0; y < height; y++) {
    const g = Math.floor((y * 255) / Math.max(1, height - 1));
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      pixels[i] = Math.floor((x * 255) / Math.max(1, width - 1));
      pixels[i + 1] = g;
      pixels[i + 2] = (base + ((x + y) >> 3)) & 0xff;
    }
  }
  return { width, height, pixels };
}

/** Encodes a valid PNG (RGB, 8 bit, no interlace) with optional text chunks, as SaveImage embeds `prompt`. */
export function encodePng(image: RgbImage, text: Record<string, string> = {}, level = 6): Uint8Array {
  const { width, height, pixels } = image;
  const stride = width * 3;
  const raw = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    // filter type 0 (None) per row
    raw.set(pixels.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([8, COLOR_TYPE_RGB, 0, 0, 0], 8);
  const chunks = [_chunk("IHDR", header)];
  for (const [key, value] of Object.entries(text)) chunks.push(textChunk(key, value));
  chunks.push(_chunk("IDAT", nodeZlib().deflateSync(raw, { level })), _chunk("IEND", new Uint8Array(0)));
  return concatBytes([PNG_SIGNATURE, ...chunks]);
}

/** Width and height from a PNG's IHDR, or undefined when the bytes are not a PNG. */
export function pngSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  if (bytes.length < 24 || !PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/** A tEXt chunk (iTXt when the value is not Latin-1), as PIL writes a PNG's text metadata. */
export function textChunk(key: string, value: string): Uint8Array {
  const encoder = new TextEncoder();
  // tEXt is Latin-1 only; PIL switches to iTXt for anything else, and so do we
  if (/^[\t\n\x20-\xff]*$/.test(value)) {
    const body = Uint8Array.from(`${key}\0${value}`, (ch) => ch.charCodeAt(0));
    return _chunk("tEXt", body);
  }
  return _chunk("iTXt", concatBytes([encoder.encode(`${key}\0`), new Uint8Array([0, 0, 0, 0]), encoder.encode(value)]));
}

function _chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** Joins byte arrays into one. */
export function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function _crcTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}
