#!/usr/bin/env bun
// Entry point of the compiled binary: run one command line and exit with its code.
import type { $ZodMemoizer } from "zod/v4/core";
import { runCli } from "./cli/run-cli.ts";
import { flushStdio } from "./lib/stdio.ts";

// zod compiles a parser for each object schema the first time it parses with it. A one-shot command parses most
// schemas once, so compiling costs it more than it saves (about 2 ms of `run`); serve, emulate and proxy keep it.
const ONE_SHOT = new Set(["run", "runs", "check", "convert", "kits", "pull", "sync", "fix"]);

// zod 4.6 walks each container schema on its first parse so it can parse input holding reference cycles; the
// walks cost a one-shot `run` about 7 ms. Our input never reaches a recursive schema with a cycle: JSON has none,
// and YAML (whose aliases can point at an ancestor) is only read by schemas of fixed depth, which stop at the
// first value of the wrong type. Set before any schema is built, since zod reads it at construction.
const NO_CYCLES: $ZodMemoizer = { attach() {}, guard() {}, alloc: (_inst, _payload, empty) => empty };

async function main(argv: string[]): Promise<number> {
  const zod = await import("zod");
  zod.config({ memoizer: NO_CYCLES, ...(ONE_SHOT.has(argv[0] ?? "") ? { jitless: true } : {}) });
  return runCli(argv);
}

// no top-level await: --bytecode builds are CommonJS
void main(process.argv.slice(2)).then(async (code) => {
  // long-running commands (serve, emulate) resolve only after their shutdown, so exiting here is safe; what a
  // full pipe still holds of the output is written first
  await flushStdio();
  process.exit(code);
});
