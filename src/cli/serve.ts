import { defineCommand } from "citty";
import type { Config } from "../config.ts";
import { WorkerError } from "../errors.ts";
import { waitForSignal } from "../lib/signals.ts";
import type { Logger } from "../log.ts";
import { findTestInput, TEST_INPUT_FILE } from "../runpod/one-shot.ts";
import { startWorker } from "../worker/start.ts";
import { runOneShot, startRunpodWorker } from "../worker/start-runpod.ts";
import { commonArgs } from "./_args.ts";
import { createCommandContext } from "./_context.ts";

export default defineCommand({
  meta: {
    name: "serve",
    description:
      "Start ComfyUI (or attach with COMFY_URL), wait until ready, then take jobs from RunPod's queue or serve a RunPod-compatible HTTP API",
  },
  args: {
    ...commonArgs,
    emulate: {
      type: "boolean",
      description: "supervise the built-in ComfyUI emulator instead of ComfyUI (placeholder outputs)",
    },
    mode: {
      type: "enum",
      options: ["runpod", "api", "auto"],
      description:
        "runpod: RunPod queue worker; api: HTTP API; auto: runpod when RUNPOD_WEBHOOK_GET_JOB is set (env SERVE_MODE)",
    },
    port: { type: "string", description: "HTTP port (env PORT, default 8000)", valueHint: "N" },
    "test-input": {
      type: "string",
      description: `run one job from this JSON file (or JSON text), print its result, exit 0 or 1; --mode runpod without RUNPOD_WEBHOOK_GET_JOB reads ./${TEST_INPUT_FILE}`,
      valueHint: "FILE",
    },
  },
  async run({ args }) {
    const context = (stream: "stdout" | "stderr") =>
      createCommandContext({ args, flags: { PORT: args.port, SERVE_MODE: args.mode }, stream });
    // the result goes to stdout, so a one-shot run logs to stderr
    if (args["test-input"] !== undefined) return _oneShot(context("stderr"), args["test-input"], args.emulate);
    const { config, log } = context("stdout");
    const runpod = config.SERVE_MODE === "runpod" || (config.SERVE_MODE === "auto" && config.RUNPOD_WEBHOOK_GET_JOB);
    if (runpod && !config.RUNPOD_WEBHOOK_GET_JOB) {
      // like the SDK (§3.1): no job URL means a local test run of ./test_input.json
      const file = findTestInput();
      if (file) return _oneShot(context("stderr"), file, args.emulate);
      throw new WorkerError(
        "E_CONFIG",
        `--mode runpod needs RUNPOD_WEBHOOK_GET_JOB (RunPod sets it); for a local test put a ${TEST_INPUT_FILE} here or pass --test-input FILE`,
      );
    }
    if (runpod) await _serveRunpod(config, log, args.emulate);
    else await _serveApi(config, log, args.emulate);
  },
});

async function _oneShot(context: { config: Config; log: Logger }, source: string, emulate?: boolean): Promise<void> {
  const interrupt = new AbortController();
  void waitForSignal().then(() => interrupt.abort(new WorkerError("E_INTERRUPTED", "interrupted")));
  const { result, ok } = await runOneShot(context.config, context.log, { source, emulate, signal: interrupt.signal });
  // main.ts exits right after: wait until a piped stdout has taken the whole (often multi-MB) result
  await new Promise<void>((resolve) => process.stdout.write(`${JSON.stringify(result, null, 2)}\n`, () => resolve()));
  // the SDK's contract for CI smoke tests: 1 when the job failed, whatever the reason (§3.1)
  process.exitCode = ok ? 0 : 1;
}

async function _serveRunpod(config: Config, log: Logger, emulate?: boolean): Promise<void> {
  const shutdown = new AbortController();
  const signaled = waitForSignal().then((signal) => {
    shutdown.abort();
    return signal;
  });
  const worker = await startRunpodWorker(config, log, { emulate, signal: shutdown.signal }).catch((error) => {
    if (!shutdown.signal.aborted) throw error;
  });
  if (!worker) {
    log.info("stopped by a signal while starting");
    return;
  }
  const end = await Promise.race([signaled, worker.finished]);
  if (end === "refresh")
    log.info("REFRESH_WORKER: the job is reported with stopPod; exiting so RunPod replaces this worker");
  else if (end === "failed") log.error("ComfyUI failed for good: exiting (code 6) so RunPod replaces this worker");
  else log.info(`${end}: taking no more jobs; finishing running ones within ${config.SHUTDOWN_GRACE_S} s`);
  await worker.stop();
  log.info("stopped");
  if (end === "failed") throw worker.worker.failure;
}

async function _serveApi(config: Config, log: Logger, emulate?: boolean): Promise<void> {
  const shutdown = new AbortController();
  const signaled = waitForSignal().then((signal) => {
    shutdown.abort();
    return signal;
  });
  const worker = await startWorker(config, log, { emulate, signal: shutdown.signal }).catch((error) => {
    if (!shutdown.signal.aborted) throw error;
  });
  if (!worker) {
    log.info("stopped by a signal while starting");
    return;
  }
  const failed = worker.failed.then((error) => ({ error }));
  const end = await Promise.race([signaled, failed]);
  if (typeof end === "object")
    log.error(`ComfyUI failed for good ${config.FAILED_EXIT_GRACE_S} s ago: exiting (code 6) so it gets replaced`);
  else log.info(`${end}: no new jobs; finishing running ones within ${config.SHUTDOWN_GRACE_S} s`);
  await worker.stop();
  log.info("stopped");
  if (typeof end === "object") throw end.error;
}
