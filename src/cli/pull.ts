import { defineCommand } from "citty";
import { EXIT_CODES, WorkerError } from "../errors.ts";
import { waitForSignal } from "../lib/signals.ts";
import { stderr, stdout } from "../lib/stdio.ts";
import { pullWeights } from "../preload/pull.ts";
import { VERIFY_LEVELS, type VerifyLevel } from "../weights/verify.ts";
import { commonArgs, jsonArgs, repeatedFlag } from "./_args.ts";
import { createCommandContext } from "./_context.ts";
import { createPullProgress, formatPullSummary, gatedWithoutToken } from "./_pull-output.ts";

export default defineCommand({
  meta: {
    name: "pull",
    description:
      "Download the weights of kits, manifests and workflows, verified; idempotent, resumable, safe from cron and in parallel",
  },
  args: {
    ...commonArgs,
    ...jsonArgs,
    kit: {
      type: "string",
      description: "a built-in kit (see `kits`) or a manifest YAML path; repeatable",
      valueHint: "K",
    },
    workflow: {
      type: "string",
      description: "a workflow file or http(s) URL (JSON, PNG, WebP): every weight it names a source for; repeatable",
      valueHint: "PATH|URL",
    },
    manifest: { type: "string", description: "a manifest YAML (the kit format); repeatable", valueHint: "FILE" },
    "models-dir": {
      type: "string",
      description: "where downloads go when a folder has no is_default root (env MODELS_DIR)",
      valueHint: "D",
    },
    verify: {
      type: "enum",
      options: [...VERIFY_LEVELS],
      description:
        "how a present file is checked: exists, size, header or sha256 (default: size when known, else exists)",
    },
    "dry-run": {
      type: "boolean",
      description: "list what would be downloaded, with sizes and destinations; fetch nothing",
    },
  },
  async run({ args, rawArgs }) {
    const level = args.verify as VerifyLevel | undefined;
    if (level !== undefined && !VERIFY_LEVELS.includes(level))
      throw new WorkerError("E_USAGE", `--verify must be one of ${VERIFY_LEVELS.join(", ")}`);
    const { config, log } = createCommandContext({ args, flags: { MODELS_DIR: args["models-dir"] } });
    const interrupt = new AbortController();
    void waitForSignal().then(() => interrupt.abort(new WorkerError("E_INTERRUPTED", "interrupted")));
    const dryRun = Boolean(args["dry-run"]);
    const progress = createPullProgress(stderr, stderr.isTTY, dryRun);
    const summary = await pullWeights(
      {
        kits: repeatedFlag(rawArgs, "--kit"),
        workflows: repeatedFlag(rawArgs, "--workflow"),
        manifests: repeatedFlag(rawArgs, "--manifest"),
      },
      { config, log, level, dryRun, onState: progress.onState, onResult: progress.onResult, signal: interrupt.signal },
    ).finally(() => progress.done());
    const warnings = gatedWithoutToken(summary.files, {
      hf: Boolean(config.HF_TOKEN),
      civitai: Boolean(config.CIVITAI_TOKEN),
    });
    for (const warning of warnings) log.warn(warning);
    const out = warnings.length > 0 ? { ...summary, warnings } : summary;
    stdout.write(args.json ? `${JSON.stringify(out, null, 2)}\n` : formatPullSummary(summary, dryRun));
    if (summary.failed > 0) process.exitCode = EXIT_CODES.E_DOWNLOAD;
    else if (!summary.ok) process.exitCode = EXIT_CODES.E_WEIGHTS_MISSING;
  },
});
