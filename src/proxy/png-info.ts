/**
 * SaveImage embeds `prompt` and every `extra_pnginfo` key (the UI workflow) as PNG text chunks. A remote job
 * carries no extra_data, so the endpoint's PNGs hold only `prompt`; the proxy adds the browser's
 * `extra_pnginfo` the way PIL writes it (after the existing text chunks, before the image data), so a saved
 * image drops back into the UI with its workflow, byte for byte as a local run would have written it.
 */
import { concatBytes, textChunk } from "../emulator/png.ts";
import { isPng, readPngText } from "../workflow/png.ts";

/** `bytes` with the missing `extra_pnginfo` chunks added; unchanged unless it is a PNG with a `prompt` chunk. */
export function addPngInfo(bytes: Uint8Array, extraPnginfo: unknown): Uint8Array {
  if (!isPng(bytes) || typeof extraPnginfo !== "object" || extraPnginfo === null) return bytes;
  let text: Record<string, string>;
  try {
    text = readPngText(bytes, "output");
  } catch {
    return bytes;
  }
  // no prompt chunk: metadata is off on the worker (--disable-metadata); leave it off
  if (!("prompt" in text)) return bytes;
  const chunks = Object.entries(extraPnginfo)
    .filter(([key]) => !(key in text))
    .map(([key, value]) => textChunk(key, JSON.stringify(value)));
  const at = _firstIdat(bytes);
  if (chunks.length === 0 || at === undefined) return bytes;
  return concatBytes([bytes.subarray(0, at), ...chunks, bytes.subarray(at)]);
}

function _firstIdat(bytes: Uint8Array): number | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 8; at + 8 <= bytes.length; ) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    if (type === "IDAT") return at;
    at += 12 + length;
  }
  return undefined;
}
