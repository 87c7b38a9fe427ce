import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { defineCommand } from "citty";
import { createComfyClient } from "../comfy/client.ts";
import { CORE_OBJECT_INFO_VERSION, coreObjectInfo, type ObjectInfo } from "../comfy/object-info.ts";
import type { Config } from "../config.ts";
import { EXIT_CODES, WorkerError } from "../errors.ts";
import { waitForSignal } from "../lib/signals.ts";
import { stderr, stdout } from "../lib/stdio.ts";
import type { Logger } from "../log.ts";
import { type CheckDownloadOptions, downloadMissing } from "../preload/check-download.ts";
import { loadKitSources } from "../preload/job-download.ts";
import { cliModelRoots } from "../preload/pull.ts";
import { type CheckReport, checkWorkflowFiles } from "../weights/check.ts";
import { createModelIndex } from "../weights/model-index.ts";
import { VERIFY_LEVELS, type VerifyLevel } from "../weights/verify.ts";
import { weightKey } from "../weights/weight-state.ts";
import { commonArgs, jsonArgs, repeatedFlag } from "./_args.ts";
import { formatCheckReport } from "./_check-table.ts";
import { createCommandContext } from "./_context.ts";
import { createPullProgress } from "./_pull-output.ts";
import { variadic } from "./_strict-args.ts";
import { runVolumeCheck, volumeCheckArgs, wantsVolumeCheck } from "./_volume-check.ts";

export default defineCommand({
  meta: {
    name: "check",
    description: "Show what weights and input files workflows need, which are present and which are missing",
  },
  args: {
    ...commonArgs,
    ...jsonArgs,
    workflow: variadic({
      type: "positional",
      description: "one or more workflow files: API or UI JSON, or PNG/WebP images with an embedded workflow",
      required: true,
    }),
    "models-dir": {
      type: "string",
      description: "a models root laid out like ComfyUI's models/ (env MODELS_DIR)",
      valueHint: "D",
    },
    "extra-model-paths": {
      type: "string",
      description: "extra_model_paths.yaml, repeatable or comma-separated (env EXTRA_MODEL_PATHS)",
      valueHint: "Y",
    },
    verify: {
      type: "enum",
      options: [...VERIFY_LEVELS],
      description: "exists, size, header (safetensors structure) or sha256 (cached in <file>.sha256.json)",
      default: "exists",
    },
    download: {
      type: "boolean",
      description: "download every missing weight with a known source (as `pull` does), then check again",
    },
    ...volumeCheckArgs,
  },
  async run({ args, rawArgs }) {
    const files = args._.length > 0 ? args._.map(String) : [args.workflow];
    const extra = repeatedFlag(rawArgs, "--extra-model-paths");
    const { config, log } = createCommandContext({
      args,
      flags: { MODELS_DIR: args["models-dir"], EXTRA_MODEL_PATHS: extra.length > 0 ? extra.join(",") : undefined },
    });
    const level = args.verify as VerifyLevel;
    if (!VERIFY_LEVELS.includes(level))
      throw new WorkerError("E_USAGE", `--verify must be one of ${VERIFY_LEVELS.join(", ")}`);
    if (wantsVolumeCheck(args)) return runVolumeCheck(files, args, config);
    const roots = await cliModelRoots(config);
    const { info, live } = await _objectInfo(config, log);
    if (!live)
      log.info(
        `node types: built-in list of ComfyUI ${CORE_OBJECT_INFO_VERSION} core nodes (COMFY_URL adds custom nodes)`,
      );
    const base = resolve(config.COMFY_DIR);
    const index = createModelIndex(roots);
    // a present file is held to its kit's size and hash when the check looks at sizes or content
    const kits = level === "exists" ? undefined : await loadKitSources([]);
    const check = () =>
      checkWorkflowFiles(files, {
        index,
        objectInfo: info,
        live,
        level,
        dirs: { input: join(base, "input"), output: join(base, "output"), temp: join(base, "temp") },
        hash: { cacheDir: join(tmpdir(), "comfy-worker-sha256") },
        ...(kits ? { expected: (folder, name) => kits.get(weightKey({ folder, name })) } : {}),
      });
    let report = await withKitSources(await check());
    const downloads = args.download ? await _download(report, { config, log, roots, index }) : undefined;
    if (downloads?.length) report = await withKitSources(await check());
    const out = downloads ? { ...report, downloads } : report;
    stdout.write(args.json ? `${JSON.stringify(out, null, 2)}\n` : formatCheckReport(report));
    if (downloads?.some((d) => d.outcome === "failed")) process.exitCode = EXIT_CODES.E_DOWNLOAD;
    else if (!report.ok) process.exitCode = EXIT_CODES.E_WEIGHTS_MISSING;
  },
});

async function _download(report: CheckReport, options: Omit<CheckDownloadOptions, "onState" | "onResult">) {
  const interrupt = new AbortController();
  void waitForSignal().then(() => interrupt.abort(new WorkerError("E_INTERRUPTED", "interrupted")));
  const progress = createPullProgress(stderr, stderr.isTTY);
  return downloadMissing(report, { ...options, ...progress, signal: interrupt.signal }).finally(() => progress.done());
}

// a running ComfyUI (COMFY_URL) knows custom nodes and their file pickers; offline, the bundled core set
async function _objectInfo(config: Config, log: Logger): Promise<{ info: ObjectInfo; live: boolean }> {
  if (!config.COMFY_URL) return { info: coreObjectInfo(), live: false };
  try {
    const info = await createComfyClient({ url: config.COMFY_URL, log, timeoutMs: 10_000 }).objectInfo();
    return { info, live: true };
  } catch (error) {
    log.warn(
      `COMFY_URL ${config.COMFY_URL} did not answer /object_info (${(error as Error).message}); using the bundled core node list`,
    );
    return { info: coreObjectInfo(), live: false };
  }
}

/** A missing weight without a source of its own gets the built-in kit's (the known source the README promises). */
export async function withKitSources(report: CheckReport): Promise<CheckReport> {
  const needs = report.workflows.some((w) => w.weights.some((x) => x.status !== "present" && !x.source));
  if (!needs) return report;
  const kits = await loadKitSources([]);
  const workflows = report.workflows.map((workflow) => ({
    ...workflow,
    weights: workflow.weights.map((weight) => {
      const kit = weight.status === "present" || weight.source ? undefined : kits.get(weightKey(weight));
      return kit ? { ...weight, source: { url: kit.url, ...(kit.sha256 ? { sha256: kit.sha256 } : {}) } } : weight;
    }),
  }));
  return { ...report, workflows };
}
