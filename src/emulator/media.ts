import { concatBytes } from "./png.ts";

const FLAC_SAMPLE_RATE_HZ = 44_100;
const FLAC_BLOCK_SAMPLES = 4096;
const TONE_HZ = 440;
const MAX_AUDIO_SECONDS = 5;
const WEBP_MAX_SIDE = 16_384;

/** A valid mono 16-bit FLAC file (verbatim subframes) holding a quiet sine tone of about `seconds`. */
export function encodeFlac(seconds: number): Uint8Array {
  const clamped = Math.min(Math.max(seconds, 0.1), MAX_AUDIO_SECONDS);
  const frames = Math.ceil((clamped * FLAC_SAMPLE_RATE_HZ) / FLAC_BLOCK_SAMPLES);
  const info = new Uint8Array(4 + 34);
  const view = new DataView(info.buffer);
  // last-metadata-block flag + type 0 (STREAMINFO), length 34
  view.setUint32(0, (0x80 << 24) | 34);
  view.setUint16(4, FLAC_BLOCK_SAMPLES);
  view.setUint16(6, FLAC_BLOCK_SAMPLES);
  const packed =
    (BigInt(FLAC_SAMPLE_RATE_HZ) << 44n) | (0n << 41n) | (15n << 36n) | BigInt(frames * FLAC_BLOCK_SAMPLES);
  view.setBigUint64(14, packed);
  const parts: Uint8Array[] = [new TextEncoder().encode("fLaC"), info];
  for (let n = 0; n < frames; n++) parts.push(_flacFrame(n));
  return concatBytes(parts);
}

/** A valid lossless WebP of one solid colour per frame; several frames make an animated WebP. */
export function encodeWebp(
  width: number,
  height: number,
  colors: [number, number, number][],
  frameMs = 125,
): Uint8Array {
  const w = Math.min(Math.max(1, width), WEBP_MAX_SIDE);
  const h = Math.min(Math.max(1, height), WEBP_MAX_SIDE);
  const first = colors[0] ?? [128, 128, 128];
  if (colors.length <= 1) return _riff([_chunk("VP8L", _vp8l(w, h, first))]);
  const vp8x = new Uint8Array(10);
  vp8x[0] = 0x02; // animation flag
  _put24(vp8x, 4, w - 1);
  _put24(vp8x, 7, h - 1);
  const anim = new Uint8Array(6); // background colour 0, loop forever
  const frames = colors.map((color) => {
    const header = new Uint8Array(16);
    _put24(header, 6, w - 1);
    _put24(header, 9, h - 1);
    _put24(header, 12, frameMs);
    header[15] = 0x02; // do not blend, no disposal
    return _chunk("ANMF", concatBytes([header, _chunk("VP8L", _vp8l(w, h, color))]));
  });
  return _riff([_chunk("VP8X", vp8x), _chunk("ANIM", anim), ...frames]);
}

/** Bytes that start like the container (`mp4`/`webm`) but hold no playable stream; the emulator makes no video. */
export function videoPlaceholder(format: "mp4" | "webm" | "other", note: string): Uint8Array {
  const text = new TextEncoder().encode(note);
  if (format === "webm") return concatBytes([new Uint8Array([0x1a, 0x45, 0xdf, 0xa3]), text]);
  if (format === "other") return text;
  const ftyp = new Uint8Array([0, 0, 0, 0x18, ...new TextEncoder().encode("ftypisom"), 0, 0, 2, 0]);
  const brands = new TextEncoder().encode("isommp41");
  const free = new Uint8Array(8 + text.length);
  new DataView(free.buffer).setUint32(0, free.length);
  free.set(new TextEncoder().encode("free"), 4);
  free.set(text, 8);
  return concatBytes([ftyp, brands, free]);
}

function _flacFrame(index: number): Uint8Array {
  // sync 0xFFF8; 4096-sample block (code 12); 44.1 kHz (code 9); mono; 16 bit (code 4); frame number < 128
  const header = new Uint8Array([0xff, 0xf8, 0xc9, 0x08, index & 0x7f]);
  const body = new Uint8Array(header.length + 1 + 1 + FLAC_BLOCK_SAMPLES * 2 + 2);
  body.set(header, 0);
  body[5] = _crc8(header);
  body[6] = 0x02; // verbatim subframe, no wasted bits
  const view = new DataView(body.buffer);
  for (let i = 0; i < FLAC_BLOCK_SAMPLES; i++) {
    const t = (index * FLAC_BLOCK_SAMPLES + i) / FLAC_SAMPLE_RATE_HZ;
    view.setInt16(7 + i * 2, Math.round(Math.sin(2 * Math.PI * TONE_HZ * t) * 6000));
  }
  view.setUint16(body.length - 2, _crc16(body.subarray(0, body.length - 2)));
  return body;
}

function _crc8(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff;
  }
  return crc;
}

function _crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let k = 0; k < 8; k++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x8005) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

// VP8L with one-symbol prefix codes: every pixel costs zero bits, so any size is a few bytes
function _vp8l(width: number, height: number, [r, g, b]: [number, number, number]): Uint8Array {
  const bits = _bitWriter();
  bits.put(0x2f, 8);
  bits.put(width - 1, 14);
  bits.put(height - 1, 14);
  bits.put(0, 4); // alpha hint off, version 0
  bits.put(0, 3); // no transform, no colour cache, no meta prefix codes
  for (const symbol of [g, r, b, 255, 0]) {
    bits.put(1, 1); // simple code
    bits.put(0, 1); // one symbol
    if (symbol < 2) bits.put(symbol << 1, 2);
    else {
      bits.put(1, 1);
      bits.put(symbol, 8);
    }
  }
  return bits.bytes();
}

function _bitWriter() {
  const out: number[] = [];
  let acc = 0;
  let count = 0;
  return {
    put(value: number, width: number) {
      for (let i = 0; i < width; i++) {
        acc |= ((value >>> i) & 1) << count;
        if (++count === 8) {
          out.push(acc);
          acc = 0;
          count = 0;
        }
      }
    },
    bytes: () => Uint8Array.from(count > 0 ? [...out, acc] : out),
  };
}

function _chunk(fourcc: string, data: Uint8Array): Uint8Array {
  const padded = data.length + (data.length % 2);
  const out = new Uint8Array(8 + padded);
  out.set(new TextEncoder().encode(fourcc), 0);
  new DataView(out.buffer).setUint32(4, data.length, true);
  out.set(data, 8);
  return out;
}

function _riff(chunks: Uint8Array[]): Uint8Array {
  const body = concatBytes([new TextEncoder().encode("WEBP"), ...chunks]);
  const head = new Uint8Array(8);
  head.set(new TextEncoder().encode("RIFF"), 0);
  new DataView(head.buffer).setUint32(4, body.length, true);
  return concatBytes([head, body]);
}

function _put24(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value & 0xff;
  bytes[offset + 1] = (value >> 8) & 0xff;
  bytes[offset + 2] = (value >> 16) & 0xff;
}
