import { Hono } from "hono";
import { createComfyClient } from "../comfy/client.ts";
import type { ComfyHandle } from "../comfy/supervisor.ts";
import type { Config } from "../config.ts";
import { WorkerError } from "../errors.ts";
import { windowedFailures } from "../jobs/log-window.ts";
import { runJob } from "../jobs/pipeline.ts";
import type { Logger } from "../log.ts";
import { jobUploader, resolveEnvBucket } from "../runpod/bucket.ts";
import { createRunpodClient } from "../runpod/client.ts";
import { loadTestInput, type OneShotResult, oneShotResult } from "../runpod/one-shot.ts";
import type { JobOutcome } from "../runpod/result.ts";
import { resolveRunpodUrls } from "../runpod/urls.ts";
import type { RunpodWorker, WorkerEnd, WorkerTiming } from "../runpod/worker.ts";
import type { WorkerHealth } from "../server/health.ts";
import { errorResponse } from "../server/http-errors.ts";
import { Metrics } from "../server/metrics.ts";
import { healthRoutes } from "../server/routes/health.ts";
import { bringUp } from "./bring-up.ts";
import { createComfy } from "./comfy.ts";
import { describeBind, type HttpListener, listenHttp } from "./http-listen.ts";
import { createJobDeps } from "./job-deps.ts";
import { createRunpodService } from "./runpod-jobs.ts";
import { createRuntime } from "./runtime.ts";

export interface RunpodWorkerHandle {
  url: string;
  health: WorkerHealth;
  comfy: ComfyHandle;
  worker: RunpodWorker;
  /** Resolves when the loop ends on its own (REFRESH_WORKER; "failed": ComfyUI failed for good, see `worker.failure`) or after `stop()`. */
  finished: Promise<WorkerEnd>;
  /** Stops taking, drains within SHUTDOWN_GRACE_S, reports, then stops HTTP and ComfyUI's process group. */
  stop(): Promise<void>;
}

export interface StartRunpodOptions {
  emulate?: boolean;
  signal?: AbortSignal;
  timing?: Partial<WorkerTiming>;
  /** Tests only: job weight URLs may be plain http to loopback. */
  allowPrivateDownloads?: boolean;
}

const OPEN_PATHS = new Set(["/health", "/ready", "/ping"]);

/** `serve` in RunPod mode: health on PORT first, then ComfyUI and preloads, warmup, then the queue-worker loop (reference §1.19). */
export async function startRunpodWorker(
  config: Config,
  log: Logger,
  options: StartRunpodOptions = {},
): Promise<RunpodWorkerHandle> {
  // §1.2: without RUNPOD_POD_ID the SDK uses a random id; templates and bucket are checked before anything starts
  const urls = resolveRunpodUrls(config, config.RUNPOD_POD_ID ?? crypto.randomUUID());
  for (const warning of urls.warnings) log.warn(warning);
  resolveEnvBucket(config);
  const metrics = new Metrics();
  const runtime = await createRuntime(config, log, {
    ...(options.emulate ? { emulate: true } : {}),
    onFetched: (bytes) => (metrics.bytesDownloaded += bytes),
    allowPrivateDownloads: options.allowPrivateDownloads,
  });
  const { comfy, client: comfyClient, deps, dispose } = runtime;
  const client = createRunpodClient({ urls, apiKey: config.RUNPOD_AI_API_KEY, log: log.child({ tag: "runpod" }) });
  const { worker, store } = createRunpodService({
    config,
    client,
    log: log.child({ tag: "runpod" }),
    metrics,
    timing: options.timing,
    logs: (n) => comfy.logs(n),
    fail: windowedFailures(comfy, config.COMFY_LOG_LINES, config.redactor),
    // no take while ComfyUI restarts; none ever again once it failed for good (the loop then ends "failed")
    // and not before /object_info and the event socket are ready, so the first job waits for neither
    ready: async (signal) => {
      await comfy.waitReady(signal);
      await deps.warmed?.();
    },
    concurrency: () => runtime.concurrency(),
    execute: async (job, run) =>
      deps.coldStart.observe(() =>
        runtime.run(job.input, run.signal, (on) =>
          runJob(
            { ...on, upload: jobUploader(config, job.id, job.s3Config) },
            { id: job.id, input: job.input, ...run },
          ),
        ),
      ),
  });
  const health: WorkerHealth = {
    phase: "starting",
    startedAt: Date.now(),
    comfy,
    jobs: store,
    weights: deps.weights.health,
    coldStart: deps.coldStart,
    instances: () => runtime.instances(),
  };
  const app = _healthApp(health, metrics, log, config.API_TOKEN);
  let http: HttpListener;
  try {
    http = listenHttp(config, { fetch: app.fetch });
  } catch (error) {
    // nothing runs yet, but the emulator's temp folder exists: a refused start leaves nothing behind
    deps.weights.close();
    await dispose();
    throw error;
  }
  const { server, url } = http;
  log.info(`health routes on ${describeBind(http)}; RunPod queue mode (jobs come from RUNPOD_WEBHOOK_GET_JOB)`);
  const shutdown = async () => {
    health.phase = "stopping";
    deps.weights.close();
    await worker.stop();
    await server.stop(true);
    await comfy.stop();
    await dispose();
  };
  // the loop starts only after this, so no job is taken before preloads and warmup are done
  await bringUp({
    config,
    log,
    comfy,
    client: comfyClient,
    health,
    deps,
    all: runtime.all,
    shutdown,
    signal: options.signal,
  });
  health.phase = "serving";
  log.info(`worker ready: ComfyUI at ${comfy.url}, ${config.CONCURRENCY} job(s) at once; taking jobs`);
  return { url, health, comfy, worker, finished: worker.run(), stop: shutdown };
}

/**
 * One-shot test mode (§3.1): start ComfyUI, run one job from `--test-input` (file or JSON) or
 * ./test_input.json, stop. No HTTP and no platform calls. The result says whether to exit 0 or 1.
 */
export async function runOneShot(
  config: Config,
  log: Logger,
  options: { source: string; emulate?: boolean; signal?: AbortSignal },
): Promise<{ result: OneShotResult; ok: boolean }> {
  const job = await loadTestInput(options.source);
  log.info(
    `one-shot test: job ${job.id} from ${options.source.trimStart().startsWith("{") ? "--test-input" : options.source}`,
  );
  const { comfy, dispose, models } = await createComfy(config, log.child({ tag: "comfy" }), options);
  try {
    const fail = windowedFailures(comfy, config.COMFY_LOG_LINES, config.redactor);
    await comfy.start();
    const deps = createJobDeps(config, log, comfy, createComfyClient({ url: comfy.url, log }), models);
    const startedAt = Date.now();
    const signal = options.signal ?? new AbortController().signal;
    let outcome: JobOutcome;
    try {
      const upload = jobUploader(config, job.id, job.s3Config);
      outcome = {
        status: "COMPLETED",
        output: await runJob({ ...deps, upload }, { id: job.id, input: job.input, signal }),
      };
    } catch (error) {
      const failure = fail(error, { startedAt });
      outcome = { status: failure.status, error: failure.error, details: failure.details };
    }
    log.info(
      `one-shot test: job ${job.id} ${outcome.status}${outcome.status === "COMPLETED" ? "" : `: ${outcome.error}`}`,
    );
    return oneShotResult(job.id, outcome, { hostname: config.RUNPOD_POD_HOSTNAME, workerId: config.RUNPOD_POD_ID });
  } finally {
    await comfy.stop();
    await dispose();
  }
}

// only the health routes: in RunPod mode jobs come from the platform, never over this port
function _healthApp(health: WorkerHealth, metrics: Metrics, log: Logger, apiToken?: string) {
  const app = new Hono();
  app.onError((error, c) => errorResponse(error, c, log));
  app.use(async (c, next) => {
    if (apiToken && !OPEN_PATHS.has(c.req.path) && !_tokenMatches(c.req.header("authorization"), apiToken))
      throw new WorkerError("E_AUTH", "this route needs Authorization: Bearer <API_TOKEN>");
    await next();
  });
  app.route("/", healthRoutes(health, metrics));
  return app;
}

function _tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header?.replace(/^Bearer\s+/i, "") ?? "");
  const expected = Buffer.from(token);
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}
