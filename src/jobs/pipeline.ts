import type { ComfyClient } from "../comfy/client.ts";
import type { ComfyFileDirs } from "../comfy/file-dirs.ts";
import { explainUnknownNodes } from "../comfy/import-failures.ts";
import type { ObjectInfo } from "../comfy/object-info.ts";
import { type PromptResult, runPrompt } from "../comfy/run-prompt.ts";
import type { ComfyHandle } from "../comfy/supervisor.ts";
import type { Config } from "../config.ts";
import { WorkerError } from "../errors.ts";
import { describeIssues } from "../lib/issues.ts";
import type { LookupFn } from "../lib/net.ts";
import type { Logger } from "../log.ts";
import {
  type ApiWorkflow,
  isUiWorkflow,
  parseApiWorkflow,
  reservedNodeId,
  reservedNodeIdError,
} from "../workflow/api.ts";
import { convertUiToApi } from "../workflow/convert.ts";
import { knownNodePack } from "../workflow/node-packs.ts";
import { parseUiWorkflow, type UiWorkflow } from "../workflow/ui.ts";
import { cancelWhenBack, sendWhenReady, watchComfy } from "./comfy-left.ts";
import { executionFailure, recoverAfter } from "./failure.ts";
import { decodeJobFile, type InputFile } from "./input-files.ts";
import { InputNames, namesUsed, renameInputs } from "./input-names.ts";
import { collectOutputs, type OutputUploader } from "./outputs.ts";
import { applyOverrides, unknownNodeTypes } from "./overrides.ts";
import { type JobPreview, jobPreviews } from "./previews.ts";
import type { JobProgress } from "./progress.ts";
import { createProgressTracker } from "./progress-tracker.ts";
import { JobInput, type JobOutput } from "./schema.ts";

/** Progress of a running job, as RunPod's progress update and the `stream` route carry it (jobs/progress.ts). */
export type { JobProgress } from "./progress.ts";

/** What a job needs from the rest of the worker; built once by `serve` or `run`. */
export interface JobDeps {
  client: ComfyClient;
  comfy: ComfyHandle;
  config: Pick<Config, "DOWNLOAD_ALLOW_HOSTS" | "PRIVATE_HOSTS_ALLOWED" | "OUTPUT_INLINE_MAX_MB" | "redactor"> & {
    PREVIEWS?: Config["PREVIEWS"];
  };
  log: Logger;
  objectInfo: () => Promise<ObjectInfo>;
  /** Resolves (never rejects) once /object_info and the event socket of the current ComfyUI are ready. */
  warmed?: () => Promise<void>;
  /** ComfyUI's file folders when it runs on this machine (supervised): outputs are read there, not via /view. */
  localFiles?: ComfyFileDirs;
  /**
   * Fails (E_WEIGHTS_MISSING, …) when the workflow's weights aren't usable; absent = not checked. With
   * WEIGHTS_MODE=download it first fetches them, reporting progress as `node: "download:<folder>/<name>"`.
   */
  checkWeights?: (
    workflow: ApiWorkflow,
    signal: AbortSignal,
    job?: { ui?: UiWorkflow; onProgress?: (progress: JobProgress) => void },
  ) => Promise<void>;
  upload?: OutputUploader;
  /** Input file names in use by running jobs, shared by every job on this ComfyUI (see input-names.ts). */
  inputNames?: InputNames;
  fetch?: typeof fetch;
  lookup?: LookupFn;
}

export interface JobRun {
  id: string;
  input: unknown;
  signal: AbortSignal;
  onProgress?: (progress: JobProgress) => void;
  /** Live previews, when the job asks (`input.preview`) or PREVIEWS=on; may be slow: frames are dropped behind it. */
  onPreview?: (preview: JobPreview) => Promise<void> | void;
}

// ComfyUI's default --max-upload-size is 100 MB; a bigger input file would be refused by it anyway
const MAX_INPUT_FILE_BYTES = 100 * 1_048_576;
const LOCAL_MTIME_SLACK_MS = 2_000;

/** Runs one job start to finish (SPEC §6); throws a WorkerError whose details say what went wrong. */
export async function runJob(deps: JobDeps, run: JobRun): Promise<JobOutput> {
  const started = performance.now();
  const input = _parseInput(run.input);
  deps.config.redactor.add(input.comfy_org_api_key);
  // UI workflows are converted with the live /object_info, so parse API ones first: bad input fails at once
  const api = isUiWorkflow(input.workflow) ? undefined : parseApiWorkflow(input.workflow, "input.workflow");
  // after a crash the next job waits for the restarted ComfyUI rather than failing against a dead port
  await deps.comfy.waitReady(run.signal);
  const objectInfo = await deps.objectInfo();
  const ui = api ? undefined : parseUiWorkflow(input.workflow, "input.workflow");
  // a node type from a pack that failed to import at start-up is reported as that, not as "unknown"
  const workflow = api ?? (await explainUnknownNodes(deps.comfy, () => _convertUi(ui as UiWorkflow, objectInfo)));
  applyOverrides(workflow, input.overrides ?? {}, objectInfo);
  await explainUnknownNodes(deps.comfy, () => _checkNodes(workflow, objectInfo));
  const files = await Promise.all(
    (input.images ?? []).map((file) =>
      decodeJobFile(file, {
        allowHosts: deps.config.DOWNLOAD_ALLOW_HOSTS,
        privateAllowed: deps.config.PRIVATE_HOSTS_ALLOWED,
        maxBytes: MAX_INPUT_FILE_BYTES,
        fetch: deps.fetch,
        lookup: deps.lookup,
        signal: run.signal,
      }),
    ),
  );
  // the UI's `models` metadata names download sources for WEIGHTS_MODE=download
  await deps.checkWeights?.(workflow, run.signal, { ...(ui ? { ui } : {}), onProgress: run.onProgress });
  const validated = performance.now();
  // runPrompt's timestamps are epoch ms, so queue time is measured on that clock
  const validatedAt = Date.now();

  // a name another running job uses for other bytes gets a variant, and the workflow names that
  const names = (deps.inputNames ?? new InputNames()).lease(files, files.length > 0 ? namesUsed(workflow) : undefined);
  renameInputs(workflow, names.renamed);
  let result: PromptResult;
  try {
    result = await sendWhenReady(deps, run.signal, async () => {
      await _uploadInputs(deps.client, names.files);
      return _execute(deps, run, workflow, input);
    });
  } finally {
    names.release();
  }
  const executed = performance.now();
  const collected = await collectOutputs(deps.client, result.entry.outputs ?? {}, {
    includeTemp: input.output?.include_temp ?? false,
    inlineMaxBytes: deps.config.OUTPUT_INLINE_MAX_MB * 1_048_576,
    mode: input.output?.mode ?? "auto",
    upload: deps.upload,
    // a file older than the prompt is not its output (a stale name in a wrongly guessed folder); mtime may be coarse
    ...(deps.localFiles ? { local: { dirs: deps.localFiles, notBefore: result.queuedAt - LOCAL_MTIME_SLACK_MS } } : {}),
  });
  const done = performance.now();
  const startedAt = result.startedAt ?? result.queuedAt;
  const queueMs = Math.max(0, startedAt - validatedAt);
  return {
    ...collected.result,
    prompt_id: result.promptId,
    timings: {
      validate_ms: _ms(validated - started),
      queue_ms: _ms(queueMs),
      execution_ms: _ms(Math.max(0, result.finishedAt - startedAt)),
      collect_ms: _ms(done - executed - collected.uploadMs),
      upload_ms: _ms(collected.uploadMs),
      total_ms: _ms(done - started),
    },
  };
}

function _parseInput(raw: unknown): JobInput {
  let value = raw;
  // RunPod clients sometimes send the input as a JSON string
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      throw new WorkerError("E_INPUT", "input is a string that is not valid JSON");
    }
  }
  // zod drops a "__proto__" node id that JSON.parse kept: say so before it does
  const workflow = (value as { workflow?: unknown } | null)?.workflow;
  const reserved = typeof workflow === "object" && workflow !== null ? reservedNodeId(workflow) : undefined;
  if (reserved !== undefined) throw reservedNodeIdError("input.workflow", reserved);
  const parsed = JobInput.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = describeIssues(parsed.error, value, "input");
  throw new WorkerError("E_INPUT", `invalid job input: ${issues.join("; ")}`, { details: { issues } });
}

function _convertUi(ui: UiWorkflow, objectInfo: ObjectInfo): ApiWorkflow {
  const { api, unknownNodes } = convertUiToApi(ui, objectInfo);
  if (unknownNodes.length === 0) return api;
  const named = unknownNodes.map((node) => _named(node.class_type, node.pack));
  throw new WorkerError(
    "E_UNKNOWN_NODE",
    `ComfyUI has no node type ${named.join(", ")}; install the custom node pack that provides ${unknownNodes.length > 1 ? "them" : "it"}`,
    { details: { unknown_nodes: unknownNodes } },
  );
}

function _checkNodes(workflow: ApiWorkflow, objectInfo: ObjectInfo): void {
  const unknown = unknownNodeTypes(workflow, objectInfo);
  if (unknown.length === 0) return;
  throw new WorkerError(
    "E_UNKNOWN_NODE",
    `ComfyUI has no node type ${unknown.map((type) => _named(type)).join(", ")}; install the custom node pack that provides ${unknown.length > 1 ? "them" : "it"}`,
    { details: { unknown_nodes: unknown } },
  );
}

// the pack the UI saved (cnr_id/aux_id), else a well-known one for common custom nodes
function _named(classType: string, pack = knownNodePack(classType)): string {
  return pack ? `${classType} (from ${pack})` : classType;
}

async function _uploadInputs(client: ComfyClient, files: InputFile[]): Promise<void> {
  for (const file of files) {
    await client.upload(file.bytes, file.filename, { subfolder: file.subfolder, type: "input", overwrite: true });
  }
}

async function _execute(deps: JobDeps, run: JobRun, workflow: ApiWorkflow, input: JobInput): Promise<PromptResult> {
  const generation = deps.comfy.generation;
  const stop = new AbortController();
  const progress = createProgressTracker(workflow, run.onProgress);
  let node: string | undefined;
  const previews = jobPreviews(input.preview, deps.config.PREVIEWS === "on", run.onPreview, () => node);
  const extraData = {
    // every job shares one ComfyUI client id now; this keeps a queue or history entry traceable to its job
    comfy_worker_job_id: run.id,
    ...(input.comfy_org_api_key ? { api_key_comfy_org: input.comfy_org_api_key } : {}),
    ...previews?.extraData,
  };
  let queuedId: string | undefined;
  const left = watchComfy(deps);
  try {
    const running = runPrompt(deps.client, workflow, {
      extraData,
      ...(previews ? { onPreview: previews.onFrame } : {}),
      signal: AbortSignal.any([run.signal, stop.signal, left.signal]),
      health: () => (deps.comfy.generation !== generation ? "ComfyUI was restarted while running this job" : undefined),
      onEvent: (event) => {
        if (event.type === "queued") queuedId = event.promptId;
        if (event.type === "executing" || event.type === "progress") node = event.node;
        progress(event);
        // ComfyUI queues a prompt with only its valid outputs; a job that silently loses outputs is a failure
        if (event.type === "queued" && Object.keys(event.nodeErrors).length > 0)
          stop.abort(_partialFailure(event.nodeErrors));
      },
    });
    // once ComfyUI has gone the job fails at once: cancelling its prompt would wait on a hung server (it is taken
    // out when ComfyUI is back, below), so that attempt ends in the background
    running.catch(() => {});
    const result = await Promise.race([running, left.failed]);
    if (result.status === "success") return result;
    const failure = executionFailure(result, workflow);
    await recoverAfter(failure, deps.client, deps.log);
    throw failure;
  } catch (error) {
    if (left.signal.aborted && queuedId && !deps.comfy.supervised) cancelWhenBack(deps, queuedId);
    throw error;
  } finally {
    left.dispose();
    previews?.close();
  }
}

function _partialFailure(nodeErrors: Record<string, unknown>): WorkerError {
  const nodes = Object.entries(nodeErrors).map(([id, e]) => `node ${id}: ${_nodeErrorText(e)}`);
  return new WorkerError("E_WORKFLOW_REJECTED", `ComfyUI rejected part of the workflow (${nodes.join("; ")})`, {
    details: { node_errors: nodeErrors },
  });
}

function _nodeErrorText(error: unknown): string {
  const first = (error as { errors?: Array<{ message?: string; details?: string }> }).errors?.[0];
  return first ? `${first.message ?? ""}${first.details ? `: ${first.details}` : ""}` : JSON.stringify(error);
}

function _ms(value: number): number {
  return Math.round(value);
}
