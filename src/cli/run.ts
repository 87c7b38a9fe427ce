import { defineCommand } from "citty";
import { WorkerError } from "../errors.ts";
import type { JobProgress } from "../jobs/pipeline.ts";
import { waitForSignal } from "../lib/signals.ts";
import { runWorkflowOnce } from "../worker/run-once.ts";
import { commonArgs, jsonArgs, repeatedFlag } from "./_args.ts";
import { createCommandContext } from "./_context.ts";

export default defineCommand({
  meta: {
    name: "run",
    description: "Run a workflow on ComfyUI (or the emulator), show progress and save every output",
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
    set: {
      type: "string",
      description: "NODE.INPUT=VALUE, repeatable; VALUE may be JSON; @file uploads a file",
      valueHint: "NODE.INPUT=VALUE",
    },
    image: { type: "string", description: "NAME=PATH input file, repeatable", valueHint: "NAME=PATH" },
    out: { type: "string", description: "where outputs are saved", default: "./output", valueHint: "DIR" },
    timeout: { type: "string", description: "give up after this many seconds", valueHint: "S" },
  },
  async run({ args, rawArgs }) {
    if (args["comfy-url"] && args.emulate) throw new WorkerError("E_USAGE", "use --comfy-url or --emulate, not both");
    const timeoutS = args.timeout === undefined ? undefined : Number(args.timeout);
    if (timeoutS !== undefined && !(timeoutS > 0))
      throw new WorkerError("E_USAGE", `--timeout must be a positive number of seconds, got "${args.timeout}"`);
    const { config, log } = createCommandContext({ args, flags: { COMFY_URL: args["comfy-url"] } });
    const interrupt = new AbortController();
    void waitForSignal().then(() => interrupt.abort(new WorkerError("E_INTERRUPTED", "interrupted")));
    const progress = _progressPrinter(Boolean(process.stderr.isTTY));
    const { output, saved } = await runWorkflowOnce(config, log, {
      workflowPath: args.workflow,
      sets: repeatedFlag(rawArgs, "--set"),
      images: repeatedFlag(rawArgs, "--image"),
      outDir: args.out,
      timeoutS,
      emulate: args.emulate,
      signal: interrupt.signal,
      onProgress: progress,
    });
    progress.done();
    if (args.json) {
      process.stdout.write(
        `${JSON.stringify({ prompt_id: output.prompt_id, saved, text: output.text, errors: output.errors ?? [], timings: output.timings })}\n`,
      );
      return;
    }
    for (const path of saved) process.stdout.write(`saved ${path}\n`);
    for (const text of output.text) process.stdout.write(`text from node ${text.node_id}: ${text.text}\n`);
    for (const error of output.errors ?? []) process.stdout.write(`warning: ${error}\n`);
    const t = output.timings;
    process.stdout.write(
      `timings: validate ${t.validate_ms} ms, queue ${t.queue_ms} ms, execution ${t.execution_ms} ms, collect ${t.collect_ms} ms, total ${t.total_ms} ms\n`,
    );
  },
});

function _progressPrinter(tty: boolean) {
  let shown = false;
  const print = (p: JobProgress) => {
    if (tty) {
      process.stderr.write(`\r\x1b[2Knode ${p.node}: ${p.value}/${p.max} (${p.percent}%)`);
      shown = true;
    } else process.stderr.write(`${JSON.stringify({ event: "progress", ...p })}\n`);
  };
  return Object.assign(print, {
    done: () => {
      if (shown) process.stderr.write("\n");
    },
  });
}
