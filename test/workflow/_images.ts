/** Tiny PNG and WebP files with ComfyUI-style metadata, written byte by byte so tests control every chunk. */
import { crc32, deflateSync } from "node:zlib";

const PNG_SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

/** Bytes of latin-1 (or ASCII) text. */
export function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** The arrays joined. */
export function concat(...parts: (Uint8Array | number[])[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** One PNG chunk: length, type, data, CRC. */
export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const head = new Uint8Array(4);
  new DataView(head.buffer).setUint32(0, data.length);
  const body = concat(latin1(type), data);
  const crc = new Uint8Array(4);
  new DataView(crc.buffer).setUint32(0, crc32(body));
  return concat(head, body, crc);
}

/** tEXt as PIL writes it for ASCII text. */
export const tEXt = (key: string, text: string) => pngChunk("tEXt", concat(latin1(key), [0], latin1(text)));
/** zTXt: zlib-compressed Latin-1. */
export const zTXt = (key: string, text: string) =>
  pngChunk("zTXt", concat(latin1(key), [0, 0], deflateSync(latin1(text))));
/** iTXt: UTF-8, optionally compressed, with empty language and translated keyword. */
export function iTXt(key: string, text: string, compressed: boolean): Uint8Array {
  const utf8 = new TextEncoder().encode(text);
  const body = compressed ? deflateSync(utf8) : utf8;
  return pngChunk("iTXt", concat(latin1(key), [0, compressed ? 1 : 0, 0], latin1("en"), [0], [0], body));
}

/** A valid 1×1 RGB PNG with the given text chunks between IHDR and IDAT. */
export function tinyPng(...textChunks: Uint8Array[]): Uint8Array {
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, 1);
  new DataView(ihdr.buffer).setUint32(4, 1);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const idat = deflateSync(new Uint8Array([0, 200, 100, 50]));
  return concat(
    PNG_SIGNATURE,
    pngChunk("IHDR", ihdr),
    ...textChunks,
    pngChunk("IDAT", idat),
    pngChunk("IEND", new Uint8Array()),
  );
}

/** A TIFF block (optionally "Exif\0\0"-prefixed) whose IFD0 holds one ASCII entry per string. */
export function exifBlock(strings: string[], options: { bigEndian?: boolean; prefix?: boolean } = {}): Uint8Array {
  const little = !options.bigEndian;
  const values = strings.map((s) => concat(new TextEncoder().encode(s), [0]));
  const ifdSize = 2 + strings.length * 12 + 4;
  const tiff = new Uint8Array(8 + ifdSize + values.reduce((n, v) => n + v.length, 0));
  const view = new DataView(tiff.buffer);
  tiff.set(latin1(little ? "II" : "MM"), 0);
  view.setUint16(2, 42, little);
  view.setUint32(4, 8, little);
  view.setUint16(8, strings.length, little);
  let data = 8 + ifdSize;
  values.forEach((value, i) => {
    const entry = 10 + i * 12;
    // ComfyUI counts down from 0x010F (Make) for extra_pnginfo and uses 0x0110 (Model) for the prompt
    view.setUint16(entry, 0x0110 - i, little);
    view.setUint16(entry + 2, 2, little);
    view.setUint32(entry + 4, value.length, little);
    view.setUint32(entry + 8, data, little);
    tiff.set(value, data);
    data += value.length;
  });
  return options.prefix === false ? tiff : concat(latin1("Exif\0\0"), tiff);
}

/** A RIFF/WEBP container with a placeholder VP8L frame and an EXIF chunk. */
export function tinyWebp(exif: Uint8Array): Uint8Array {
  const chunk = (type: string, data: Uint8Array) => {
    const head = new Uint8Array(8);
    head.set(latin1(type));
    new DataView(head.buffer).setUint32(4, data.length, true);
    return concat(head, data, data.length % 2 ? [0] : []);
  };
  const body = concat(latin1("WEBP"), chunk("VP8L", new Uint8Array([0x2f, 0, 0, 0, 0])), chunk("EXIF", exif));
  const head = new Uint8Array(8);
  head.set(latin1("RIFF"));
  new DataView(head.buffer).setUint32(4, body.length, true);
  return concat(head, body);
}
