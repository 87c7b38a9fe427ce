import type { ComfyHandle } from "../comfy/supervisor.ts";
import type { Config } from "../config.ts";
import { windowedFailures } from "../jobs/log-window.ts";
import { runJob } from "../jobs/pipeline.ts";
import { secondsToTimerMs } from "../lib/time.ts";
import type { Logger } from "../log.ts";
import { jobUploader, resolveEnvBucket } from "../runpod/bucket.ts";
import { type AppDeps, createApp, SERVER_MAX_REQUEST_BODY } from "../server/app.ts";
import type { WorkerHealth } from "../server/health.ts";
import { JobStore } from "../server/job-store.ts";
import { Metrics } from "../server/metrics.ts";
import { primeApp } from "../server/prime-app.ts";
import { ResultFiles } from "../server/result-files.ts";
import { sendWebhook } from "../server/webhook.ts";
import { bringUp } from "./bring-up.ts";
import { failedFor } from "./comfy.ts";
import { describeBind, type HttpListener, listenHttp } from "./http-listen.ts";
import { createRuntime } from "./runtime.ts";

export interface WorkerHandle {
  url: string;
  health: WorkerHealth;
  comfy: ComfyHandle;
  /**
   * Resolves with ComfyUI's failure FAILED_EXIT_GRACE_S after it failed for good (restart limit reached;
   * /ping and /ready say 503 meanwhile): then `serve` stops and exits 6 so the platform replaces it.
   */
  failed: Promise<unknown>;
  /** Drains jobs within SHUTDOWN_GRACE_S, stops the HTTP server and ComfyUI's whole process group. */
  stop(): Promise<void>;
}

export interface StartWorkerOptions {
  emulate?: boolean;
  signal?: AbortSignal;
  /** Tests only: job weight URLs may be plain http to loopback. */
  allowPrivateDownloads?: boolean;
}

/** `serve` in API mode: HTTP first (health answers while starting), then ComfyUI and preloads, warmup, jobs. */
export async function startWorker(
  config: Config,
  log: Logger,
  options: StartWorkerOptions = {},
): Promise<WorkerHandle> {
  resolveEnvBucket(config);
  const metrics = new Metrics();
  const runtime = await createRuntime(config, log, {
    ...(options.emulate ? { emulate: true } : {}),
    onFetched: (bytes) => (metrics.bytesDownloaded += bytes),
    allowPrivateDownloads: options.allowPrivateDownloads,
  });
  const { comfy, client, deps, dispose } = runtime;
  const jobs: JobStore = new JobStore({
    concurrency: () => runtime.concurrency(),
    resultTtlMs: secondsToTimerMs(config.RESULT_TTL_S),
    timeoutMs: secondsToTimerMs(config.JOB_TIMEOUT_S),
    workerId: config.RUNPOD_POD_ID,
    // jobs sent while starting wait until preloads and warmup are done
    paused: true,
    // large outputs wait on disk, not in the heap, until fetched or expired
    files: new ResultFiles(),
    execute: (job, execution) =>
      deps.coldStart.observe(() =>
        runtime.run(job.request.input, execution.signal, (on) =>
          runJob(
            { ...on, upload: jobUploader(config, job.id, job.request.s3Config) },
            {
              id: job.id,
              input: job.request.input,
              signal: execution.signal,
              onProgress: execution.onProgress,
              onPreview: execution.onPreview,
            },
          ),
        ),
      ),
    // ComfyUI lines from the failed job's own run only, never the previous job's or the start-up banner
    fail: windowedFailures(comfy, config.COMFY_LOG_LINES, config.redactor),
    onFinish: (job) => {
      metrics.jobFinished(job.status, ((job.finishedAt ?? 0) - (job.startedAt ?? job.createdAt)) / 1000);
      log.info(`job ${job.id} ${job.status}${job.error ? `: ${job.error}` : ""}`, { requestId: job.id });
      const guard = { privateAllowed: config.PRIVATE_HOSTS_ALLOWED };
      if (job.request.webhook) void sendWebhook(job.request.webhook, jobs.view(job), log, { guard });
    },
  });
  const health: WorkerHealth = {
    phase: "starting",
    startedAt: Date.now(),
    comfy,
    jobs,
    weights: deps.weights.health,
    coldStart: deps.coldStart,
    instances: () => runtime.instances(),
  };
  const appDeps: AppDeps = {
    health,
    metrics,
    log: log.child({ tag: "http" }),
    apiToken: config.API_TOKEN,
    maxBodyBytes: config.MAX_BODY_MB * 1_048_576,
    urlGuard: { privateAllowed: config.PRIVATE_HOSTS_ALLOWED },
    redactor: config.redactor,
  };
  const app = createApp(appDeps);
  let http: HttpListener;
  try {
    // idleTimeout 0: /runsync and /status-sync long-poll for up to 5 minutes
    http = listenHttp(config, { fetch: app.fetch, idleTimeout: 0, maxRequestBodySize: SERVER_MAX_REQUEST_BODY });
  } catch (error) {
    // nothing runs yet, but the emulator's temp folder exists: a refused start leaves nothing behind
    deps.weights.close();
    await jobs.drain(0);
    await dispose();
    throw error;
  }
  const { server, url } = http;
  log.info(`HTTP API listening on ${describeBind(http)} (health answers while ComfyUI starts)`);
  const life = new AbortController();
  const failed = failedFor(comfy, secondsToTimerMs(config.FAILED_EXIT_GRACE_S), life.signal);
  const stop = async () => {
    life.abort();
    health.phase = "stopping";
    deps.weights.close();
    await jobs.drain(secondsToTimerMs(config.SHUTDOWN_GRACE_S));
    await server.stop(true);
    await comfy.stop();
    await dispose();
  };
  await bringUp({ config, log, comfy, client, health, deps, all: runtime.all, shutdown: stop, signal: options.signal });
  await Promise.all([deps.warmed?.(), primeApp(appDeps)]);
  jobs.resume();
  health.phase = "serving";
  log.info(`worker ready: ComfyUI at ${comfy.url}, ${config.CONCURRENCY} job(s) at once`);
  return { url, health, comfy, failed, stop };
}
