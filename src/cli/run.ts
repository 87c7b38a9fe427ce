import { mkdir } from "node:fs/promises";
import { basename } from "node:path";
import { defineCommand } from "citty";
import type { Config } from "../config.ts";
import { isWorkerError, WorkerError } from "../errors.ts";
import { PreviewRequest } from "../jobs/previews.ts";
import { type SavedOutput, writeError } from "../lib/output-files.ts";
import { waitForSignal } from "../lib/signals.ts";
import { stdout } from "../lib/stdio.ts";
import { secondsToTimerMs } from "../lib/time.ts";
import type { Logger } from "../log.ts";
import type { GpuPrice } from "../remote/pricing.ts";
import type { RemoteRunResult } from "../remote/remote-run.ts";
import { buildJobInput, runWorkflowOnce } from "../worker/run-once.ts";
import { commonArgs, jsonArgs, repeatedFlag } from "./_args.ts";
import { createCommandContext } from "./_context.ts";
import { type PreviewView, withPreviews } from "./_preview.ts";
import { createProgressRenderer, type ProgressRenderer } from "./_progress.ts";

export default defineCommand({
  meta: {
    name: "run",
    description: "Run a workflow on ComfyUI, the emulator or a RunPod endpoint, show progress and save every output",
  },
  args: {
    ...commonArgs,
    ...jsonArgs,
    workflow: {
      type: "positional",
      description: "workflow file: API or UI JSON, or a PNG/WebP image with an embedded workflow",
      required: true,
    },
    "comfy-url": { type: "string", description: "an already running ComfyUI (env COMFY_URL)", valueHint: "URL" },
    emulate: { type: "boolean", description: "run on the built-in emulator (placeholder outputs, no GPU)" },
    endpoint: {
      type: "string",
      description: "run on a RunPod endpoint: its id (RUNPOD_API_KEY, RUNPOD_ENDPOINT_BASE_URL) or a …/v2/ID URL",
      valueHint: "ID|URL",
    },
    set: {
      type: "string",
      description: "NODE.INPUT=VALUE, repeatable; VALUE may be JSON; @file uploads a file",
      valueHint: "NODE.INPUT=VALUE",
    },
    image: { type: "string", description: "NAME=PATH input file, repeatable", valueHint: "NAME=PATH" },
    out: {
      type: "string",
      description: "where outputs are saved (never overwritten)",
      default: "./output",
      valueHint: "DIR",
    },
    timeout: { type: "string", description: "give up after this many seconds", valueHint: "S" },
    "gpu-price": {
      type: "string",
      description: "with --endpoint: $ per second, for the cost estimate",
      valueHint: "$/S",
    },
    gpu: {
      type: "string",
      description: "with --endpoint: GPU type priced from the built-in table or GPU_PRICES",
      valueHint: "TYPE",
    },
    preview: {
      type: "boolean",
      description: "live previews (also PREVIEWS=on): saved to OUT/<workflow>.preview.jpg, drawn on kitty/iTerm2/sixel",
    },
    "preview-fps": {
      type: "string",
      description: "with --preview: most previews a second (default 2)",
      valueHint: "N",
    },
    "preview-px": {
      type: "string",
      description: "with --preview: longest side of a preview in pixels (default 512)",
      valueHint: "PX",
    },
  },
  async run({ args, rawArgs }) {
    const targets = [args["comfy-url"], args.emulate, args.endpoint].filter(Boolean).length;
    if (targets > 1) throw new WorkerError("E_USAGE", "use one of --comfy-url, --emulate or --endpoint");
    if (!args.endpoint && (args["gpu-price"] || args.gpu))
      throw new WorkerError(
        "E_USAGE",
        "--gpu-price and --gpu estimate a RunPod endpoint's cost: use them with --endpoint",
      );
    const timeoutS = args.timeout === undefined ? undefined : Number(args.timeout);
    if (timeoutS !== undefined && !(timeoutS > 0 && Number.isFinite(timeoutS)))
      throw new WorkerError("E_USAGE", `--timeout must be a positive number of seconds, got "${args.timeout}"`);
    const { config, log } = createCommandContext({ args, flags: { COMFY_URL: args["comfy-url"] } });
    const interrupt = new AbortController();
    void waitForSignal(["SIGINT", "SIGTERM"]).then(() =>
      interrupt.abort(new WorkerError("E_INTERRUPTED", "interrupted")),
    );
    const signal = timeoutS ? AbortSignal.any([interrupt.signal, _timeout(timeoutS)]) : interrupt.signal;
    const preview = _previewRequest(args, config.PREVIEWS === "on");
    const view: View = preview
      ? withPreviews(createProgressRenderer(), { outDir: args.out, workflowPath: args.workflow, env: config.env })
      : createProgressRenderer();
    const flags = { sets: repeatedFlag(rawArgs, "--set"), images: repeatedFlag(rawArgs, "--image") };
    try {
      if (args.endpoint) {
        const { resolveGpuPrice } = await import("../remote/pricing.ts");
        const price = resolveGpuPrice({ gpuPrice: args["gpu-price"], gpu: args.gpu }, config.GPU_PRICES);
        // a paid job must not run only to find --out unusable
        await mkdir(args.out, { recursive: true }).catch((error: unknown) => {
          throw writeError(error, args.out);
        });
        const result = await _remote(config, log, view, {
          ...args,
          endpoint: args.endpoint,
          ...flags,
          price,
          timeoutS,
          signal,
          preview,
        });
        await view.settled?.();
        view.done();
        _printRemote(result, Boolean(args.json), view.path);
        return;
      }
      const { output, saved } = await runWorkflowOnce(config, log, {
        workflowPath: args.workflow,
        ...flags,
        outDir: args.out,
        timeoutS,
        emulate: args.emulate,
        signal: interrupt.signal,
        onProgress: view.progress,
        ...(preview && view.preview ? { preview, onPreview: view.preview } : {}),
      });
      await view.settled?.();
      view.done();
      if (args.json) {
        const { prompt_id, text, timings } = output;
        _json({
          prompt_id,
          saved: _paths(saved),
          renamed: _renamed(saved),
          text,
          errors: output.errors ?? [],
          timings,
          ...(view.path ? { preview: view.path } : {}),
        });
        return;
      }
      _printCommon(saved, output.text, output.errors ?? [], view.path);
      const t = output.timings;
      stdout.write(
        `timings: validate ${t.validate_ms} ms, queue ${t.queue_ms} ms, execution ${t.execution_ms} ms, collect ${t.collect_ms} ms, total ${t.total_ms} ms\n`,
      );
    } catch (error) {
      // a script reading --json learns why, with the job's details (remote ones included), not only the exit code
      if (args.json && isWorkerError(error))
        _json(config.redactor.value({ ok: false, code: error.code, error: error.message, details: error.details }));
      throw error;
    } finally {
      view.done();
    }
  },
});

type View = ProgressRenderer & Partial<Pick<PreviewView, "preview" | "settled" | "path">>;

// --preview, --preview-fps or --preview-px (or PREVIEWS=on) ask for previews; undefined when none do
function _previewRequest(
  args: { preview?: boolean; "preview-fps"?: string; "preview-px"?: string },
  previewsOn: boolean,
): PreviewRequest | undefined {
  const fps = args["preview-fps"];
  const px = args["preview-px"];
  if (!args.preview && !previewsOn && fps === undefined && px === undefined) return undefined;
  const parsed = PreviewRequest.safeParse({
    ...(fps === undefined ? {} : { max_fps: Number(fps) }),
    ...(px === undefined ? {} : { max_px: Number(px) }),
  });
  if (parsed.success) return parsed.data;
  throw new WorkerError(
    "E_USAGE",
    `--preview-fps must be a number from 0.1 to 30 and --preview-px a whole number from 16 to 2048 (got ${fps ?? "-"}, ${px ?? "-"})`,
  );
}

async function _remote(
  config: Config,
  log: Logger,
  view: View,
  run: {
    endpoint: string;
    workflow: string;
    out: string;
    sets: string[];
    images: string[];
    price: GpuPrice | undefined;
    timeoutS: number | undefined;
    signal: AbortSignal;
    preview: PreviewRequest | undefined;
  },
): Promise<RemoteRunResult> {
  // loaded only for --endpoint: a local run never pays for evaluating the remote client's modules
  const [{ endpointClientFromConfig }, { ledgerPath }, { runRemote }] = await Promise.all([
    import("../remote/endpoint.ts"),
    import("../remote/ledger.ts"),
    import("../remote/remote-run.ts"),
  ]);
  const client = endpointClientFromConfig(config, run.endpoint);
  const input = await buildJobInput({ workflowPath: run.workflow, sets: run.sets, images: run.images });
  return runRemote(client, {
    // the worker decides: inline under its OUTPUT_INLINE_MAX_MB, else its bucket (our own run saves inline)
    input: { ...input, output: { include_temp: false }, ...(run.preview ? { preview: run.preview } : {}) },
    workflowName: basename(run.workflow),
    outDir: run.out,
    signal: run.signal,
    view,
    log,
    config,
    price: run.price,
    ledger: ledgerPath(config),
    timeoutMs: run.timeoutS ? run.timeoutS * 1000 : undefined,
  });
}

function _printRemote(result: RemoteRunResult, json: boolean, preview: string | undefined): void {
  if (json) {
    const { job_id, endpoint, status, timings, cold_start, billed_s, cost } = result;
    const { text, errors } = result.output;
    _json({
      job_id,
      endpoint,
      status,
      saved: _paths(result.saved),
      renamed: _renamed(result.saved),
      text,
      errors,
      timings,
      cold_start,
      billed_s,
      cost,
      ...(preview ? { preview } : {}),
    });
    return;
  }
  _printCommon(result.saved, result.output.text, result.output.errors, preview);
  const t = result.timings;
  stdout.write(
    `timings: in queue ${_s(t.delay_ms)}${_coldStart(result.cold_start)}, execution ${_s(t.execution_ms)}, total ${_s(t.total_ms)}\n`,
  );
  const cost = result.cost
    ? ` ≈ $${result.cost.usd.toFixed(4)} (${result.cost.source})`
    : " (pass --gpu-price $/s or --gpu TYPE for a cost estimate)";
  stdout.write(`billed: ${result.billed_s} s${cost}; a cold start and the idle timeout are billed on top\n`);
}

function _printCommon(
  saved: SavedOutput[],
  text: Array<{ node_id: string; text: string }>,
  errors: string[],
  preview: string | undefined,
): void {
  for (const file of saved) {
    const note = file.requested ? ` (${file.requested} exists; saved under the next free name)` : "";
    stdout.write(`saved ${file.path}${note}\n`);
  }
  for (const item of text) stdout.write(`text from node ${item.node_id}: ${item.text}\n`);
  for (const error of errors) stdout.write(`warning: ${error}\n`);
  if (preview) stdout.write(`live preview: ${preview} (the newest preview, not an output)\n`);
}

function _paths(saved: SavedOutput[]): string[] {
  return saved.map((file) => file.path);
}

function _renamed(saved: SavedOutput[]): Array<{ requested: string; path: string }> {
  return saved.flatMap((file) => (file.requested ? [{ requested: file.requested, path: file.path }] : []));
}

function _json(value: unknown): void {
  stdout.write(`${JSON.stringify(value)}\n`);
}

function _coldStart(cold: boolean | null): string {
  if (cold === null) return " (cold start included, if any)";
  return cold ? " (no worker was ready: a cold start included)" : " (a worker was ready: no cold start)";
}

function _s(ms: number | null): string {
  return ms === null ? "?" : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

function _timeout(seconds: number): AbortSignal {
  const controller = new AbortController();
  const error = new WorkerError("E_JOB_TIMEOUT", `the workflow ran past --timeout ${seconds} s`);
  setTimeout(() => controller.abort(error), secondsToTimerMs(seconds)).unref();
  return controller.signal;
}
