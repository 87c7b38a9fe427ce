import { z } from "zod";
import { JobPreview } from "./previews.ts";

/** One output file a node wrote, by name (the bytes come with the job's result, inline or as a bucket URL). */
export const ProgressFile = z.object({
  filename: z.string(),
  subfolder: z.string(),
  /** ComfyUI's folder type: `output` or `temp`. */
  type: z.string(),
});
export type ProgressFile = z.infer<typeof ProgressFile>;

/** A node that has finished, with every file it wrote. */
export const FinishedNode = z.object({
  node: z.string(),
  class_type: z.string().optional(),
  title: z.string().optional(),
  files: z.array(ProgressFile),
});
export type FinishedNode = z.infer<typeof FinishedNode>;

/**
 * One progress chunk (SPEC §6): the node running now and its step, plus every node that has finished so far
 * with its output files. `finished` is cumulative, so a chunk that is dropped (RunPod's progress update keeps
 * only the latest value; a dropped `/stream` reply loses its chunks) loses no finished node.
 */
export const JobProgress = z.object({
  /** Node id; `download:<folder>/<name>` while WEIGHTS_MODE=download fetches a weight. */
  node: z.string(),
  class_type: z.string().optional(),
  /** The node's `_meta.title` from the workflow, when it has one. */
  title: z.string().optional(),
  /** Step within the node; `max` is 0 for a node that reports no steps. */
  value: z.number(),
  max: z.number(),
  percent: z.number(),
  finished: z.array(FinishedNode).optional(),
  /** The newest live preview (when the job asked for previews), fitted to its size budget. */
  preview: JobPreview.optional(),
});
export type JobProgress = z.infer<typeof JobProgress>;
