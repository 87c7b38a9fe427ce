/**
 * Text metadata embedded in images, where ComfyUI stores `prompt` (API format) and `workflow` (UI format):
 * PNG tEXt/zTXt/iTXt chunks (SaveImage, the editor's PNG export) and WebP EXIF strings `"prompt:{…}"`
 * (SaveAnimatedWEBP and SaveImage's WebP path write one "key:json" string per IFD0 tag).
 */
import { WorkerError } from "../errors.ts";
import { nodeZlib } from "../lib/lazy-modules.ts";

/** keyword → text, in file order; the first chunk of a keyword wins, as PIL's `img.info` does. */
export type ImageText = Record<string, string>;

const PNG_SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];
const TEXT_CHUNKS = new Set(["tEXt", "zTXt", "iTXt"]);
const CHUNK_OVERHEAD_BYTES = 12;
const RIFF_HEADER_BYTES = 12;
const EXIF_PREFIX = "Exif\0\0";
const TIFF_ASCII = 2;
const TIFF_UNDEFINED = 7;
const EXIF_KEY_RE = /^([A-Za-z_][\w-]*):(?=\s*[[{])/;

/** True when the bytes start with the PNG signature. */
export function isPng(bytes: Uint8Array): boolean {
  return PNG_SIGNATURE.every((byte, i) => bytes[i] === byte);
}

/** True for a RIFF/WEBP container. */
export function isWebp(bytes: Uint8Array): boolean {
  return _ascii(bytes, 0, 4) === "RIFF" && _ascii(bytes, 8, 4) === "WEBP";
}

/** Every text chunk of a PNG; throws E_INPUT naming `file` and the byte offset of a damaged chunk. */
export function readPngText(bytes: Uint8Array, file: string): ImageText {
  if (!isPng(bytes)) throw new WorkerError("E_INPUT", `${file}: not a PNG (the PNG signature is missing)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text: ImageText = {};
  let offset = PNG_SIGNATURE.length;
  while (offset < bytes.length) {
    if (offset + CHUNK_OVERHEAD_BYTES > bytes.length) _truncated(file, offset, "a chunk header", bytes.length);
    const length = view.getUint32(offset);
    const type = _ascii(bytes, offset + 4, 4);
    const end = offset + CHUNK_OVERHEAD_BYTES + length;
    if (end > bytes.length) _truncated(file, offset, `chunk ${type} of ${length} bytes`, bytes.length);
    if (type === "IEND") return text;
    if (TEXT_CHUNKS.has(type)) {
      const body = bytes.subarray(offset + 8, offset + 8 + length);
      if (Bun.hash.crc32(bytes.subarray(offset + 4, offset + 8 + length)) !== view.getUint32(offset + 8 + length)) {
        throw new WorkerError("E_INPUT", `${file}: PNG chunk ${type} at byte ${offset} is corrupt (CRC mismatch)`);
      }
      const [key, value] = _textChunk(type, body, `${file}: PNG chunk ${type} at byte ${offset}`);
      if (!(key in text)) text[key] = value;
    }
    offset = end;
  }
  throw new WorkerError("E_INPUT", `${file}: truncated PNG: no IEND chunk before the end at byte ${bytes.length}`);
}

/** ComfyUI's "key:json" strings from a WebP's EXIF chunk; throws E_INPUT naming `file` and the byte offset. */
export function readWebpText(bytes: Uint8Array, file: string): ImageText {
  if (!isWebp(bytes)) throw new WorkerError("E_INPUT", `${file}: not a WebP (no RIFF/WEBP header)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text: ImageText = {};
  let offset = RIFF_HEADER_BYTES;
  while (offset < bytes.length) {
    if (offset + 8 > bytes.length) _truncated(file, offset, "a chunk header", bytes.length);
    const type = _ascii(bytes, offset, 4);
    const length = view.getUint32(offset + 4, true);
    if (offset + 8 + length > bytes.length)
      _truncated(file, offset, `chunk "${type}" of ${length} bytes`, bytes.length);
    if (type === "EXIF") {
      for (const s of _exifStrings(
        bytes.subarray(offset + 8, offset + 8 + length),
        `${file}: EXIF at byte ${offset}`,
      )) {
        const key = EXIF_KEY_RE.exec(s)?.[1];
        if (key && !(key in text)) text[key] = s.slice(key.length + 1);
      }
    }
    // chunks are padded to an even length
    offset += 8 + length + (length % 2);
  }
  return text;
}

// --- internal ---

function _textChunk(type: string, body: Uint8Array, where: string): [string, string] {
  const nul = body.indexOf(0);
  if (nul <= 0) throw new WorkerError("E_INPUT", `${where} has no keyword`);
  const key = _latin1(body.subarray(0, nul));
  if (type === "tEXt") return [key, _decode(body.subarray(nul + 1))];
  if (type === "zTXt") return [key, _decode(_inflate(body.subarray(nul + 2), where))];
  // iTXt: keyword, compression flag, method, language tag\0, translated keyword\0, UTF-8 text
  const compressed = body[nul + 1] === 1;
  const langEnd = body.indexOf(0, nul + 3);
  const transEnd = langEnd < 0 ? -1 : body.indexOf(0, langEnd + 1);
  if (transEnd < 0) throw new WorkerError("E_INPUT", `${where} (iTXt "${key}") is missing its language fields`);
  const raw = body.subarray(transEnd + 1);
  return [key, new TextDecoder().decode(compressed ? _inflate(raw, where) : raw)];
}

function _inflate(bytes: Uint8Array, where: string): Uint8Array {
  try {
    // node:zlib loads only for a compressed text chunk (lazy-modules.ts)
    return nodeZlib().inflateSync(bytes);
  } catch (error) {
    throw new WorkerError("E_INPUT", `${where}: its compressed text does not inflate`, { cause: error });
  }
}

// tEXt is Latin-1 by the PNG spec, but browser-side exporters write UTF-8; ComfyUI itself writes ASCII
function _decode(bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return _latin1(bytes);
  }
}

function _latin1(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) out += String.fromCharCode(byte);
  return out;
}

function _ascii(bytes: Uint8Array, offset: number, length: number): string {
  return _latin1(bytes.subarray(offset, offset + length));
}

function _truncated(file: string, offset: number, what: string, size: number): never {
  throw new WorkerError(
    "E_INPUT",
    `${file}: truncated image: ${what} at byte ${offset} runs past the end (${size} bytes)`,
  );
}

// ASCII/UNDEFINED values of IFD0; when the payload is not TIFF, its NUL-separated strings (EXIF-ish writers)
function _exifStrings(chunk: Uint8Array, where: string): string[] {
  const tiff = _ascii(chunk, 0, 6) === EXIF_PREFIX ? chunk.subarray(6) : chunk;
  const order = _ascii(tiff, 0, 2);
  if (order !== "II" && order !== "MM") return new TextDecoder().decode(tiff).split("\0").filter(Boolean);
  const little = order === "II";
  const view = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  const at = (offset: number, size: 2 | 4) => {
    if (offset + size > tiff.length)
      throw new WorkerError("E_INPUT", `${where} is damaged (offset ${offset} is outside it)`);
    return size === 2 ? view.getUint16(offset, little) : view.getUint32(offset, little);
  };
  const ifd = at(4, 4);
  const out: string[] = [];
  for (let i = 0, n = at(ifd, 2); i < n; i++) {
    const entry = ifd + 2 + i * 12;
    const type = at(entry + 2, 2);
    if (type !== TIFF_ASCII && type !== TIFF_UNDEFINED) continue;
    const count = at(entry + 4, 4);
    const start = count <= 4 ? entry + 8 : at(entry + 8, 4);
    if (start + count > tiff.length) throw new WorkerError("E_INPUT", `${where} is damaged (tag runs past its end)`);
    out.push(_decode(tiff.subarray(start, start + count)).replace(/\0+$/, ""));
  }
  return out;
}
