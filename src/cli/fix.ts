import { mkdir } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { defineCommand } from "citty";
import { EXIT_CODES, WorkerError } from "../errors.ts";
import type { FixWeight } from "../fix/fix.ts";
import { runFix } from "../fix/run.ts";
import { formatBytes } from "../lib/bytes.ts";
import { nodeReadline } from "../lib/lazy-modules.ts";
import { writeError } from "../lib/output-files.ts";
import { waitForSignal } from "../lib/signals.ts";
import { stderr, stdout } from "../lib/stdio.ts";
import { commonArgs, jsonArgs, repeatedFlag } from "./_args.ts";
import { createCommandContext } from "./_context.ts";
import { formatFixReport, formatFixWeight } from "./_fix-output.ts";
import { createPullProgress } from "./_pull-output.ts";
import { variadic } from "./_strict-args.ts";

export default defineCommand({
  meta: {
    name: "fix",
    description:
      "Find every model workflows miss, resolve a source for each (workflow metadata, kits, manifests, ComfyUI-Manager's list, Hugging Face, Civitai), download it, and name missing node packs",
  },
  args: {
    ...commonArgs,
    ...jsonArgs,
    path: variadic({
      type: "positional",
      description: "workflow files (API/UI JSON, PNG, WebP) or folders searched recursively",
      required: true,
    }),
    "models-dir": {
      type: "string",
      description: "where downloads go when a folder has no is_default root (env MODELS_DIR)",
      valueHint: "D",
    },
    manifest: {
      type: "string",
      description: "a manifest YAML of known sources (the kit format), asked before public lookups; repeatable",
      valueHint: "F",
    },
    yes: { type: "boolean", description: "download without asking, each file as soon as it is resolved" },
    "dry-run": { type: "boolean", description: "resolve and report; download nothing" },
    report: { type: "string", description: "also write the JSON report to this file", valueHint: "FILE" },
  },
  async run({ args, rawArgs }) {
    const { config, log } = createCommandContext({ args, flags: { MODELS_DIR: args["models-dir"] } });
    const interrupt = new AbortController();
    void waitForSignal().then(() => interrupt.abort(new WorkerError("E_INTERRUPTED", "interrupted")));
    const paths = args._.length > 0 ? args._.map(String) : [String(args.path)];
    const progress = createPullProgress(stderr, stderr.isTTY);
    const tty = Boolean(process.stdin.isTTY && stderr.isTTY);
    const report = await runFix(paths, {
      config,
      log,
      manifests: repeatedFlag(rawArgs, "--manifest"),
      dryRun: Boolean(args["dry-run"]),
      yes: Boolean(args.yes),
      ...(tty ? { confirm: _confirm } : {}),
      onResolved: (weight) => {
        if (!args.json) stderr.write(`${formatFixWeight(weight)}\n`);
      },
      onState: progress.onState,
      onResult: progress.onResult,
      signal: interrupt.signal,
    }).finally(() => progress.done());
    // printed first: a --report the disk refuses must not take the outcome of the downloads with it
    stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : formatFixReport(report));
    if (args.report) await _writeReport(String(args.report), report);
    if (report.summary.failed > 0) process.exitCode = EXIT_CODES.E_DOWNLOAD;
    else if (report.weights.some((w) => w.status !== "downloaded" && w.status !== "would_download"))
      process.exitCode = EXIT_CODES.E_WEIGHTS_MISSING;
  },
});

async function _writeReport(path: string, report: unknown): Promise<void> {
  try {
    await mkdir(dirname(resolve(path)), { recursive: true });
    await Bun.write(path, `${JSON.stringify(report, null, 2)}\n`);
  } catch (error) {
    throw writeError(error, path, "--report (the report is printed above)");
  }
}

// asked once, after every lookup: the files with one trustworthy source and their total size
async function _confirm(files: FixWeight[]): Promise<boolean> {
  const bytes = files.reduce((sum, f) => sum + (f.chosen?.size ?? 0), 0);
  const rl = nodeReadline().createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(
      `Download ${files.length} file(s)${bytes ? ` (${formatBytes(bytes)})` : ""}? [y/N] `,
    );
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
