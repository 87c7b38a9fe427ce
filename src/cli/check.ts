import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { defineCommand } from "citty";
import { createComfyClient } from "../comfy/client.ts";
import { coreObjectInfo, type ObjectInfo } from "../comfy/object-info.ts";
import type { Config } from "../config.ts";
import { EXIT_CODES, WorkerError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { checkWorkflowFiles } from "../weights/check.ts";
import { createModelIndex } from "../weights/model-index.ts";
import { loadModelRoots } from "../weights/roots.ts";
import { VERIFY_LEVELS, type VerifyLevel } from "../weights/verify.ts";
import { commonArgs, jsonArgs } from "./_args.ts";
import { formatCheckReport } from "./_check-table.ts";
import { createCommandContext } from "./_context.ts";

export default defineCommand({
  meta: {
    name: "check",
    description: "Show what weights and input files workflows need, which are present and which are missing",
  },
  args: {
    ...commonArgs,
    ...jsonArgs,
    workflow: {
      type: "positional",
      description: "workflow files: API or UI JSON, or PNG/WebP with an embedded workflow",
      required: true,
    },
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
  },
  async run({ args, rawArgs }) {
    const files = args._.length > 0 ? args._.map(String) : [args.workflow];
    const extra = _repeated(rawArgs, "--extra-model-paths");
    const { config, log } = createCommandContext({
      args,
      flags: { MODELS_DIR: args["models-dir"], EXTRA_MODEL_PATHS: extra.length > 0 ? extra.join(",") : undefined },
    });
    const level = args.verify as VerifyLevel;
    if (!VERIFY_LEVELS.includes(level))
      throw new WorkerError("E_USAGE", `--verify must be one of ${VERIFY_LEVELS.join(", ")}`);
    const roots = await loadModelRoots({
      baseDir: config.COMFY_DIR,
      comfyDir: config.COMFY_DIR,
      extraConfigs: config.EXTRA_MODEL_PATHS ?? [],
      modelsDirs: config.MODELS_DIR ? [config.MODELS_DIR] : [],
      env: config.env,
    });
    const { info, live } = await _objectInfo(config, log);
    const base = resolve(config.COMFY_DIR);
    const report = await checkWorkflowFiles(files, {
      index: createModelIndex(roots),
      objectInfo: info,
      live,
      level,
      dirs: { input: join(base, "input"), output: join(base, "output"), temp: join(base, "temp") },
      hash: { cacheDir: join(tmpdir(), "comfy-worker-sha256") },
    });
    process.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : formatCheckReport(report));
    if (!report.ok) process.exitCode = EXIT_CODES.E_WEIGHTS_MISSING;
  },
});

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

/** citty keeps only the last value of a repeated flag, so collect them from the raw arguments. */
function _repeated(rawArgs: string[], flag: string): string[] {
  const values: string[] = [];
  rawArgs.forEach((arg, i) => {
    if (arg === flag && rawArgs[i + 1] !== undefined) values.push(rawArgs[i + 1] as string);
    else if (arg.startsWith(`${flag}=`)) values.push(arg.slice(flag.length + 1));
  });
  return values;
}
