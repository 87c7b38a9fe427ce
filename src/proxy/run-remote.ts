import type { ObjectInfo } from "../comfy/object-info.ts";
import { isWorkerError, WorkerError } from "../errors.ts";
import type { Redactor } from "../lib/redact.ts";
import type { Logger } from "../log.ts";
import { type EndpointClient, type FollowOptions, followJob, type StatusReply } from "../remote/index.ts";
import type { BrowserHub } from "./hub.ts";
import { PromptEvents } from "./prompt-events.ts";
import { type FinishedPrompt, queueTuple, type RemotePrompt } from "./queue.ts";
import { type NodeErrors, readFailure } from "./remote-failure.ts";
import { type SaveOptions, saveResult } from "./store.ts";

export interface RunDeps {
  client: EndpointClient;
  hub: BrowserHub;
  save: SaveOptions;
  log: Logger;
  /** The local /object_info, for ComfyUI's value_not_in_list text when the endpoint lacks a weight. */
  objectInfo: () => Promise<ObjectInfo | undefined>;
  /** The endpoint said these nodes name weights it does not have: the next POST /prompt is refused like ComfyUI. */
  onNodeErrors?: (prompt: Record<string, unknown>, errors: NodeErrors) => void;
  /** Sees the prompt's event builder (the proxy re-sends its executing node to a reconnecting client). */
  onEvents?: (events: PromptEvents) => void;
  follow?: Omit<FollowOptions, "signal">;
  /** After an interrupt, how long to wait for the endpoint to confirm the cancel. */
  cancelWaitMs?: number;
  /** Applied to every error text the browser and /history get: a remote error may quote a key or a URL password. */
  redactor: Redactor;
}

type Outcome = FinishedPrompt["outcome"];
const CANCEL_WAIT_MS = 15_000;

/**
 * Runs one prompt on the endpoint and tells the browser what ComfyUI would have: execution_start/cached, then
 * executing/progress from the stream, executed with the saved outputs, and execution_success, _error or
 * _interrupted. The job is submitted once; a dropped connection resumes following the same job.
 */
export async function runRemotePrompt(item: RemotePrompt, deps: RunDeps): Promise<FinishedPrompt> {
  const events = new PromptEvents(item, deps.hub);
  deps.onEvents?.(events);
  item.startedAt = Date.now();
  events.message("execution_start", { prompt_id: item.promptId });
  events.message("execution_cached", { nodes: [], prompt_id: item.promptId });
  let result: RunResult;
  try {
    result = await _run(item, deps, events);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    deps.log.error(`remote prompt ${item.promptId} failed: ${message}`);
    result = {
      outcome: "error",
      error: _executionError(item, events, { message, type: _errorType(error), traceback: [] }, deps.redactor),
    };
  }
  const entry = {
    prompt: queueTuple(item),
    outputs: result.outputs ?? {},
    status: {
      status_str: result.outcome === "success" ? ("success" as const) : ("error" as const),
      completed: result.outcome === "success",
      messages: events.messages,
    },
    meta: Object.fromEntries(
      Object.keys(result.outputs ?? {}).map((id) => [
        id,
        { node_id: id, display_node: id, parent_node: null, real_node_id: id },
      ]),
    ),
  };
  return {
    item,
    entry,
    outcome: result.outcome,
    endedAt: Date.now(),
    ...(result.error ? { error: result.error } : {}),
  };
}

interface RunResult {
  outcome: Outcome;
  error?: Record<string, unknown>;
  outputs?: Record<string, Record<string, unknown>>;
}

async function _run(item: RemotePrompt, deps: RunDeps, events: PromptEvents): Promise<RunResult> {
  if (item.cancel.signal.aborted) return _interrupted(item, events);
  // no signal: once sent, the job may exist, so an interrupt during submit cancels it afterwards
  const { id } = await deps.client.submit({ input: item.input });
  item.jobId = id;
  deps.log.info(`prompt ${item.promptId} → remote job ${id} on ${deps.client.target.id}`);
  const job = await _follow(item, deps, events, id);
  if (!job || job.status === "CANCELLED") return _interrupted(item, events);
  if (job.status === "COMPLETED") {
    const extraPnginfo = item.extraData.extra_pnginfo;
    const ui = await saveResult(job.output, events.announced, { ...deps.save, extraPnginfo });
    events.outputs(ui);
    events.message("execution_success", { prompt_id: item.promptId });
    return { outcome: "success", outputs: Object.fromEntries(ui) };
  }
  const failure = readFailure(job, item.prompt, item.outputs, await deps.objectInfo().catch(() => undefined));
  if (failure.nodeErrors) deps.onNodeErrors?.(item.prompt, failure.nodeErrors);
  return { outcome: "error", error: _executionError(item, events, failure, deps.redactor) };
}

async function _follow(
  item: RemotePrompt,
  deps: RunDeps,
  events: PromptEvents,
  jobId: string,
): Promise<StatusReply | undefined> {
  const stop = new AbortController();
  let cancelFailed: Error | undefined;
  const onCancel = () => {
    deps.log.info(`interrupt: cancelling remote job ${jobId}`);
    // the client tries a failed cancel again for a few seconds before it gives up
    void deps.client.cancel(jobId).catch((error: unknown) => {
      cancelFailed = error instanceof Error ? error : new Error(String(error));
      deps.log.warn(`cancel of ${jobId} failed: ${cancelFailed.message}`);
      stop.abort(cancelFailed);
    });
    setTimeout(() => stop.abort(new Error("cancel not confirmed")), deps.cancelWaitMs ?? CANCEL_WAIT_MS).unref?.();
  };
  if (item.cancel.signal.aborted) onCancel();
  else item.cancel.signal.addEventListener("abort", onCancel, { once: true });
  try {
    for await (const event of followJob(deps.client, jobId, { ...deps.follow, signal: stop.signal })) {
      if (event.type === "progress") events.progress(event.progress);
      else if (event.type === "status") deps.log.info(`remote job ${jobId}: ${event.status}`);
      else if (event.type === "retry")
        deps.log.warn(`${event.error.message}; following job ${jobId} again in ${event.delayMs} ms`);
      else if (event.type === "terminal") return event.job;
    }
  } catch (error) {
    if (!stop.signal.aborted) throw error;
    // an interrupt that could not reach the endpoint is no interrupt: the job may still run, and bill
    if (cancelFailed) {
      throw new WorkerError(
        isWorkerError(cancelFailed) ? cancelFailed.code : "E_COMFY_UNAVAILABLE",
        `could not cancel remote job ${jobId} (${cancelFailed.message}); it may still be running on the endpoint: cancel it in the RunPod console`,
      );
    }
    return undefined;
  } finally {
    item.cancel.signal.removeEventListener("abort", onCancel);
  }
  return undefined;
}

function _interrupted(item: RemotePrompt, events: PromptEvents): RunResult {
  const { node_id, node_type } = events.blame();
  events.message(
    "execution_interrupted",
    { prompt_id: item.promptId, node_id, node_type, executed: [...events.executed] },
    true,
  );
  return { outcome: "interrupted" };
}

function _executionError(
  item: RemotePrompt,
  events: PromptEvents,
  failure: { message: string; type: string; traceback: string[]; node?: string },
  redactor: Redactor,
): Record<string, unknown> {
  const { node_id, node_type } = events.blame(failure.node);
  if (node_id) events.errorState(node_id);
  const data = {
    prompt_id: item.promptId,
    node_id,
    node_type,
    executed: [...events.executed],
    exception_message: redactor.text(failure.message),
    exception_type: failure.type,
    traceback: failure.traceback.map((line) => redactor.text(line)),
    current_inputs: {},
    current_outputs: [...events.executed],
  };
  events.message("execution_error", data);
  return data;
}

function _errorType(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  return typeof code === "string" ? code : "RemoteJobFailed";
}

/** Sends main.py's final `executing` (node null) once the history entry exists. */
export function announceFinished(item: RemotePrompt, hub: BrowserHub): void {
  if (item.clientId !== null) hub.send("executing", { node: null, prompt_id: item.promptId }, item.clientId);
}
