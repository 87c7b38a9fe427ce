import { resolve } from "node:path";
import { defineCommand } from "citty";
import { EXIT_CODES, WorkerError } from "../errors.ts";
import { waitForSignal } from "../lib/signals.ts";
import { stderr, stdout } from "../lib/stdio.ts";
import { checkGlob } from "../sync/local.ts";
import { normalizePrefix } from "../sync/plan.ts";
import { defaultStateDir } from "../sync/state.ts";
import { syncVolumes } from "../sync/sync.ts";
import { resolveTargets } from "../sync/targets.ts";
import { MAX_PART_BYTES } from "../sync/upload.ts";
import { commonArgs, jsonArgs, repeatedFlag } from "./_args.ts";
import { createCommandContext } from "./_context.ts";
import { createSyncOutput, formatSyncSummary } from "./_sync-output.ts";

// 476 MiB is the largest whole MiB under RunPod's 500 MB part limit
const MAX_PART_MIB = Math.floor(MAX_PART_BYTES / 2 ** 20);

export default defineCommand({
  meta: {
    name: "sync",
    description:
      "Upload a local models folder to RunPod network volumes through their S3 API: incremental (size + sha256), multipart, resumable, verified",
  },
  args: {
    ...commonArgs,
    ...jsonArgs,
    dir: {
      type: "positional",
      description: "the local models folder (laid out like ComfyUI's models/)",
      required: true,
    },
    volume: { type: "string", description: "network volume id (the S3 bucket)", valueHint: "ID" },
    datacenter: {
      type: "string",
      description: "the volume's datacenter, e.g. EU-RO-1 (picks https://s3api-<dc>.runpod.io/)",
      valueHint: "DC",
    },
    endpoint: {
      type: "string",
      description: "a RunPod endpoint id: sync to every network volume it uses (needs RUNPOD_API_KEY)",
      valueHint: "ID",
    },
    "endpoint-url": {
      type: "string",
      description: "any other S3-compatible server instead of RunPod's (then --volume is the bucket)",
      valueHint: "URL",
    },
    prefix: {
      type: "string",
      description: "key prefix on the volume; the worker image maps /runpod-volume/models",
      default: "models/",
      valueHint: "P",
    },
    include: {
      type: "string",
      description: "only paths matching this glob (relative to the folder); repeatable",
      valueHint: "GLOB",
    },
    exclude: { type: "string", description: "skip paths matching this glob; repeatable", valueHint: "GLOB" },
    "dry-run": {
      type: "boolean",
      description: "print the plan (new, changed, unchanged, to delete, bytes to send); send nothing",
    },
    "part-size": {
      type: "string",
      description: "multipart part size in MiB, 1–476 (RunPod's limit is 500 MB; AWS needs ≥ 5)",
      default: "64",
      valueHint: "MIB",
    },
    delete: {
      type: "boolean",
      description: "delete remote files under the prefix that are not in the local folder (within --include/--exclude)",
    },
  },
  async run({ args, rawArgs }) {
    const { config, log } = createCommandContext({ args });
    const partMib = Number(args["part-size"] ?? 64);
    if (!Number.isInteger(partMib) || partMib < 1 || partMib > MAX_PART_MIB)
      throw new WorkerError(
        "E_USAGE",
        `--part-size must be a whole number of MiB from 1 to ${MAX_PART_MIB}, got ${args["part-size"]}`,
      );
    // the command line is checked before anything is asked of RunPod
    const prefix = String(args.prefix ?? "models/");
    normalizePrefix(prefix);
    const filter = { include: repeatedFlag(rawArgs, "--include"), exclude: repeatedFlag(rawArgs, "--exclude") };
    for (const glob of filter.include) checkGlob(glob, "--include");
    for (const glob of filter.exclude) checkGlob(glob, "--exclude");
    const interrupt = new AbortController();
    void waitForSignal().then(() => interrupt.abort(new WorkerError("E_INTERRUPTED", "interrupted")));
    const targets = await resolveTargets(
      { volume: args.volume, datacenter: args.datacenter, endpoint: args.endpoint, endpointUrl: args["endpoint-url"] },
      config,
      interrupt.signal,
    );
    const output = createSyncOutput(stderr, stderr.isTTY);
    const dryRun = Boolean(args["dry-run"]);
    const started = performance.now();
    const reports = await syncVolumes(targets, {
      dir: resolve(String(args.dir)),
      prefix,
      filter,
      dryRun,
      delete: Boolean(args.delete),
      partBytes: partMib * 2 ** 20,
      stateDir: defaultStateDir(config.env),
      signal: interrupt.signal,
      log,
      onPlan: output.onPlan,
      onProgress: output.onProgress,
      onResult: output.onResult,
    }).finally(() => output.done());
    const seconds = Math.round((performance.now() - started) / 100) / 10;
    const failed = reports.reduce((sum, r) => sum + r.failed, 0);
    stdout.write(
      args.json
        ? `${JSON.stringify({ ok: failed === 0, dry_run: dryRun, seconds, volumes: reports }, null, 2)}\n`
        : formatSyncSummary(reports, dryRun, seconds),
    );
    if (failed > 0) process.exitCode = EXIT_CODES.E_DOWNLOAD;
  },
});
