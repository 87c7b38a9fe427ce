import type { ComfyClient } from "./client.ts";
import { cancelJob, featuresOf } from "./features.ts";

/** How a cancel ended: removed from the queue, interrupted while running, or not in ComfyUI's queue at all. */
export type CancelOutcome = "deleted" | "interrupted" | "gone";

/** Options for {@link cancelPrompt}. */
export interface CancelPromptOptions {
  /** True once the caller has seen the prompt end (e.g. `execution_interrupted` on its socket). */
  finished?: () => boolean;
  /** How long an interrupted prompt gets to report its end; default 5 s. */
  graceMs?: number;
}

// how long an interrupted prompt gets to report its end before we give up waiting
const CANCEL_GRACE_MS = 5_000;
const CANCEL_CALL_TIMEOUT_MS = 3_000;
const SETTLE_POLL_MS = 100;

/**
 * Takes a prompt out of ComfyUI: deletes it when pending, interrupts it when running, then waits (bounded) for
 * the interrupted run to end. Where ComfyUI has POST /api/jobs/{id}/cancel it is one call that acts on exactly
 * this prompt whatever its state; older servers get /queue delete or /interrupt {prompt_id}. Never takes longer
 * than the grace period plus a few short calls; throws only when ComfyUI can't be asked.
 */
export async function cancelPrompt(
  client: ComfyClient,
  promptId: string,
  options: CancelPromptOptions = {},
): Promise<CancelOutcome> {
  const finished = options.finished ?? (() => false);
  const features = await featuresOf(client).catch(() => undefined);
  let where = await _locate(client, promptId);
  if (features?.jobCancel) return _cancelJob(client, promptId, where, finished, options.graceMs);
  if (where === "pending") {
    await _within(client.deleteQueued([promptId]), CANCEL_CALL_TIMEOUT_MS);
    // it may have started between the two calls
    where = await _locate(client, promptId);
    if (where !== "running") return "deleted";
  }
  if (where !== "running") return "gone";
  await _within(client.interrupt(promptId), CANCEL_CALL_TIMEOUT_MS);
  await _settle(client, promptId, finished, Date.now() + (options.graceMs ?? CANCEL_GRACE_MS));
  return "interrupted";
}

async function _cancelJob(
  client: ComfyClient,
  promptId: string,
  where: "pending" | "running" | "gone",
  finished: () => boolean,
  graceMs = CANCEL_GRACE_MS,
): Promise<CancelOutcome> {
  if (where === "gone") return "gone";
  // the server decides pending vs running at call time, so a prompt that starts in between is interrupted
  if (!(await cancelJob(client.url, promptId, CANCEL_CALL_TIMEOUT_MS))) return "gone";
  if (where === "pending" && (await _locate(client, promptId)) !== "running") return "deleted";
  await _settle(client, promptId, finished, Date.now() + graceMs);
  return "interrupted";
}

async function _locate(client: ComfyClient, promptId: string): Promise<"pending" | "running" | "gone"> {
  const queue = await _within(client.queue(), CANCEL_CALL_TIMEOUT_MS);
  if (queue.pending.includes(promptId)) return "pending";
  return queue.running.includes(promptId) ? "running" : "gone";
}

async function _settle(client: ComfyClient, promptId: string, finished: () => boolean, deadline: number) {
  while (Date.now() < deadline && !finished()) {
    const signal = AbortSignal.timeout(CANCEL_CALL_TIMEOUT_MS);
    const entry = await client.history(promptId, signal).catch(() => undefined);
    if (entry) return;
    await Bun.sleep(Math.max(0, Math.min(SETTLE_POLL_MS, deadline - Date.now())));
  }
}

function _within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`ComfyUI did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
