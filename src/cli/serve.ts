import { defineCommand } from "citty";
import { WorkerError } from "../errors.ts";
import { waitForSignal } from "../lib/signals.ts";
import { startWorker } from "../worker/start.ts";
import { commonArgs } from "./_args.ts";
import { createCommandContext } from "./_context.ts";

export default defineCommand({
  meta: {
    name: "serve",
    description:
      "Start ComfyUI (or attach with COMFY_URL), wait until ready, then serve jobs over a RunPod-compatible HTTP API",
  },
  args: {
    ...commonArgs,
    emulate: {
      type: "boolean",
      description: "supervise the built-in ComfyUI emulator instead of ComfyUI (placeholder outputs)",
    },
    mode: { type: "enum", options: ["api", "auto"], description: "api: RunPod-compatible HTTP API (env SERVE_MODE)" },
    port: { type: "string", description: "HTTP port (env PORT, default 8000)", valueHint: "N" },
  },
  async run({ args }) {
    const { config, log } = createCommandContext({
      args,
      flags: { PORT: args.port, SERVE_MODE: args.mode },
      stream: "stdout",
    });
    if (config.SERVE_MODE === "runpod" || (config.SERVE_MODE === "auto" && config.RUNPOD_WEBHOOK_GET_JOB)) {
      throw new WorkerError(
        "E_CONFIG",
        "this build serves the HTTP API only (SERVE_MODE=api); RunPod's queue protocol is not part of it, so unset RUNPOD_WEBHOOK_GET_JOB or use a build that has it",
      );
    }
    const shutdown = new AbortController();
    const signaled = waitForSignal().then((signal) => {
      shutdown.abort();
      return signal;
    });
    const worker = await startWorker(config, log, { emulate: args.emulate, signal: shutdown.signal }).catch((error) => {
      if (!shutdown.signal.aborted) throw error;
    });
    if (!worker) {
      log.info("stopped by a signal while starting");
      return;
    }
    const signal = await signaled;
    log.info(`${signal}: no new jobs; finishing running ones within ${config.SHUTDOWN_GRACE_S} s`);
    await worker.stop();
    log.info("stopped");
  },
});
