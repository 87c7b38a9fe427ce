import { mimeFromName } from "../lib/mime.ts";

/** The result list an output file belongs in. */
export type OutputKind = "images" | "videos" | "audio" | "files";

// keys custom nodes use for animations (VHS "gifs"); only consulted when the file type says "image" or nothing
const MOVING_KEYS = new Set(["gifs", "videos", "video"]);

/**
 * Classifies an output file by its type, not by the key it came under: core SaveVideo reports .mp4 files under
 * `images` (ComfyUI 0.28.2 history: `{"images": [{"filename": "vid_00001_.mp4", …}], "animated": [true]}`).
 * An image is a video only when it is animated (`animated` flag, or a VHS-style key such as `gifs`).
 */
export function outputKind(key: string, filename: string, animated: boolean): OutputKind {
  const mime = mimeFromName(filename);
  if (mime.startsWith("video/")) return "videos";
  if (mime.startsWith("audio/")) return "audio";
  if (mime.startsWith("image/")) return animated || MOVING_KEYS.has(key) ? "videos" : "images";
  if (MOVING_KEYS.has(key)) return "videos";
  return key === "audio" ? "audio" : "files";
}

/** One identity per file ComfyUI can serve, so a file reported twice (two keys, two nodes) is listed once. */
export function outputIdentity(ref: { type: string; subfolder: string; filename: string }): string {
  return `${ref.type}\u0000${ref.subfolder}\u0000${ref.filename}`;
}
