#!/usr/bin/env bun
// Entry point of the compiled binary: run one command line and exit with its code.
import { runCli } from "./cli/run-cli.ts";

// no top-level await: --bytecode builds are CommonJS
void runCli(process.argv.slice(2)).then((code) => {
  // long-running commands (serve, emulate) resolve only after their shutdown, so exiting here is safe
  process.exit(code);
});
