#!/usr/bin/env bun
// Entry point of the compiled binary: run one command line and exit with its code.
import { runCli } from "./cli/run-cli.ts";

// zod compiles a parser for each object schema the first time it parses with it. A one-shot command parses most
// schemas once, so compiling costs it more than it saves (about 2 ms of `run`); serve, emulate and proxy keep it.
const ONE_SHOT = new Set(["run", "runs", "check", "convert", "kits", "pull", "sync", "fix"]);

async function main(argv: string[]): Promise<number> {
  if (ONE_SHOT.has(argv[0] ?? "")) (await import("zod")).config({ jitless: true });
  return runCli(argv);
}

// no top-level await: --bytecode builds are CommonJS
void main(process.argv.slice(2)).then((code) => {
  // long-running commands (serve, emulate) resolve only after their shutdown, so exiting here is safe
  process.exit(code);
});
