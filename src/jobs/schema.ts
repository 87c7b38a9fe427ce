import { z } from "zod";
import { builtOnce } from "../lib/built-once.ts";
import { RESERVED_KEYS } from "../workflow/api.ts";
import { PreviewRequest } from "./previews.ts";

/** One input file: `name` may hold a subfolder; `image` is base64, a data: URI or an https URL. */
export const JobFile = z.object({
  name: z.string().min(1).max(255).describe("file name in ComfyUI's input folder; may contain a subfolder"),
  image: z.string().min(1).describe("base64, data: URI, or an https URL from DOWNLOAD_ALLOW_HOSTS"),
});
export type JobFile = z.infer<typeof JobFile>;

/** `job.input` (SPEC §6), compatible with runpod-workers/worker-comfyui v5. */
export const JobInput = z.object({
  workflow: z.record(z.string(), z.unknown()).describe("API-format workflow"),
  images: z.array(JobFile).max(64).optional().describe("input files written before the workflow is queued"),
  overrides: z
    .record(z.string().regex(/^[^.]+\.[^.]+$/, "keys look like NODE.INPUT, e.g. 6.text"), z.unknown())
    .superRefine((overrides, ctx) => {
      for (const key of Object.keys(overrides)) {
        if (!key.split(".").some((part) => RESERVED_KEYS.has(part))) continue;
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: `"${key}" uses a reserved name (__proto__, constructor or prototype); keys are a node id and an input name, e.g. 6.text`,
        });
      }
    })
    .optional()
    .describe("NODE.INPUT → literal value"),
  output: z
    .object({
      mode: z.enum(["inline", "bucket"]).optional(),
      include_temp: z.boolean().default(false),
    })
    .optional(),
  comfy_org_api_key: z.string().optional().describe("passed to ComfyUI as extra_data.api_key_comfy_org"),
  preview: PreviewRequest.optional().describe("live previews of this job, at most max_fps a second, max_px large"),
});
export type JobInput = z.infer<typeof JobInput>;

// the shapes of what a job answers: built only when /openapi.json documents them or a test checks one (the worker
// builds its answers itself and never parses them), so they cost no command's start
const outputSchemas = builtOnce(() => {
  // one output file: inline base64 or a bucket URL
  const OutputFile = z.object({
    filename: z.string(),
    subfolder: z.string(),
    node_id: z.string(),
    type: z.enum(["base64", "s3_url"]),
    data: z.string(),
    mime: z.string(),
  });
  const Timings = z.object({
    validate_ms: z.number(),
    queue_ms: z.number(),
    execution_ms: z.number(),
    collect_ms: z.number(),
    upload_ms: z.number(),
    total_ms: z.number(),
  });
  const JobOutput = z.object({
    images: z.array(OutputFile),
    videos: z.array(OutputFile),
    audio: z.array(OutputFile),
    files: z.array(OutputFile),
    text: z.array(z.object({ node_id: z.string(), text: z.string() })),
    errors: z.array(z.string()).optional(),
    prompt_id: z.string(),
    timings: Timings,
  });
  const FailureDetails = z.object({
    code: z.string(),
    node_errors: z.record(z.string(), z.unknown()).optional(),
    missing_weights: z.array(z.unknown()).optional(),
    exception: z
      .object({
        type: z.string(),
        message: z.string(),
        node_id: z.string().optional(),
        node_type: z.string().optional(),
        traceback: z.array(z.string()).optional(),
      })
      .optional(),
    last_log_lines: z.array(z.string()),
    // when the lines were taken from: the job's own run (ISO times), so no earlier job's lines are shown
    last_log_lines_window: z.object({ from: z.string(), to: z.string() }).optional(),
  });
  return { OutputFile, Timings, JobOutput, FailureDetails };
});
type OutputSchemas = ReturnType<typeof outputSchemas>;

/** A successful job's output (SPEC §6). */
export const jobOutputSchema = (): OutputSchemas["JobOutput"] => outputSchemas().JobOutput;
export type JobOutput = z.infer<OutputSchemas["JobOutput"]>;
/** One output file: inline base64 or a bucket URL. */
export type OutputFile = z.infer<OutputSchemas["OutputFile"]>;
export type Timings = z.infer<OutputSchemas["Timings"]>;

/** `output.details` of a failed job (SPEC §6). */
export const failureDetailsSchema = (): OutputSchemas["FailureDetails"] => outputSchemas().FailureDetails;
export type FailureDetails = z.infer<OutputSchemas["FailureDetails"]>;
