import { type ComfyClient, createComfyClient } from "../comfy/client.ts";
import { comfyFileDirs } from "../comfy/file-dirs.ts";
import type { ComfyHandle } from "../comfy/supervisor.ts";
import type { Config } from "../config.ts";
import { windowedFailures } from "../jobs/log-window.ts";
import { type JobDeps, runJob } from "../jobs/pipeline.ts";
import { primeJobPath } from "../jobs/prime.ts";
import { secondsToTimerMs } from "../lib/time.ts";
import type { Logger } from "../log.ts";
import { jobUploader, resolveEnvBucket } from "../runpod/bucket.ts";
import { createApp, SERVER_MAX_REQUEST_BODY } from "../server/app.ts";
import type { WorkerHealth } from "../server/health.ts";
import { JobStore } from "../server/job-store.ts";
import { Metrics } from "../server/metrics.ts";
import { ResultFiles } from "../server/result-files.ts";
import { sendWebhook } from "../server/webhook.ts";
import type { ComfyModels } from "../weights/serve-weights.ts";
import { bringUp } from "./bring-up.ts";
import { ColdStart } from "./cold-start.ts";
import { createComfy, failedFor } from "./comfy.ts";
import { describeBind, type HttpListener, listenHttp } from "./http-listen.ts";
import { createWorkerWeights, type WorkerWeights } from "./weights.ts";

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

/** Extras for createJobDeps beyond the config. */
export interface JobDepsOptions {
  /** Bytes fetched by weight downloads (/metrics). */
  onFetched?: (bytes: number) => void;
  /** Tests only: job weight URLs may be plain http to loopback. */
  allowPrivateDownloads?: boolean | undefined;
}

/**
 * The job pipeline's dependencies for one ComfyUI; /object_info is fetched once per ComfyUI (re)start.
 * With `models` (where that ComfyUI keeps its weights) jobs are checked per WEIGHTS_MODE; `weights` is
 * the /health state that check keeps current, plus preloads and the transfers behind both.
 */
export function createJobDeps(
  config: Config,
  log: Logger,
  comfy: ComfyHandle,
  client: ComfyClient,
  models?: ComfyModels,
  options: JobDepsOptions = {},
): JobDeps & { weights: WorkerWeights; coldStart: ColdStart } {
  let cached: { generation: number; info: Promise<Awaited<ReturnType<ComfyClient["objectInfo"]>>> } | undefined;
  const objectInfo = () => {
    if (!cached || cached.generation !== comfy.generation) {
      const info = client.objectInfo();
      cached = { generation: comfy.generation, info };
      info.catch(() => (cached = undefined));
    }
    return cached.info;
  };
  primeJobPath();
  const warmed = warmComfy(comfy, client, objectInfo);
  // ComfyUI, our child, expands $VARS in extra_model_paths.yaml from the environment it inherits from us
  let coldStart: ColdStart | undefined;
  const onPresent = (used: readonly { folder: string; name: string }[]) => coldStart?.recordUsage(used);
  const weights = createWorkerWeights({ config, log, client, models, objectInfo, onPresent, ...options });
  coldStart = new ColdStart({ config, log, local: weights.local });
  coldStart.follow(comfy);
  const checkWeights = weights.check;
  const check = checkWeights ? { checkWeights } : {};
  // a supervised ComfyUI (or the emulator) writes where we can read; an attached one is only reached over HTTP
  const localFiles = models?.baseDir ? comfyFileDirs(config, models.baseDir, models.comfyDir) : undefined;
  const files = localFiles ? { localFiles } : {};
  return { client, comfy, config, log, objectInfo, warmed, ...files, ...check, weights, coldStart };
}

/**
 * Whenever ComfyUI turns ready, fetch /object_info and open the event socket, so no job waits for either;
 * the socket is closed once ComfyUI is stopped for good.
 */
function warmComfy(comfy: ComfyHandle, client: ComfyClient, objectInfo: () => Promise<unknown>): () => Promise<void> {
  let current = Promise.resolve();
  const warm = () => {
    const info = objectInfo().catch(() => {});
    current = Promise.all([info, client.events.opened(WARM_SOCKET_WAIT_MS)]).then(() => {});
  };
  if (comfy.state === "ready") warm();
  comfy.onState((state) => {
    if (state === "ready") warm();
    if (state === "stopped") client.close();
  });
  return () => current;
}

// jobs wait at most this for the socket at start; a socket not open by then keeps reconnecting on its own
const WARM_SOCKET_WAIT_MS = 10_000;

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
  const { comfy, dispose, models } = await createComfy(config, log.child({ tag: "comfy" }), options);
  const client = createComfyClient({ url: comfy.url, log });
  const metrics = new Metrics();
  const deps = createJobDeps(config, log, comfy, client, models, {
    onFetched: (bytes) => (metrics.bytesDownloaded += bytes),
    allowPrivateDownloads: options.allowPrivateDownloads,
  });
  const jobs: JobStore = new JobStore({
    concurrency: config.CONCURRENCY,
    resultTtlMs: secondsToTimerMs(config.RESULT_TTL_S),
    timeoutMs: secondsToTimerMs(config.JOB_TIMEOUT_S),
    workerId: config.RUNPOD_POD_ID,
    // jobs sent while starting wait until preloads and warmup are done
    paused: true,
    // large outputs wait on disk, not in the heap, until fetched or expired
    files: new ResultFiles(),
    execute: (job, execution) =>
      deps.coldStart.observe(() =>
        runJob(
          { ...deps, upload: jobUploader(config, job.id, job.request.s3Config) },
          {
            id: job.id,
            input: job.request.input,
            signal: execution.signal,
            onProgress: execution.onProgress,
            onPreview: execution.onPreview,
          },
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
  };
  const app = createApp({
    health,
    metrics,
    log: log.child({ tag: "http" }),
    apiToken: config.API_TOKEN,
    maxBodyBytes: config.MAX_BODY_MB * 1_048_576,
    urlGuard: { privateAllowed: config.PRIVATE_HOSTS_ALLOWED },
  });
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
  await bringUp({ config, log, comfy, client, health, deps, shutdown: stop, signal: options.signal });
  await deps.warmed?.();
  jobs.resume();
  health.phase = "serving";
  log.info(`worker ready: ComfyUI at ${comfy.url}, ${config.CONCURRENCY} job(s) at once`);
  return { url, health, comfy, failed, stop };
}
