import { decode as decodeJpeg } from "jpeg-js";
import type { JobPreview } from "../jobs/previews.ts";
import { downscale } from "../previews/fit.ts";
import { decodePng, type Pixels } from "../previews/png-decode.ts";
import { itermImage } from "./_term-image-iterm.ts";
import { kittyImage } from "./_term-image-kitty.ts";
import { sixelImage } from "./_term-image-sixel.ts";

/** The ways a terminal can be sent an image. */
export type ImageProtocol = "kitty" | "iterm2" | "sixel";

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Which image protocol the terminal on `stream` understands, from what terminals announce in the
 * environment; undefined when none (or not a terminal). Inside tmux or screen none: they swallow or mangle
 * image escapes unless specially configured.
 */
export function imageProtocol(env: Env, isTTY: boolean): ImageProtocol | undefined {
  const term = env.TERM ?? "";
  if (!isTTY || env.TMUX || term.startsWith("screen") || term.startsWith("tmux")) return undefined;
  if (term === "xterm-kitty" || env.KITTY_WINDOW_ID || term === "xterm-ghostty") return "kitty";
  if (env.TERM_PROGRAM === "iTerm.app" || env.TERM_PROGRAM === "WezTerm" || env.LC_TERMINAL === "iTerm2")
    return "iterm2";
  if (term.includes("sixel") || env.COMFY_WORKER_SIXEL === "1") return "sixel";
  return undefined;
}

export interface ImagePlacement {
  /** Text rows the image may take. */
  rows: number;
  /** Text columns it may take. */
  columns: number;
  /** kitty's image id (a redraw with the same id replaces the image). */
  id: number;
}

// kitty scales to the rows it is given; sending more pixels than a few rows show only costs bandwidth
const KITTY_MAX_PX = 384;
// sixel is drawn pixel for pixel and the cell size is unknown: assume small cells (xterm's 6×13 font is
// about the smallest in use) so the image never outgrows the rows kept for it
const SIXEL_CELL = { width: 6, height: 12 };

/** The escape codes that draw a preview at the cursor, or undefined when its image cannot be decoded. */
export function terminalImage(preview: JobPreview, protocol: ImageProtocol, place: ImagePlacement): string | undefined {
  const bytes = Buffer.from(preview.data, "base64");
  if (protocol === "iterm2") return itermImage(bytes, place.rows);
  if (protocol === "kitty" && preview.mime === "image/png") return kittyImage({ format: "png", data: bytes }, place);
  const pixels = decodeImage(preview.mime, bytes);
  if (!pixels) return undefined;
  if (protocol === "kitty") return kittyImage({ format: "rgba", ...downscale(pixels, KITTY_MAX_PX) }, place);
  return sixelImage(fitPixels(pixels, place.columns * SIXEL_CELL.width, place.rows * SIXEL_CELL.height));
}

/** RGBA pixels of a JPEG or PNG preview; undefined when it does not decode. */
export function decodeImage(mime: JobPreview["mime"], bytes: Uint8Array): Pixels | undefined {
  if (mime === "image/png") return decodePng(bytes);
  try {
    const image = decodeJpeg(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: 16 });
    return { width: image.width, height: image.height, data: image.data };
  } catch {
    return undefined;
  }
}

/** Downscales (never up) so the image fits `maxWidth` × `maxHeight` pixels, keeping its aspect ratio. */
export function fitPixels(pixels: Pixels, maxWidth: number, maxHeight: number): Pixels {
  const scale = Math.min(1, maxWidth / pixels.width, maxHeight / pixels.height);
  if (scale >= 1) return pixels;
  return downscale(pixels, Math.max(1, Math.floor(Math.max(pixels.width, pixels.height) * scale)));
}
