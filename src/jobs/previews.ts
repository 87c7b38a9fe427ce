/**
 * Live previews for one job (SPEC §6 `input.preview`, §3 PREVIEWS): ComfyUI's previews are turned on for
 * this prompt only (`extra_data.preview_method`, which ComfyUI reads per prompt since it can; older servers
 * ignore it and need `--preview-method` at start), each frame is fitted to the job's size budget and the
 * newest one is delivered at most `max_fps` times a second. Delivery may be slow (a stream reader, a POST
 * to RunPod): frames are dropped behind it, and the job never waits.
 */
import { z } from "zod";
import type { PreviewFrame } from "../previews/frames.ts";
import { PreviewThrottle } from "../previews/throttle.ts";

/** `input.preview`: how often and how large. */
export const PreviewRequest = z.object({
  max_fps: z.number().min(0.1).max(30).default(2).describe("most preview frames a second"),
  max_px: z.number().int().min(16).max(2048).default(512).describe("longest side of a preview, in pixels"),
});
export type PreviewRequest = z.infer<typeof PreviewRequest>;

/** One preview as clients get it in a progress chunk's `preview` field. */
export const JobPreview = z.object({
  node: z.string().optional(),
  mime: z.enum(["image/jpeg", "image/png"]),
  /** Base64 of the image. */
  data: z.string(),
  width: z.number().optional(),
  height: z.number().optional(),
});
export type JobPreview = z.infer<typeof JobPreview>;

/**
 * Raw image bytes a preview may have: its base64 (4/3 larger) plus the rest of a chunk stays well under
 * RunPod's 1 MB per stream chunk.
 */
export const MAX_PREVIEW_BYTES = 512 * 1024;

/** What the prompt needs to send previews, or undefined when the job wants none. */
export interface JobPreviews {
  extraData: { preview_method: "auto" };
  onFrame: (frame: PreviewFrame) => void;
  close(): void;
}

/** Previews for a job that asked (`request`) or on a worker with PREVIEWS=on; undefined otherwise. */
export function jobPreviews(
  request: PreviewRequest | undefined,
  previewsOn: boolean,
  deliver: ((preview: JobPreview) => Promise<void> | void) | undefined,
  currentNode: () => string | undefined,
): JobPreviews | undefined {
  if (!deliver || (!request && !previewsOn)) return undefined;
  const { max_fps, max_px } = request ?? PreviewRequest.parse({});
  const throttle = new PreviewThrottle<PreviewFrame>(max_fps, async (frame) => {
    // the image codecs load with the first preview: most jobs ask for none, and `run` starts without them
    const { fitPreview } = await import("../previews/fit.ts");
    const fitted = fitPreview(frame, max_px, MAX_PREVIEW_BYTES);
    if (!fitted) return;
    const node = frame.nodeId ?? currentNode();
    await deliver({
      ...(node ? { node } : {}),
      mime: fitted.mime,
      data: Buffer.from(fitted.data).toString("base64"),
      ...(fitted.width ? { width: fitted.width, height: fitted.height } : {}),
    });
  });
  return {
    extraData: { preview_method: "auto" },
    onFrame: (frame) => throttle.push(frame),
    close: () => throttle.close(),
  };
}
