import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Config } from "../config.ts";
import { WorkerError } from "../errors.ts";
import type { JobPreview } from "../jobs/previews.ts";
import type { JobProgress } from "../jobs/progress.ts";
import type { JobFile } from "../jobs/schema.ts";
import type { LookupFn } from "../lib/net.ts";
import { reserveFreePath, type SavedOutput, saveOutputFiles, writeError } from "../lib/output-files.ts";
import type { Logger } from "../log.ts";
import type { EndpointClient } from "./endpoint.ts";
import { followJob } from "./follow.ts";
import { prepareRequest } from "./inputs.ts";
import { appendRun } from "./ledger.ts";
import { outputFetcher, outputItems, parseRemoteOutput, type RemoteOutput, remoteErrorText } from "./outputs.ts";
import { billedSeconds, type GpuPrice } from "./pricing.ts";
import { type HealthReply, type StatusReply, type SubmitBody, TERMINAL } from "./schemas.ts";

/** Where a remote run shows what happens (the CLI's progress renderer fits). */
export interface RunView {
  progress(progress: JobProgress): void;
  phase(text: string): void;
  note(text: string): void;
  /** A live preview from a stream chunk (the job asked with `input.preview`). */
  preview?(preview: JobPreview): void;
}

export interface RemoteRunOptions {
  input: { workflow: unknown; images: JobFile[] } & Record<string, unknown>;
  /** For the ledger: the workflow file's name. */
  workflowName: string;
  outDir: string;
  signal: AbortSignal;
  view: RunView;
  log: Logger;
  config: Parameters<typeof prepareRequest>[1] & Pick<Config, "BUCKET_ENDPOINT_URL">;
  price?: GpuPrice | undefined;
  ledger: string;
  /** ms; also sent as the job's policy.executionTimeout. */
  timeoutMs?: number | undefined;
  /** DNS for the output-URL guard (tests). */
  lookup?: LookupFn;
}

export interface RemoteRunResult {
  endpoint: string;
  job_id: string;
  status: "COMPLETED";
  output: RemoteOutput;
  saved: SavedOutput[];
  timings: { delay_ms: number | null; execution_ms: number | null; total_ms: number };
  /** True when no worker was ready at submit (the delay includes a cold start); null when /health said nothing. */
  cold_start: boolean | null;
  billed_s: number;
  cost: { usd: number; per_second: number; source: string } | null;
}

// the client tries a failed cancel about 7 s before it gives up
const CANCEL_TIMEOUT_MS = 8_000;
const MAX_EXECUTION_TIMEOUT_MS = 7 * 86_400_000;
const DEFAULT_TTL_MS = 86_400_000;
const TTL_MARGIN_MS = 3_600_000;

/**
 * Runs one job on an endpoint: submit with /run, follow it to the end (progress, phases), record it in the
 * ledger, save every output under `outDir` without overwriting. Aborting `signal` cancels the remote job and
 * rethrows the signal's reason. A job that ends other than COMPLETED is thrown as a WorkerError.
 */
export async function runRemote(client: EndpointClient, options: RemoteRunOptions): Promise<RemoteRunResult> {
  const prepared = await prepareRequest(options.input, options.config);
  if (prepared.bucketed.length > 0)
    options.view.note(
      `input files sent through the bucket (the request would be over the limit): ${prepared.bucketed.join(", ")}`,
    );
  // RunPod takes 5 s to 7 days (reference §4.3); a longer --timeout still stops the run here
  if (options.timeoutMs) {
    const executionTimeout = Math.min(MAX_EXECUTION_TIMEOUT_MS, Math.max(5_000, options.timeoutMs));
    // RunPod drops a job past its ttl (default a day, queue time included): a longer limit needs a longer ttl
    const ttl = Math.min(MAX_EXECUTION_TIMEOUT_MS, executionTimeout + TTL_MARGIN_MS);
    prepared.body.policy = { executionTimeout, ...(ttl > DEFAULT_TTL_MS ? { ttl } : {}) };
  }
  const submittedAt = Date.now();
  const id = await _submit(client, prepared.body, options);
  options.view.note(`submitted job ${id} to ${client.target.shown}`);
  // RunPod's delayTime lumps queue wait and cold start together; whether a worker was ready tells them apart
  const coldStart = client.health(options.signal).then(_noWorkerReady, () => null);
  const job = await _follow(client, id, options, coldStart);
  const totalMs = Date.now() - submittedAt;
  const billed = billedSeconds(job.executionTime);
  const cost = options.price ? Math.round(billed * options.price.perSecond * 1e6) / 1e6 : null;
  await _record(options, client, { id, status: job.status, job, billed, cost });
  if (job.status !== "COMPLETED") throw _ended(job);
  const output = parseRemoteOutput(job.output);
  const saved = await _save(client, output, options, id);
  return {
    endpoint: client.target.id,
    job_id: id,
    status: "COMPLETED",
    output,
    saved,
    timings: { delay_ms: job.delayTime ?? null, execution_ms: job.executionTime ?? null, total_ms: totalMs },
    cold_start: await coldStart,
    billed_s: billed,
    cost:
      options.price && cost !== null
        ? { usd: cost, per_second: options.price.perSecond, source: options.price.source }
        : null,
  };
}

async function _follow(
  client: EndpointClient,
  id: string,
  options: RemoteRunOptions,
  coldStart: Promise<boolean | null>,
): Promise<StatusReply> {
  try {
    for await (const event of followJob(client, id, { signal: options.signal })) {
      if (event.type === "progress") _progress(options.view, event.progress);
      else if (event.type === "status") options.view.phase(await _phase(event.status, coldStart));
      else if (event.type === "retry")
        options.log.warn(`${event.error.message}; following job ${id} again in ${Math.ceil(event.delayMs / 1000)} s`);
      else if (event.type === "terminal") return event.job;
    }
  } catch (error) {
    if (!options.signal.aborted) {
      if ((error as WorkerError).code === "E_NOT_FOUND") {
        await _record(options, client, {
          id,
          status: "EXPIRED",
          job: { id, status: "IN_QUEUE" },
          billed: 0,
          cost: null,
        });
        throw error;
      }
      // we can no longer follow it, so it must not run on (and bill) unseen: cancelled, and recorded as it ended
      options.log.warn(`stopped following job ${id} (${(error as Error).message}); cancelling it on the endpoint`);
      await _cancel(client, id, options);
      throw error;
    }
    await _cancel(client, id, options);
    throw options.signal.reason ?? error;
  }
  throw new WorkerError("E_INTERNAL", `following job ${id} ended without a final status`);
}

// a preview rides on a copy of the latest progress chunk; one sent before any progress (no class type, no
// step) is only a preview
function _progress(view: RunView, chunk: JobProgress): void {
  const { preview, ...progress } = chunk;
  if (preview) view.preview?.(preview);
  if (!preview || progress.class_type !== undefined || progress.max > 0 || progress.finished?.length)
    view.progress(progress);
}

async function _phase(status: string, coldStart: Promise<boolean | null>): Promise<string> {
  if (status === "IN_QUEUE") return (await coldStart) ? "in queue · cold start (no worker was ready)" : "in queue";
  if (status === "IN_PROGRESS" || status === "RUNNING") return "running";
  return status.toLowerCase();
}

function _noWorkerReady(health: HealthReply): boolean | null {
  const workers = health.workers;
  if (!workers) return null;
  return (workers.idle ?? 0) + (workers.running ?? 0) + (workers.ready ?? 0) === 0;
}

// Ctrl-C or --timeout while /run is on its way: the request is not cut off, since it may already have queued the
// job; once its id is known the job is cancelled, so nothing keeps running (and billing) unseen
async function _submit(client: EndpointClient, body: SubmitBody, options: RemoteRunOptions): Promise<string> {
  const waiting = () => options.view.note("interrupted while submitting: waiting for the job's id to cancel it");
  options.signal.addEventListener("abort", waiting, { once: true });
  try {
    const { id } = await client.submit(body, options.signal).catch((error: unknown) => {
      if (!options.signal.aborted) throw error;
      // the run was stopped and /run never answered: the job may be queued, under an id we never learned
      options.log.warn(
        `interrupted while /run had no answer (${(error as Error).message}); a job may have been queued: check the endpoint's requests in the RunPod console`,
      );
      throw options.signal.reason;
    });
    if (!options.signal.aborted) return id;
    await _cancel(client, id, options);
    throw options.signal.reason;
  } finally {
    options.signal.removeEventListener("abort", waiting);
  }
}

// Ctrl-C or --timeout: the remote job must not keep running (and billing) after we stop following it
async function _cancel(client: EndpointClient, id: string, options: RemoteRunOptions): Promise<void> {
  let cancelled = false;
  try {
    const reply = await client.cancel(id, AbortSignal.timeout(CANCEL_TIMEOUT_MS));
    cancelled = true;
    options.view.note(`cancelled job ${id} on the endpoint (${reply.status ?? "no status"})`);
  } catch (error) {
    options.log.warn(
      `could not cancel job ${id} on the endpoint (${(error as Error).message}); cancel it in the RunPod console`,
    );
  }
  const status = await client.status(id, AbortSignal.timeout(CANCEL_TIMEOUT_MS)).catch(() => undefined);
  // the ledger says how the job ended: it may have finished first, and a cancel that never got through is no cancel
  const ended = status && TERMINAL.has(status.status) ? status.status : cancelled ? "CANCELLED" : "UNKNOWN";
  await _record(options, client, {
    id,
    status: ended,
    job: status ?? { id, status: "CANCELLED" },
    billed: billedSeconds(status?.executionTime),
    cost: options.price ? billedSeconds(status?.executionTime) * options.price.perSecond : null,
  });
}

async function _record(
  options: RemoteRunOptions,
  client: EndpointClient,
  run: { id: string; status: string; job: StatusReply; billed: number; cost: number | null },
): Promise<void> {
  try {
    await appendRun(options.ledger, {
      time: new Date().toISOString(),
      endpoint: client.target.explicitUrl ? client.target.shown : client.target.id,
      job_id: run.id,
      workflow: options.workflowName,
      status: run.status,
      delay_ms: run.job.delayTime ?? null,
      execution_ms: run.job.executionTime ?? null,
      billed_s: run.billed,
      cost: run.cost,
    });
  } catch (error) {
    options.log.warn(
      `could not write the runs ledger ${options.ledger} (${(error as Error).message}); set RUNS_LEDGER`,
    );
  }
}

function _ended(job: StatusReply): WorkerError {
  const details = { job_id: job.id, status: job.status, remote_error: job.error, output: job.output };
  if (job.status === "CANCELLED")
    return new WorkerError("E_JOB_CANCELLED", `job ${job.id} was cancelled on the endpoint`, { details });
  if (job.status === "TIMED_OUT")
    return new WorkerError(
      "E_JOB_TIMEOUT",
      `job ${job.id} timed out on the endpoint (past its execution timeout, or no worker took it within its ttl)`,
      { details },
    );
  return new WorkerError("E_JOB_FAILED", `job ${job.id} failed on the endpoint: ${remoteErrorText(job.error)}`, {
    details,
  });
}

// every output that can be saved is; if any cannot, the whole result is kept beside them so nothing is lost
async function _save(client: EndpointClient, output: RemoteOutput, options: RemoteRunOptions, id: string) {
  const { saved, failed } = await saveOutputFiles(
    outputItems(output),
    options.outDir,
    await outputFetcher(client.target, options.lookup, options.signal),
  );
  if (failed.length === 0) return saved;
  // Ctrl-C or --timeout while saving: that is how the run ended (the result is kept below all the same)
  if (options.signal.aborted) {
    await _keepResult(output, join(options.outDir, `${id}.result.json`));
    throw options.signal.reason;
  }
  const kept = await _keepResult(output, join(options.outDir, `${id}.result.json`));
  const first = failed[0]?.error as Error;
  const code = first instanceof WorkerError ? first.code : "E_DOWNLOAD";
  const list = failed.map((f) => `${f.item.filename}: ${f.error.message}`).join("; ");
  throw new WorkerError(
    code,
    `${failed.length} output file(s) of job ${id} were not saved (${list}); saved ${saved.length} other(s), and ${kept.saved ? `the whole result to ${kept.path}` : `could not keep the whole result either (${kept.error}); the endpoint still answers it at /status/${id} for a while (30 minutes on RunPod)`}`,
    {
      details: { saved: saved.map((s) => s.path), ...(kept.saved ? { result_file: kept.path } : {}) },
    },
  );
}

// the result JSON beside the outputs; an --out that refused the outputs may refuse this too
async function _keepResult(
  output: RemoteOutput,
  wanted: string,
): Promise<{ saved: true; path: string } | { saved: false; error: string }> {
  try {
    const path = await reserveFreePath(wanted);
    await writeFile(path, JSON.stringify(output, null, 2)).catch((error: unknown) => {
      throw writeError(error, path);
    });
    return { saved: true, path };
  } catch (error) {
    return { saved: false, error: (error as Error).message };
  }
}
