import { decode as decodeJpeg, encode as encodeJpeg } from "jpeg-js";
import type { PreviewFrame } from "./frames.ts";
import { decodePng, type Pixels } from "./png-decode.ts";

/** A preview ready to send: within the job's pixel and byte budget. */
export interface FittedPreview {
  mime: "image/jpeg" | "image/png";
  data: Uint8Array;
  width?: number;
  height?: number;
}

const QUALITIES = [85, 70, 50, 35];
// a preview is at most a few megapixels; refuse to decode anything that claims more
const MAX_DECODE_MP = 16;

/**
 * Fits a frame into `maxPx` on its longest side and `maxBytes`: passed on untouched when it already fits,
 * else decoded, downscaled (box filter) and re-encoded as JPEG at the highest quality that fits. Undefined
 * when it cannot be made to fit (the frame is dropped; previews are best effort).
 */
export function fitPreview(frame: PreviewFrame, maxPx: number, maxBytes: number): FittedPreview | undefined {
  const pixels = _decode(frame);
  if (!pixels) return frame.image.length <= maxBytes ? { mime: frame.mime, data: frame.image } : undefined;
  const { width, height } = pixels;
  if (Math.max(width, height) <= maxPx && frame.image.length <= maxBytes) {
    return { mime: frame.mime, data: frame.image, width, height };
  }
  const scaled = downscale(pixels, maxPx);
  for (const quality of QUALITIES) {
    const jpeg = encodeJpeg({ ...scaled, data: scaled.data }, quality).data;
    if (jpeg.length <= maxBytes) {
      return { mime: "image/jpeg", data: new Uint8Array(jpeg), width: scaled.width, height: scaled.height };
    }
  }
  return undefined;
}

/** Box-filter downscale of RGBA pixels so the longest side is at most `maxPx` (never upscales). */
export function downscale(pixels: Pixels, maxPx: number): Pixels {
  const factor = Math.max(pixels.width, pixels.height) / Math.max(1, maxPx);
  if (factor <= 1) return pixels;
  const width = Math.max(1, Math.round(pixels.width / factor));
  const height = Math.max(1, Math.round(pixels.height / factor));
  const out = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    const y0 = Math.floor((y * pixels.height) / height);
    const y1 = Math.max(y0 + 1, Math.floor(((y + 1) * pixels.height) / height));
    for (let x = 0; x < width; x++) {
      const x0 = Math.floor((x * pixels.width) / width);
      const x1 = Math.max(x0 + 1, Math.floor(((x + 1) * pixels.width) / width));
      _average(pixels, x0, x1, y0, y1, out, (y * width + x) * 4);
    }
  }
  return { width, height, data: out };
}

function _average(src: Pixels, x0: number, x1: number, y0: number, y1: number, out: Uint8Array, at: number): void {
  const sums = [0, 0, 0, 0];
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const p = (y * src.width + x) * 4;
      for (let c = 0; c < 4; c++) sums[c] = (sums[c] ?? 0) + (src.data[p + c] ?? 0);
    }
  }
  const n = (x1 - x0) * (y1 - y0);
  for (let c = 0; c < 4; c++) out[at + c] = Math.round((sums[c] ?? 0) / n);
}

function _decode(frame: PreviewFrame): Pixels | undefined {
  if (frame.mime === "image/png") return decodePng(frame.image);
  try {
    const image = decodeJpeg(frame.image, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_DECODE_MP });
    return { width: image.width, height: image.height, data: image.data };
  } catch {
    return undefined;
  }
}
