import { WorkerError } from "../errors.ts";
import { JobProgress } from "../jobs/progress.ts";
import { backoffMs } from "../lib/time.ts";
import { abortableSleep, type EndpointClient } from "./endpoint.ts";
import { isRetryable } from "./http.ts";
import { type RemoteJobStatus, type StatusReply, TERMINAL } from "./schemas.ts";

/** What following a remote job yields, in order; `terminal` is always last. */
export type FollowEvent =
  /** The job's status changed (IN_QUEUE → IN_PROGRESS …); `at` is epoch ms when we saw it. */
  | { type: "status"; status: RemoteJobStatus; at: number }
  /** A progress chunk in our worker's shape (SPEC §6), from `/stream` or from `/status` while IN_PROGRESS. */
  | { type: "progress"; progress: JobProgress }
  /** A stream chunk in any other shape (a generator handler's own output). */
  | { type: "output"; output: unknown }
  /** The endpoint could not be reached or answered 429/5xx; following goes on after `delayMs`. */
  | { type: "retry"; error: WorkerError; delayMs: number }
  /** The final `/status`: COMPLETED, FAILED, CANCELLED or TIMED_OUT, with output/error and timings. */
  | { type: "terminal"; job: StatusReply };

export interface FollowOptions {
  signal?: AbortSignal;
  /** Give up after the endpoint has been unreachable (or 429/5xx) for this long; default 5 min. */
  maxOutageMs?: number;
  /**
   * Longest pause between polls when `/stream` answers empty and fast (a server that does not long-poll); the
   * pause starts at a quarter of it and doubles while nothing changes, like the Python SDK's 1 s poll at most.
   */
  idleMs?: number;
}

const MAX_OUTAGE_MS = 300_000;
const IDLE_MS = 1_000;
const RETRY_BACKOFF = { initialMs: 500, maxMs: 10_000 };
// a /stream reply faster than this did not long-poll; pause before asking again
const FAST_REPLY_MS = 250;

/**
 * Follows a submitted job until it ends: `/stream` for chunks, `/status` for the state, progress updates and the
 * final result. Dropped connections, timeouts, 429 and 5xx are retried with backoff for up to `maxOutageMs`;
 * the job is never resubmitted. A 404 (result expired) or 401 ends following with that error. Aborting the
 * signal rejects with its reason; cancelling the remote job is the caller's call.
 */
export async function* followJob(
  client: EndpointClient,
  jobId: string,
  options: FollowOptions = {},
): AsyncGenerator<FollowEvent, void, undefined> {
  const state: FollowState = {
    status: undefined,
    lastProgress: "",
    failures: 0,
    outageSince: 0,
    idle: 0,
    statusOnly: false,
  };
  const signal = options.signal;
  while (true) {
    signal?.throwIfAborted();
    try {
      if (yield* _round(client, jobId, state, options)) return;
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (!isRetryable(error)) throw error;
      const delayMs = _nextDelay(state, error, options.maxOutageMs ?? MAX_OUTAGE_MS, jobId);
      yield { type: "retry", error, delayMs };
      await abortableSleep(delayMs, signal);
    }
  }
}

interface FollowState {
  status: RemoteJobStatus | undefined;
  lastProgress: string;
  failures: number;
  outageSince: number;
  /** Rounds in a row without a stream chunk. */
  idle: number;
  /** The endpoint refused /stream outright (a worker that does not stream): follow /status alone. */
  statusOnly: boolean;
}

async function _stream(client: EndpointClient, jobId: string, state: FollowState, signal?: AbortSignal) {
  try {
    return await client.stream(jobId, signal);
  } catch (error) {
    if (signal?.aborted || (error as WorkerError).code === "E_AUTH") throw error;
    if (isRetryable(error)) return error as WorkerError;
    // 400/404/405 or a reply of another shape: /status still tells progress and the end (a 404 there is final)
    state.statusOnly = true;
    return undefined;
  }
}

/** One `/stream` + `/status` round; true once the job is terminal (its event yielded). */
async function* _round(
  client: EndpointClient,
  jobId: string,
  state: FollowState,
  options: FollowOptions,
): AsyncGenerator<FollowEvent, boolean, undefined> {
  const { signal } = options;
  const started = Date.now();
  // a /stream that fails or hangs must not hide the job's end: /status is asked either way
  const reply = state.statusOnly ? undefined : await _stream(client, jobId, state, signal);
  const streamed = reply instanceof WorkerError ? undefined : reply;
  for (const chunk of streamed?.stream ?? []) yield _chunkEvent(state, chunk.output);
  if (streamed) yield* _statusChange(state, streamed.status);
  const chunks = streamed?.stream.length ?? 0;
  if (streamed && chunks > 0 && !TERMINAL.has(streamed.status)) {
    _recovered(state);
    return false;
  }
  // RunPod-mode workers report progress as the status output, and the final result lives only in /status
  const job = await client.status(jobId, signal);
  _recovered(state);
  yield* _statusChange(state, job.status);
  if (TERMINAL.has(job.status)) {
    yield { type: "terminal", job };
    return true;
  }
  const running = job.status === "IN_PROGRESS" || job.status === "RUNNING";
  const progress = running ? JobProgress.safeParse(job.output) : undefined;
  if (progress?.success && JSON.stringify(progress.data) !== state.lastProgress)
    yield _chunkEvent(state, progress.data);
  state.idle = chunks > 0 ? 0 : state.idle + 1;
  if (reply instanceof WorkerError) {
    // the endpoint answers /status, so this is no outage; back off /stream all the same
    const delayMs = backoffMs(state.idle - 1, RETRY_BACKOFF);
    yield { type: "retry", error: reply, delayMs };
    await abortableSleep(delayMs, signal);
  } else if (Date.now() - started < FAST_REPLY_MS) {
    const idleMs = options.idleMs ?? IDLE_MS;
    await abortableSleep(Math.min(idleMs, (idleMs / 4) * 2 ** Math.max(0, state.idle - 1)), signal);
  }
  return false;
}

function* _statusChange(state: { status: RemoteJobStatus | undefined }, status: RemoteJobStatus) {
  if (status === state.status) return;
  state.status = status;
  yield { type: "status" as const, status, at: Date.now() };
}

function _chunkEvent(state: { lastProgress: string }, output: unknown): FollowEvent {
  const progress = JobProgress.safeParse(output);
  if (!progress.success) return { type: "output", output };
  state.lastProgress = JSON.stringify(progress.data);
  return { type: "progress", progress: progress.data };
}

function _recovered(state: { failures: number; outageSince: number }): void {
  state.failures = 0;
  state.outageSince = 0;
}

function _nextDelay(
  state: { failures: number; outageSince: number },
  error: WorkerError,
  maxOutageMs: number,
  jobId: string,
): number {
  const now = Date.now();
  if (state.outageSince === 0) state.outageSince = now;
  if (now - state.outageSince >= maxOutageMs) {
    throw new WorkerError(
      error.code,
      `${error.message}. Gave up following job ${jobId} after ${Math.round(maxOutageMs / 1000)} s; it may still be running on the endpoint (its result is kept 30 min)`,
      { cause: error, details: { ...error.details, job_id: jobId } },
    );
  }
  const after = error.details.retry_after_ms as number | undefined;
  const delay = Math.max(after ?? 0, backoffMs(state.failures++, RETRY_BACKOFF));
  return Math.min(delay, Math.max(0, maxOutageMs - (now - state.outageSince)) + 1);
}
