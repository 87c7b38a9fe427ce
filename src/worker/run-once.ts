import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { createComfyClient } from "../comfy/client.ts";
import type { Config } from "../config.ts";
import { WorkerError } from "../errors.ts";
import type { JobProgress } from "../jobs/pipeline.ts";
import { runJob } from "../jobs/pipeline.ts";
import type { JobPreview, PreviewRequest } from "../jobs/previews.ts";
import type { JobFile, JobOutput } from "../jobs/schema.ts";
import { type SavedOutput, saveOutputFiles } from "../lib/output-files.ts";
import { secondsToTimerMs } from "../lib/time.ts";
import type { Logger } from "../log.ts";
import { apiNodeTypes, isUiWorkflow } from "../workflow/api.ts";
import { loadWorkflowFile } from "../workflow/load.ts";
import { createComfy } from "./comfy.ts";
import { createJobDeps } from "./job-deps.ts";

export interface RunOnceOptions {
  workflowPath: string;
  /** `NODE.INPUT=VALUE`; VALUE is JSON when it parses, else a string; `@path` uploads that file. */
  sets: string[];
  /** `NAME=PATH`: input files written to ComfyUI's input folder. */
  images: string[];
  outDir: string;
  timeoutS?: number;
  emulate?: boolean;
  signal?: AbortSignal;
  onProgress?: (progress: JobProgress) => void;
  /** Live previews: asked for in the job's input, each one handed to `onPreview`. */
  preview?: PreviewRequest;
  onPreview?: (preview: JobPreview) => Promise<void> | void;
}

export interface RunOnceResult {
  output: JobOutput;
  saved: SavedOutput[];
}

/** `comfy-worker run`: start or attach to ComfyUI, run one workflow file, save every output to disk. */
export async function runWorkflowOnce(config: Config, log: Logger, options: RunOnceOptions): Promise<RunOnceResult> {
  const input = await buildJobInput(options);
  const { comfy, dispose, models } = await createComfy(config, log.child({ tag: "comfy" }), {
    emulate: options.emulate,
  });
  try {
    await comfy.start();
    const client = createComfyClient({ url: comfy.url, log });
    // outputs are saved locally, so the inline limit that protects RunPod responses doesn't apply
    const deps = createJobDeps(
      { ...config, OUTPUT_INLINE_MAX_MB: Number.MAX_SAFE_INTEGER },
      log,
      comfy,
      client,
      models,
      { nodeTypes: _nodeTypes(input.workflow), oneShot: true },
    );
    const signals = [options.signal, options.timeoutS ? _timeout(options.timeoutS) : undefined].filter(
      Boolean,
    ) as AbortSignal[];
    const output = await runJob(deps, {
      id: crypto.randomUUID(),
      input: options.preview ? { ...input, preview: options.preview } : input,
      signal: AbortSignal.any(signals),
      onProgress: options.onProgress,
      ...(options.onPreview ? { onPreview: options.onPreview } : {}),
    });
    return { output, saved: await saveOutputs(output, options.outDir) };
  } finally {
    await comfy.stop();
    await dispose();
  }
}

// an API workflow names every node type the job will look up; a UI one is converted with the full /object_info
function _nodeTypes(workflow: unknown): string[] | undefined {
  if (isUiWorkflow(workflow) || typeof workflow !== "object" || workflow === null) return undefined;
  return apiNodeTypes(workflow);
}

function _timeout(seconds: number): AbortSignal {
  const controller = new AbortController();
  const error = new WorkerError("E_JOB_TIMEOUT", `the workflow ran past --timeout ${seconds} s`);
  setTimeout(() => controller.abort(error), secondsToTimerMs(seconds)).unref();
  return controller.signal;
}

/** Job input from a workflow file plus `--set` and `--image` flags. */
export async function buildJobInput(options: Pick<RunOnceOptions, "workflowPath" | "sets" | "images">) {
  // API or UI JSON, or a PNG/WebP with the workflow embedded; UI workflows are converted by the job
  const loaded = await loadWorkflowFile(options.workflowPath);
  const workflow = loaded.api ?? loaded.ui;
  const images: JobFile[] = [];
  for (const spec of options.images) {
    const [name, path] = _split(spec, "--image", "NAME=PATH");
    images.push({ name, image: (await _read(path)).toString("base64") });
  }
  const overrides: Record<string, unknown> = {};
  for (const spec of options.sets) {
    const [key, raw] = _split(spec, "--set", "NODE.INPUT=VALUE");
    if (raw.startsWith("@")) {
      const name = basename(raw.slice(1));
      images.push({ name, image: (await _read(raw.slice(1))).toString("base64") });
      overrides[key] = name;
    } else overrides[key] = _literal(raw);
  }
  return { workflow, images, overrides, output: { mode: "inline" as const, include_temp: false } };
}

/**
 * Writes every output file under `outDir` (keeping ComfyUI's subfolders, never escaping `outDir`); a name that
 * is taken gets the next free one, never an overwrite. Throws when a file could not be written.
 */
export async function saveOutputs(output: JobOutput, outDir: string): Promise<SavedOutput[]> {
  const { saved, failed } = await saveOutputFiles(
    [...output.images, ...output.videos, ...output.audio, ...output.files],
    outDir,
  );
  if (failed[0]) throw failed[0].error;
  return saved;
}

function _split(spec: string, flag: string, shape: string): [string, string] {
  const at = spec.indexOf("=");
  if (at <= 0) throw new WorkerError("E_USAGE", `${flag} "${spec}" must look like ${shape}`);
  return [spec.slice(0, at), spec.slice(at + 1)];
}

function _literal(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

async function _read(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new WorkerError("E_USAGE", `cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? error})`);
  }
}
